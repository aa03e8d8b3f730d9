"""The kinds of VIF a host plugs, one class each, as os-vif types them (``VIFOpenVSwitch``, ``VIFBridge`` with the
hybrid plug, ``VIFBridge`` for the Linux bridge agent), with the device names each implies; and a port's binding
as a host plugs it (``binding:vif_type``, and ``binding:vif_details`` with its one parser, ``VifDetails.from_port``,
which the engine's port parser uses).

Device names follow Nova and os-vif: a prefix and the first 11 characters of the port id (14 characters in all,
Nova's NIC_NAME_LEN); a Linux bridge agent's bridge is ``brq`` and the first 11 characters of the network id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from extnet.common.codec import Kinded

NIC_NAME_LEN = 14
UNBOUND_VIF_TYPES = ("unbound", "binding_failed")
OVS, OVS_HYBRID, BRIDGE = "ovs", "ovs_hybrid", "bridge"
KINDS = (OVS, OVS_HYBRID, BRIDGE)
INTEGRATION_BRIDGE = "br-int"


def device_name(prefix: str, uuid_text: str) -> str:
    return (prefix + uuid_text)[:NIC_NAME_LEN]


@dataclass(frozen=True)
class VifDetails:
    """The port's ``binding:vif_details`` that matter for plugging."""

    port_filter: bool = False
    bridge_name: str | None = None
    datapath_type: str | None = None
    ovs_hybrid_plug: bool = False

    def __post_init__(self) -> None:
        for name in ("port_filter", "ovs_hybrid_plug"):
            object.__setattr__(self, name, getattr(self, name) is True)
        for name in ("bridge_name", "datapath_type"):
            value = getattr(self, name)
            object.__setattr__(self, name, value if isinstance(value, str) and value else None)

    @classmethod
    def from_port(cls, details: Any) -> VifDetails:
        details = details if isinstance(details, dict) else {}
        return cls(**{name: details.get(name) for name in ("port_filter", "bridge_name", "datapath_type",
                                                             "ovs_hybrid_plug")})  # fmt: skip


@dataclass(frozen=True)
class Binding:
    """A port's binding as the provider answered it."""

    host_id: str | None
    vif_type: str
    details: VifDetails

    @property
    def bound(self) -> bool:
        return self.vif_type not in UNBOUND_VIF_TYPES


@dataclass(frozen=True)
class VifPlug(Kinded):
    """How a vNIC is plugged: ``devname`` is the guest's device on the host (a TAP, or the host end of a veth)."""

    devname: str

    def devices(self) -> tuple[str, ...]:
        """The host devices plugging makes, the guest's own first."""
        return (self.devname,)


@dataclass(frozen=True)
class OvsPlug(VifPlug):
    """The guest device is a port of the integration bridge (os-vif ``VIFOpenVSwitch``)."""

    KIND: ClassVar[str] = OVS
    bridge: str = INTEGRATION_BRIDGE
    datapath_type: str = "system"


@dataclass(frozen=True)
class OvsHybridPlug(VifPlug):
    """Port filtering on a Linux bridge per port (os-vif ``VIFBridge`` with the hybrid plug): the guest device in
    ``qbr``, joined to the integration bridge by the veth ``qvb``/``qvo``."""

    KIND: ClassVar[str] = OVS_HYBRID
    bridge: str = INTEGRATION_BRIDGE
    datapath_type: str = "system"
    qbr: str = ""
    qvb: str = ""
    qvo: str = ""

    def devices(self) -> tuple[str, ...]:
        return (self.devname, self.qbr, self.qvb, self.qvo)


@dataclass(frozen=True)
class BridgePlug(VifPlug):
    """The guest device in the network's Linux bridge, as the Linux bridge agent wires it (``brq`` + network id)."""

    KIND: ClassVar[str] = BRIDGE
    bridge: str = ""


def plug_for(binding: Binding, port_id: str, network_id: str, devname: str) -> VifPlug | None:
    """The plug a bound port needs, decided as Nova decides it; None when the port is not bound or its vif_type is
    not one a host of ours plugs (the host then says so)."""
    details = binding.details
    if binding.vif_type == "ovs":
        bridge = details.bridge_name or INTEGRATION_BRIDGE
        datapath = details.datapath_type or "system"
        if details.ovs_hybrid_plug:
            return OvsHybridPlug(devname, bridge, datapath, device_name("qbr", port_id), device_name("qvb", port_id),
                                 device_name("qvo", port_id))  # fmt: skip
        return OvsPlug(devname, bridge, datapath)
    if binding.vif_type == "bridge":
        return BridgePlug(devname, details.bridge_name or device_name("brq", network_id))
    return None
