"""The Open vSwitch kinds: ``ovs`` (the guest device on the integration bridge) and ``ovs_hybrid`` (the guest device
in a Linux bridge ``qbr`` per port, joined to the integration bridge by the veth ``qvb``/``qvo``)."""

from __future__ import annotations

from extnet.common.vif import OVS, OVS_HYBRID, OvsHybridPlug, OvsPlug, Vif
from extnet.host.l2 import NET_UUID
from extnet.host.plugins.base import HostSwitch, PlugFailure, ovs_ids
from extnet.host.privileged import netlink
from extnet.host.privileged.ovsdb import Ovs


class _OvsBase:
    def __init__(self, switch: HostSwitch) -> None:
        assert switch.ovs is not None
        self.switch = switch
        self.ovs: Ovs = switch.ovs

    def _ensure_on_bridge(self, vif: Vif, vm_id: str, device: str, bridge: str) -> None:
        if not vif.vif_details.bridge_name:  # the binding names none (OVN's does not): this host's own
            bridge = self.switch.integration_bridge
        if bridge not in self.ovs.bridges():
            raise PlugFailure(f"{vif.label}: bridge {bridge} (binding:vif_details of port {vif.port_id}) does not "
                              f"exist in Open vSwitch at {self.ovs.remote}")  # fmt: skip
        switching = self.switch.switching
        tag = switching.vlan(vif.network.id) if switching else None
        other = {NET_UUID: vif.network.id} if switching else None
        self.ovs.ensure_port(bridge, device, ovs_ids(vif, vm_id), tag, other)
        if switching:
            switching.attach(vif.network.id, device)
            switching.connect(vif.provider.id, vif.network.id, bridge, True, vif.mtu)

    def _release(self, vif: Vif, device: str) -> None:
        switching = self.switch.switching
        if switching and not switching.detach(vif.network.id, device):
            switching.disconnect(vif.network.id)
            switching.release_vlan(vif.network.id)


class OvsPlugin(_OvsBase):
    kind = OVS

    def plug(self, vif: Vif, vm_id: str) -> None:
        plug = vif.plug
        assert isinstance(plug, OvsPlug)
        self._ensure_on_bridge(vif, vm_id, plug.devname, plug.bridge)

    def unplug(self, vif: Vif) -> None:
        assert vif.plug is not None
        self.ovs.delete_port(vif.plug.devname)
        self._release(vif, vif.plug.devname)


class OvsHybridPlugin(_OvsBase):
    kind = OVS_HYBRID

    def plug(self, vif: Vif, vm_id: str) -> None:
        plug = vif.plug
        assert isinstance(plug, OvsHybridPlug)
        ns = self.switch.ns
        netlink.ensure_bridge(ns, plug.qbr, ageing=0)
        netlink.ensure_veth(ns, plug.qvb, plug.qvo, vif.mtu)
        netlink.set_master(ns, plug.qvb, plug.qbr)
        self._ensure_on_bridge(vif, vm_id, plug.qvo, plug.bridge)
        if netlink.exists(ns, plug.devname):
            netlink.set_master(ns, plug.devname, plug.qbr)

    def unplug(self, vif: Vif) -> None:
        plug = vif.plug
        assert isinstance(plug, OvsHybridPlug)
        self.ovs.delete_port(plug.qvo)
        netlink.delete_link(self.switch.ns, plug.qvb)  # and its peer qvo
        netlink.delete_link(self.switch.ns, plug.qbr)
        self._release(vif, plug.qvo)
