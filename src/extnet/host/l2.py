"""The host agent as the L2 agent of the built-in provider (there is no separate Neutron agent): it isolates
networks on the host as Neutron's agents do, and carries tenant networks between hosts.

- Open vSwitch kinds: a local VLAN per network on the integration bridge (the Port's ``tag``, with the network in
  its ``other_config:net_uuid``, as the OVS agent keeps it, so a restarted agent finds the same map).
- Linux bridge kind: a bridge per network (``brq`` + network id), which is isolation by itself.
- Between hosts: a kernel VXLAN device per network (``vxlan-<VNI>``) on the local VLAN (OVS) or in the network's
  bridge, flooding to the tunnel addresses (``configurations.tunneling_ip``) of the provider's other alive agents.
  A frame that came from one peer never goes to another (split horizon within the device), so a full mesh of hosts
  has no loop without any flow rules.

Where OVN or a real Neutron agent owns the switch, the agent only plugs and none of this runs (``Switching`` is
None in the plugins).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from extnet.host.networks import ProviderNetworks
from extnet.host.privileged import netlink
from extnet.host.privileged.ovsdb import Ovs

log = logging.getLogger("extnet.host.l2")

NET_UUID = "net_uuid"
VLAN_MIN, VLAN_MAX = 1, 4094
TUNNEL_TYPES = ("vxlan",)


def vxlan_name(vni: int) -> str:
    return f"vxlan-{vni}"


@dataclass(frozen=True)
class Wanted:
    """A network with ports on this host, to be carried to the other hosts."""

    provider_id: str
    bridge: str
    ovs_bridge: bool
    mtu: int | None


class Switching:
    def __init__(self, ns: str | None, ovs: Ovs | None, networks: ProviderNetworks, tunnel_ip: str | None,
                 refresh_interval: float = 10.0) -> None:  # fmt: skip
        self.ns = ns
        self.ovs = ovs
        self.networks = networks
        self.tunnel_ip = tunnel_ip
        self._lock = threading.Lock()
        self._vlans: dict[str, int] = {}
        self._users: dict[str, set[str]] = {}  # network id -> the devices of VMs on it (OVS ports)
        self._wanted: dict[str, Wanted] = {}
        self._tunnels: dict[str, tuple[str, str, str]] = {}  # network id -> (provider id, device, bridge)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if tunnel_ip:
            self._thread = threading.Thread(target=self._refresh_loop, args=(refresh_interval,),
                                            name="extnet-tunnels", daemon=True)  # fmt: skip
            self._thread.start()
        if ovs is not None:
            for port in ovs.ports():
                network = port.other_config.get(NET_UUID)
                if network and port.tag is not None:
                    self._vlans[network] = port.tag
                    if port.iface_ids.get("iface-id"):
                        self._users.setdefault(network, set()).add(port.name)

    # --- local VLANs ----------------------------------------------------------------------------------------

    def vlan(self, network_id: str) -> int:
        """The local VLAN of a network on the integration bridge (allocated at its first port)."""
        with self._lock:
            tag = self._vlans.get(network_id)
            if tag is None:
                used = set(self._vlans.values())
                tag = next((t for t in range(VLAN_MIN, VLAN_MAX + 1) if t not in used), None)
                if tag is None:
                    raise RuntimeError(f"no local VLAN is free for network {network_id}: {VLAN_MAX} networks are "
                                       "plugged on this host")  # fmt: skip
                self._vlans[network_id] = tag
            return tag

    def attach(self, network_id: str, device: str) -> None:
        with self._lock:
            self._users.setdefault(network_id, set()).add(device)

    def detach(self, network_id: str, device: str) -> bool:
        """Forget a VM's device on the network; whether the network still has one on this host."""
        with self._lock:
            users = self._users.get(network_id, set())
            users.discard(device)
            if not users:
                self._users.pop(network_id, None)
            return bool(users)

    def release_vlan(self, network_id: str) -> None:
        with self._lock:
            self._vlans.pop(network_id, None)

    # --- tunnels --------------------------------------------------------------------------------------------

    def connect(self, provider_id: str, network_id: str, bridge: str, ovs_bridge: bool, mtu: int | None) -> None:
        """Carry the network to the other hosts (a VXLAN device on ``bridge``), when it is a tunnel network and
        this host has a tunnel address. What cannot be done now (the provider does not answer) is done by the
        periodic refresh, which also follows the other hosts as they come and go."""
        if not self.tunnel_ip:
            return
        with self._lock:
            self._wanted[network_id] = Wanted(provider_id, bridge, ovs_bridge, mtu)
        self._ensure_tunnel(network_id, self._wanted[network_id])

    def _ensure_tunnel(self, network_id: str, wanted: Wanted) -> None:
        provider_id, bridge, ovs_bridge, mtu = wanted.provider_id, wanted.bridge, wanted.ovs_bridge, wanted.mtu
        info = self.networks.network(provider_id, network_id)
        if info is None or self.tunnel_ip is None:
            return  # the provider did not answer: the next refresh tries again
        if info.network_type not in TUNNEL_TYPES or info.segmentation_id is None:
            with self._lock:
                self._wanted.pop(network_id, None)  # not a tunnel network: nothing to carry
            return
        device = vxlan_name(info.segmentation_id)
        netlink.ensure_vxlan(self.ns, device, info.segmentation_id, self.tunnel_ip, mtu)
        if ovs_bridge:
            assert self.ovs is not None
            self.ovs.ensure_port(bridge, device, {"extnet-network": network_id}, self.vlan(network_id),
                                 {NET_UUID: network_id})  # fmt: skip
        else:
            netlink.set_master(self.ns, device, bridge)
        with self._lock:
            self._tunnels[network_id] = (provider_id, device, bridge)
        self._flood(provider_id, device)

    def disconnect(self, network_id: str) -> None:
        """The network has no port left on this host: its tunnel goes."""
        with self._lock:
            self._wanted.pop(network_id, None)
            tunnel = self._tunnels.pop(network_id, None)
        if tunnel is None:
            return
        _provider, device, _bridge = tunnel
        if self.ovs is not None:
            self.ovs.delete_port(device)
        netlink.delete_link(self.ns, device)

    def refresh(self) -> None:
        """Make the tunnels not made yet, and flood each to the provider's agents as they are now."""
        with self._lock:
            missing = {n: w for n, w in self._wanted.items() if n not in self._tunnels}
            tunnels = list(self._tunnels.values())
        for network_id, wanted in missing.items():
            self._ensure_tunnel(network_id, wanted)
        for provider_id, device, _bridge in tunnels:
            self._flood(provider_id, device)

    def _refresh_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the next round tries again; a broken host must not end the loop
                log.exception("refreshing the tunnels failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _flood(self, provider_id: str, device: str) -> None:
        assert self.tunnel_ip is not None
        peers = self.networks.tunnel_peers(provider_id, self.tunnel_ip)
        if peers is not None:
            netlink.set_flood_peers(self.ns, device, peers)
