"""What a VIF plugin is, and the host's switch it works on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from extnet.common.vif import Vif
from extnet.host.l2 import Switching
from extnet.host.privileged.ovsdb import Ovs


class PlugFailure(Exception):
    """Plugging failed on the host; the message names the vNIC and what to do."""


@dataclass
class HostSwitch:
    ns: str | None  # the network namespace of the host's devices (None: the agent's own)
    ovs: Ovs | None  # None: no Open vSwitch on this host
    switching: Switching | None  # None: another agent (OVN, a Neutron agent) owns the switch; only plug
    integration_bridge: str = "br-int"  # where a port goes whose binding names no bridge (as Nova's ovs_bridge)


class VifPlugin(Protocol):
    kind: str

    def plug(self, vif: Vif, vm_id: str) -> None:
        """Make the host side of the vNIC, and attach its guest device (``vif.devname``) when the runtime made it
        already (a runtime whose hypervisor attaches the device itself calls this before it exists)."""
        ...

    def unplug(self, vif: Vif) -> None:
        """Undo what ``plug`` made (the guest device is the runtime's to remove); nothing left is no error."""
        ...


def ovs_ids(vif: Vif, vm_id: str) -> dict[str, str]:
    """The Interface external_ids os-vif writes, by which an agent (Neutron's, OVN's, ours) finds the port."""
    return {"iface-id": vif.port_id, "iface-status": "active", "attached-mac": vif.mac, "vm-uuid": vm_id}
