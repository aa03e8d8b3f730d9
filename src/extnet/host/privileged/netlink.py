"""Devices, bridges and network namespaces over netlink (pyroute2). Every function is idempotent: making what
exists, or removing what is gone, changes nothing.

``ns`` is the network namespace of the host's own devices (None: the agent's own namespace); several test-bed
hosts on one machine each have one.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from pyroute2 import IPRoute, NetNS, netns
from pyroute2.netlink.exceptions import NetlinkError

NETNS_DIR = "/run/netns"
POOLED = 32  # namespaces whose netlink socket is kept open


class _Sockets:
    """Netlink sockets kept open per namespace: opening one into another namespace costs about 12 ms (pyroute2
    starts a helper there), a request on an open one under a millisecond. One request at a time per socket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: OrderedDict[str | None, tuple[Any, threading.Lock]] = OrderedDict()

    @contextlib.contextmanager
    def socket(self, ns: str | None) -> Iterator[Any]:
        with self._lock:
            entry = self._open.get(ns)
            if entry is None:
                entry = (NetNS(ns) if ns else IPRoute(), threading.Lock())
                self._open[ns] = entry
                while len(self._open) > POOLED:
                    _old, (sock, _guard) = self._open.popitem(last=False)
                    sock.close()
            self._open.move_to_end(ns)
        sock, guard = entry
        with guard:
            yield sock

    def forget(self, ns: str) -> None:
        with self._lock:
            entry = self._open.pop(ns, None)
        if entry is not None:
            with entry[1]:
                entry[0].close()


_SOCKETS = _Sockets()  # a cache of kernel handles, shared by every caller in the process


def _socket(ns: str | None) -> contextlib.AbstractContextManager[Any]:
    return _SOCKETS.socket(ns)


def _index(sock: Any, name: str) -> int | None:
    found = sock.link_lookup(ifname=name)
    return found[0] if found else None


def _attr(link: Any, name: str) -> Any:
    return link.get_attr(name) if hasattr(link, "get_attr") else link.get(name)


# --- namespaces -------------------------------------------------------------------------------------------------


def namespaces() -> list[str]:
    return list(netns.listnetns())


def ensure_namespace(name: str) -> None:
    if name not in namespaces():
        netns.create(name)
        with _socket(name) as sock:
            sock.link("set", index=_index(sock, "lo"), state="up")


def remove_namespace(name: str) -> bool:
    _SOCKETS.forget(name)
    if name not in namespaces():
        return False
    netns.remove(name)
    return True


# --- links ------------------------------------------------------------------------------------------------------


def exists(ns: str | None, name: str) -> bool:
    with _socket(ns) as sock:
        return _index(sock, name) is not None


def links(ns: str | None) -> list[dict[str, Any]]:
    """Every link of the namespace: name, kind, master's name, MAC, MTU, whether up."""
    with _socket(ns) as sock:
        raw = list(sock.get_links())
    names = {link["index"]: _attr(link, "IFLA_IFNAME") for link in raw}
    found = []
    for link in raw:
        info = _attr(link, "IFLA_LINKINFO")
        found.append({
            "name": _attr(link, "IFLA_IFNAME"), "kind": info.get_attr("IFLA_INFO_KIND") if info else None,
            "master": names.get(_attr(link, "IFLA_MASTER")), "mac": _attr(link, "IFLA_ADDRESS"),
            "mtu": _attr(link, "IFLA_MTU"), "up": bool(link["flags"] & 1),
        })  # fmt: skip
    return found


def delete_link(ns: str | None, name: str) -> bool:
    with _socket(ns) as sock:
        index = _index(sock, name)
        if index is None:
            return False
        try:
            sock.link("del", index=index)
        except NetlinkError as err:
            if err.code != errno.ENODEV:  # gone meanwhile (its veth peer was deleted)
                raise
        return True


def set_up(ns: str | None, name: str, up: bool = True) -> None:
    with _socket(ns) as sock:
        sock.link("set", index=_index(sock, name), state="up" if up else "down")


def set_mtu(ns: str | None, name: str, mtu: int) -> None:
    with _socket(ns) as sock:
        sock.link("set", index=_index(sock, name), mtu=mtu)


def ensure_veth(ns: str | None, name: str, peer: str, mtu: int | None = None) -> bool:
    """A veth pair ``name``/``peer`` in ``ns``, both up; False when it was there."""
    with _socket(ns) as sock:
        if _index(sock, name) is not None:
            if _index(sock, peer) is not None:
                return False
            sock.link("del", index=_index(sock, name))  # a half-made pair: make it again
        sock.link("add", ifname=name, kind="veth", peer={"ifname": peer})
        for device in (name, peer):
            if mtu:
                sock.link("set", index=_index(sock, device), mtu=mtu)
            sock.link("set", index=_index(sock, device), state="up")
        return True


def ensure_guest_veth(ns: str | None, name: str, guest_ns: str, guest_name: str, mac: str,
                      mtu: int | None) -> bool:  # fmt: skip
    """A veth whose end ``name`` is in ``ns`` (up) and whose other end is ``guest_name`` in ``guest_ns`` with
    ``mac`` and ``mtu`` (up); False when both ends were there already."""
    with _socket(guest_ns) as guest:
        guest_there = _index(guest, guest_name) is not None
    with _socket(ns) as sock:
        if _index(sock, name) is not None and guest_there:
            return False
        if _index(sock, name) is not None:
            sock.link("del", index=_index(sock, name))
        temporary = "g" + name[1:]  # the guest end's name until it is in the guest's namespace
        if _index(sock, temporary) is not None:
            sock.link("del", index=_index(sock, temporary))
        sock.link("add", ifname=name, kind="veth", peer={"ifname": temporary})
        if mtu:
            sock.link("set", index=_index(sock, name), mtu=mtu)
        sock.link("set", index=_index(sock, name), state="up")
        sock.link("set", index=_index(sock, temporary), net_ns_fd=guest_ns)
    with _socket(guest_ns) as guest:
        if guest_there:
            guest.link("del", index=_index(guest, guest_name))
        index = _index(guest, temporary)
        guest.link("set", index=index, ifname=guest_name, address=mac, **({"mtu": mtu} if mtu else {}))
        guest.link("set", index=index, state="up")
    return True


def ensure_bridge(ns: str | None, name: str, ageing: int | None = None) -> bool:
    """A Linux bridge, up (``ageing`` 0: it floods instead of learning, as os-vif's ``qbr`` bridges); False when it
    was there."""
    with _socket(ns) as sock:
        made = _index(sock, name) is None
        if made:
            extra = {"br_ageing_time": ageing} if ageing is not None else {}
            sock.link("add", ifname=name, kind="bridge", **extra)
        sock.link("set", index=_index(sock, name), state="up")
        return made


def set_master(ns: str | None, name: str, bridge: str | None) -> None:
    """Enslave ``name`` to ``bridge`` (None: release it)."""
    with _socket(ns) as sock:
        sock.link("set", index=_index(sock, name), master=_index(sock, bridge) if bridge else 0)


def enslave_if_there(ns: str | None, name: str, bridge: str) -> bool:
    """Put ``name`` in ``bridge`` when the device exists (one socket, two requests); whether it did."""
    with _socket(ns) as sock:
        index, master = _index(sock, name), _index(sock, bridge)
        if index is None:
            return False
        sock.link("set", index=index, master=master)
        return True


def bridge_members(ns: str | None, bridge: str) -> list[str]:
    with _socket(ns) as sock:
        index = _index(sock, bridge)
        if index is None:
            return []
        # the kernel filters the dump by master: a bridge's few members, not every link of the host
        return [_attr(link, "IFLA_IFNAME") for link in sock.link("dump", master=index)
                if _attr(link, "IFLA_MASTER") == index]  # fmt: skip


def ensure_vxlan(ns: str | None, name: str, vni: int, local_ip: str, mtu: int | None = None,
                 port: int = 4789) -> bool:  # fmt: skip
    """A kernel VXLAN device for one network (head-end replication to the peers in its FDB; a frame that came
    from a peer never goes to another, so a full mesh of hosts has no loop); False when it was there."""
    with _socket(ns) as sock:
        index = _index(sock, name)
        if index is not None:
            if _vxlan_is(sock, index, vni, local_ip):
                return False
            sock.link("del", index=index)  # another network's, or another address's: made again
        sock.link("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local_ip, vxlan_port=port,
                  vxlan_learning=1)  # fmt: skip
        if mtu:
            sock.link("set", index=_index(sock, name), mtu=mtu)
        sock.link("set", index=_index(sock, name), state="up")
        return True


def _vxlan_is(sock: Any, index: int, vni: int, local_ip: str) -> bool:
    [link] = sock.get_links(index)
    info = _attr(link, "IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info else None
    if data is None or info.get_attr("IFLA_INFO_KIND") != "vxlan":
        return False
    return bool(data.get_attr("IFLA_VXLAN_ID") == vni and data.get_attr("IFLA_VXLAN_LOCAL") == local_ip)


def flood_peers(ns: str | None, name: str) -> set[str]:
    """The peers a VXLAN device floods to (its all-zero FDB entries)."""
    with _socket(ns) as sock:
        index = _index(sock, name)
        if index is None:
            return set()
        entries = sock.fdb("dump", ifindex=index)
        return {_attr(e, "NDA_DST") for e in entries
                if _attr(e, "NDA_LLADDR") == "00:00:00:00:00:00" and _attr(e, "NDA_DST")}  # fmt: skip


def set_flood_peers(ns: str | None, name: str, peers: set[str]) -> None:
    have = flood_peers(ns, name)
    with _socket(ns) as sock:
        index = _index(sock, name)
        for peer in sorted(peers - have):
            sock.fdb("append", ifindex=index, lladdr="00:00:00:00:00:00", dst=peer)
        for peer in sorted(have - peers):
            sock.fdb("del", ifindex=index, lladdr="00:00:00:00:00:00", dst=peer)


# --- addresses --------------------------------------------------------------------------------------------------


def addresses(ns: str | None, name: str) -> list[str]:
    """The IP addresses (CIDR) of a device."""
    with _socket(ns) as sock:
        index = _index(sock, name)
        if index is None:
            return []
        return [f"{_attr(a, 'IFA_ADDRESS')}/{a['prefixlen']}" for a in sock.get_addr(index=index)]


def ensure_addresses(ns: str | None, name: str, cidrs: list[str], gateway: str | None) -> None:
    """The device has exactly ``cidrs`` (IP/prefix; IPv6 link-local ones are left alone), and ``gateway`` is the
    default route through it."""
    with _socket(ns) as sock:
        index = _index(sock, name)
        have = {f"{_attr(a, 'IFA_ADDRESS')}/{a['prefixlen']}" for a in sock.get_addr(index=index)}
        have = {c for c in have if not ipaddress.ip_interface(c).is_link_local}
        for cidr in sorted(set(cidrs) - have):
            address = ipaddress.ip_interface(cidr)
            sock.addr("add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
        for cidr in sorted(have - set(cidrs)):
            address = ipaddress.ip_interface(cidr)
            sock.addr("del", index=index, address=str(address.ip), prefixlen=address.network.prefixlen)
        if gateway:
            family = 10 if ipaddress.ip_address(gateway).version == 6 else 2
            with contextlib.suppress(NetlinkError):  # EEXIST: another vNIC's subnet has the default route
                sock.route("add", dst="default", gateway=gateway, oif=index, family=family)
