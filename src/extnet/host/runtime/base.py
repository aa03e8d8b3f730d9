"""What a runtime is: the part of the agent that plugs vNICs and runs VMs (noop, netns, libvirt).

Every operation is idempotent: plugging a plugged vNIC, unplugging an unplugged one, destroying a VM that is not
there, all succeed without changing anything, so the engine can always retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from extnet.common.vif import Vif


class RuntimeUnavailable(Exception):
    """The runtime cannot run on this host (not built yet, or missing what it needs)."""


class RuntimeFailure(Exception):
    """An operation failed on the host; the message says what and what to do."""


class VmMissing(Exception):
    """The VM is not on this host."""


@dataclass(frozen=True)
class RuntimeFacts:
    """What the runtime finds on the host: the binding host id per plugin type, and the bridges present."""

    binding_host_ids: dict[str, str]
    bridges: list[str]
    datapath_type: str
    vif_types: list[str]  # binding:vif_type values it can plug
    vif_kinds: list[str] = field(default_factory=list)  # the kinds of plugging (extnet.common.vif.KINDS) it can do


def same_plumbing(old: Vif, new: Vif) -> bool:
    """Whether ``new`` plugs as ``old`` did (same port, MAC and plug): otherwise the old plumbing goes first."""
    return (old.port_id, old.mac, old.plug) == (new.port_id, new.mac, new.plug)


@dataclass(frozen=True)
class VmSpec:
    id: str
    name: str
    vifs: tuple[Vif, ...]


@dataclass
class VnicState:
    vif: Vif
    plugged: bool
    addresses: list[str] = field(default_factory=list)  # what the guest device has (IP/prefix), where seen
    guest_name: str = ""  # the device's name in the guest, where known

    def to_json(self) -> dict[str, Any]:
        vif = self.vif
        return {"vnic_id": vif.vnic_id, "vnic_name": vif.vnic_name, "port_id": vif.port_id, "devname": vif.devname,
                "mac": vif.mac, "provider_id": vif.provider.id, "plugged": self.plugged,
                "linked": vif.linked, "kind": vif.kind, "addresses": list(self.addresses),
                "guest_name": self.guest_name}  # fmt: skip


@dataclass
class VmState:
    id: str
    name: str
    state: str = "up"
    vnics: list[VnicState] = field(default_factory=list)

    def vnic(self, vnic_id: str) -> VnicState | None:
        return next((v for v in self.vnics if v.vif.vnic_id == vnic_id), None)

    def plugged_now(self, vif: Vif) -> VnicState:
        """Record ``vif`` as plugged: its vNIC updated, or added."""
        vnic = self.vnic(vif.vnic_id)
        if vnic is None:
            vnic = VnicState(vif, True)
            self.vnics.append(vnic)
        else:
            vnic.vif, vnic.plugged = vif, True
        return vnic

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "state": self.state, "vnics": [v.to_json() for v in self.vnics]}


class Runtime(Protocol):
    name: str

    def facts(self) -> RuntimeFacts: ...

    def create_vm(self, spec: VmSpec) -> VmState:
        """Make the VM run with exactly ``spec.vifs`` (each plugged as its ``plugged`` says); an existing VM of
        that id is brought to that state."""
        ...

    def destroy_vm(self, vm_id: str) -> bool:
        """Stop the VM and unplug its vNICs; False when it was not there."""
        ...

    def ensure_vif_plugged(self, vm_id: str, vif: Vif) -> VnicState:
        """Plug ``vif`` into the VM (replugging the vNIC if it was plugged with another port or MAC)."""
        ...

    def ensure_vif_unplugged(self, vm_id: str, vnic_id: str) -> bool:
        """Unplug the vNIC (the VM keeps it, unplugged); False when it was not plugged."""
        ...

    def get_vm(self, vm_id: str) -> VmState | None: ...

    def list_vms(self) -> list[VmState]: ...

    def close(self) -> None: ...
