"""The host side the data-plane runtimes share: the host's Open vSwitch (with its integration bridge made when
missing), the L2 role, the VIF plugins of the kinds this host can plug, and what the host reports of them."""

from __future__ import annotations

import logging
from pathlib import Path

from extnet.common.hostrpc import LINUX_BRIDGE, OPEN_VSWITCH
from extnet.common.vif import KINDS, Vif
from extnet.host.l2 import Switching
from extnet.host.networks import ProviderNetworks
from extnet.host.plugins import plugins_for
from extnet.host.plugins.base import HostSwitch, VifPlugin
from extnet.host.privileged import netlink
from extnet.host.privileged.ovsdb import Ovs, OvsUnavailable
from extnet.host.runtime.base import RuntimeFacts, RuntimeFailure
from extnet.host.settings import HostSettings

log = logging.getLogger("extnet.host.plumbing")

OVN = "ovirt_provider_ovn"
VIF_TYPES_OF_KIND = {"ovs": "ovs", "ovs_hybrid": "ovs", "bridge": "bridge"}


def kernel_has_ovs_datapath() -> bool:
    return Path("/sys/module/openvswitch").exists()


class Plumbing:
    def __init__(self, settings: HostSettings, networks: ProviderNetworks) -> None:
        self.settings = settings
        self.ns = settings.netns
        self.ovs = self._connect()
        self.datapath_type = self._datapath()
        if self.ovs is not None:
            self.ovs.ensure_bridge(settings.integration_bridge, self.datapath_type)
        switching = None
        if settings.l2 == "builtin":
            switching = Switching(self.ns, self.ovs, networks, settings.tunnel_ip, settings.heartbeat_interval)
        self.switching = switching
        switch = HostSwitch(self.ns, self.ovs, switching, settings.integration_bridge)
        self.plugins: dict[str, VifPlugin] = plugins_for(switch)

    def _connect(self) -> Ovs | None:
        try:
            return Ovs(self.settings.ovsdb)
        except OvsUnavailable as err:
            log.warning("%s: this host plugs the Linux bridge kind only", err)
            return None

    def _datapath(self) -> str:
        wanted = self.settings.datapath_type
        if wanted != "auto":
            return wanted
        return "system" if kernel_has_ovs_datapath() else "netdev"

    def facts(self) -> RuntimeFacts:
        kinds = [kind for kind in KINDS if kind in self.plugins]  # whatever a provider binds of these, it plugs
        binding = self.settings.binding_host or self.settings.effective_hostname
        ids = {OPEN_VSWITCH: binding, LINUX_BRIDGE: binding}
        if self.ovs is not None:
            system_id = self.ovs.external_ids().get("system-id")
            if system_id:
                ids[OVN] = system_id
        bridges = self.ovs.bridges() if self.ovs is not None else []
        vif_types = sorted({VIF_TYPES_OF_KIND[kind] for kind in self.plugins})
        return RuntimeFacts(binding_host_ids=ids, bridges=bridges, datapath_type=self.datapath_type,
                            vif_types=vif_types, vif_kinds=kinds)  # fmt: skip

    def plugin_for(self, vif: Vif) -> VifPlugin:
        plugin = self.plugins.get(vif.plug.KIND) if vif.plug else None
        if plugin is None:
            raise RuntimeFailure(f"{vif.label}: this host cannot plug vif_type '{vif.vif_type}' (kind "
                                 f"{vif.kind or 'unknown'}); it plugs {', '.join(self.plugins)}")  # fmt: skip
        return plugin

    def clean_ports(self, owned: set[str]) -> list[str]:
        """Remove the OVS ports of VMs (``vm-uuid``) whose port this host does not plug, with the hybrid bridge
        and veth of each; and the empty per-network Linux bridges. Returns what it removed."""
        cleaned: list[str] = []
        if self.ovs is not None:
            for port in self.ovs.ports():
                port_id = port.iface_ids.get("iface-id")
                if "vm-uuid" not in port.iface_ids or port_id in owned:
                    continue
                self.ovs.delete_port(port.name)
                cleaned.append(f"OVS port {port.name} of port {port_id}")
                if port.name.startswith("qvo"):
                    for name in ("qvb" + port.name[3:], "qbr" + port.name[3:]):
                        if netlink.delete_link(self.ns, name):
                            cleaned.append(f"device {name}")
        for link in netlink.links(self.ns):
            name = link["name"]
            if link["kind"] == "bridge" and name.startswith("brq") and not _has_taps(self.ns, name):
                netlink.delete_link(self.ns, name)
                cleaned.append(f"bridge {name}")
        return cleaned

    def close(self) -> None:
        if self.switching is not None:
            self.switching.close()
        if self.ovs is not None:
            self.ovs.close()


def _has_taps(ns: str | None, bridge: str) -> bool:
    return any(member.startswith("tap") for member in netlink.bridge_members(ns, bridge))
