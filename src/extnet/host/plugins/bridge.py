"""The Linux bridge kind, as the Linux bridge agent wires it: the guest device in the network's bridge
(``brq`` + the first 11 characters of the network id), made at its first port and removed when none is left."""

from __future__ import annotations

import threading

from extnet.common.vif import BRIDGE, BridgePlug, Vif
from extnet.host.plugins.base import HostSwitch
from extnet.host.privileged import netlink


class BridgePlugin:
    kind = BRIDGE

    def __init__(self, switch: HostSwitch) -> None:
        self.switch = switch
        self._lock = threading.Lock()
        self._users: dict[str, set[str]] = {}  # bridge -> the guest devices in it (read from the host once)

    def _members(self, bridge: str) -> set[str]:
        with self._lock:
            if bridge not in self._users:
                found = netlink.bridge_members(self.switch.ns, bridge)
                self._users[bridge] = {name for name in found if name.startswith("tap")}
            return self._users[bridge]

    def plug(self, vif: Vif, vm_id: str) -> None:
        plug = vif.plug
        assert isinstance(plug, BridgePlug)
        ns = self.switch.ns
        with self._lock:
            known = plug.bridge in self._users  # made (or found) before: it exists, with the network's MTU
        if not known:
            netlink.ensure_bridge(ns, plug.bridge)
            if vif.mtu:
                netlink.set_mtu(ns, plug.bridge, vif.mtu)
        if self.switch.switching:
            self.switch.switching.connect(vif.provider.id, vif.network.id, plug.bridge, False, vif.mtu)
        netlink.enslave_if_there(ns, plug.devname, plug.bridge)
        users = self._members(plug.bridge)
        with self._lock:
            users.add(plug.devname)

    def unplug(self, vif: Vif) -> None:
        plug = vif.plug
        assert isinstance(plug, BridgePlug)
        ns = self.switch.ns
        if netlink.exists(ns, plug.devname):
            netlink.set_master(ns, plug.devname, None)
        users = self._members(plug.bridge)
        with self._lock:
            users.discard(plug.devname)
            empty = not users
            if empty:
                self._users.pop(plug.bridge, None)
        if empty:
            if self.switch.switching:
                self.switch.switching.disconnect(vif.network.id)
            netlink.delete_link(ns, plug.bridge)
