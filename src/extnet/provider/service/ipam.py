"""IP address management: default pools, pool validation, and handing out addresses.

Allocation walks a subnet's pools from a cursor (the address handed out last, a hint) and asks the store only for
the allocated addresses in the window it is looking at, so it stays fast however full the subnet is. Concurrent
requests on one subnet do not wait for each other: each hands out addresses from blocks of the pools it holds
(PostgreSQL advisory locks taken without waiting; SQLite serializes writers anyway), skipping the blocks others
hold. No address goes out twice: the store's primary key (subnet, address) rejects a collision (a fixed address,
or a subnet whose free addresses all lie in blocks others hold) and the request is retried.
"""

from __future__ import annotations

import ipaddress

from extnet.provider.errors import NeutronError, conflict, invalid_input
from extnet.provider.store.backend import Record, Tx

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
WINDOW = 128
BLOCK = 16  # addresses per block a transaction takes to allocate from (others allocate in other blocks meanwhile)
TRIES = 32  # blocks tried at once
AUTO_MODES = ("slaac", "dhcpv6-stateless")


def key(address: int | str) -> str:
    number = int(ipaddress.ip_address(address)) if isinstance(address, str) else address
    return f"{number:032x}"


def network(cidr: str) -> IPNetwork:
    return ipaddress.ip_network(cidr)


def usable_range(net: IPNetwork) -> tuple[int, int]:
    """First and last address ports may get: IPv4 leaves out network and broadcast (except /31 and /32)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4 and net.prefixlen < 31:
        return first + 1, last - 1
    if net.version == 6:
        return first + 1, last
    return first, last


def default_gateway(net: IPNetwork) -> str | None:
    if net.version == 6:
        return str(net.network_address)
    low, high = usable_range(net)
    return str(ipaddress.ip_address(low)) if low <= high else None


def default_pools(net: IPNetwork, gateway: str | None) -> list[list[str]]:
    low, high = usable_range(net)
    pools: list[tuple[int, int]] = [(low, high)] if low <= high else []
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        split: list[tuple[int, int]] = []
        for start, end in pools:
            if start <= gw <= end:
                split += [(start, gw - 1), (gw + 1, end)]
            else:
                split.append((start, end))
        pools = [(start, end) for start, end in split if start <= end]
    return [[_text(start, net), _text(end, net)] for start, end in pools]


def check_pools(net: IPNetwork, pools: list[dict[str, str]], gateway: str | None) -> list[list[str]]:
    """Neutron's pool rules: same version, start <= end, inside the subnet, no overlaps, gateway outside."""
    ranges: list[tuple[int, int, dict[str, str]]] = []
    low, high = usable_range(net)
    for pool in pools:
        first, last = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        if first.version != net.version or last.version != net.version or int(first) > int(last):
            raise NeutronError(400, "InvalidAllocationPool", f"The allocation pool {pool} is not valid.")
        if int(first) < low or int(last) > high:
            raise NeutronError(
                400,
                "OutOfBoundsAllocationPool",
                f"The allocation pool {first}-{last} spans beyond the subnet cidr {net}.",
            )
        ranges.append((int(first), int(last), pool))
    ranges.sort(key=lambda r: r[0])
    for (s1, e1, _), (s2, e2, _) in zip(ranges, ranges[1:], strict=False):
        if s2 <= e1:
            raise conflict(
                "OverlappingAllocationPools",
                f"Found overlapping allocation pools: "
                f"{_text(s1, net)}-{_text(e1, net)} {_text(s2, net)}-{_text(e2, net)} for subnet {net}.",
            )
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for start, end, _ in ranges:
            if start <= gw <= end:
                raise conflict(
                    "GatewayConflictWithAllocationPools",
                    f"Gateway ip {gateway} conflicts with allocation pool {_text(start, net)}-{_text(end, net)}.",
                )
    return [[_text(start, net), _text(end, net)] for start, end, _ in ranges]


def _text(number: int, net: IPNetwork) -> str:
    return str(ipaddress.IPv4Address(number) if net.version == 4 else ipaddress.IPv6Address(number))


def is_auto(subnet: Record) -> bool:
    """IPv6 SLAAC / DHCPv6-stateless: every port gets its EUI-64 address, nothing is handed out."""
    return subnet["ip_version"] == 6 and subnet.get("ipv6_address_mode") in AUTO_MODES


def eui64(cidr: str, mac: str) -> str:
    net = network(cidr)
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface = octets[:3] + [0xFF, 0xFE] + octets[3:]
    suffix = int.from_bytes(bytes(interface), "big")
    return str(ipaddress.IPv6Address(int(net.network_address) | suffix))


class Ipam:
    """The addresses one request hands out (several ports in a bulk request, several subnets)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.reserved: dict[str, set[int]] = {}
        self.cursors: dict[str, int] = {}
        self.held: dict[str, set[int]] = {}  # blocks this transaction holds, per subnet
        self.busy: dict[str, set[int]] = {}  # blocks other transactions hold

    def next_free(self, subnet: Record) -> str | None:
        """The next free pool address of the subnet, reserved for this request, or None when it is full."""
        pools = sorted(
            (int(ipaddress.ip_address(s)), int(ipaddress.ip_address(e))) for s, e in subnet["allocation_pools"]
        )
        if not pools:
            return None
        cursor = self.cursors.get(subnet["id"])
        if cursor is None:
            cursor = int(subnet["ipam_cursor"], 16) if subnet.get("ipam_cursor") else pools[0][0] - 1
        found = self._find(subnet["id"], _windows(pools, cursor + 1))
        if found is None:
            return None
        self.cursors[subnet["id"]] = found
        self.reserved.setdefault(subnet["id"], set()).add(found)
        return _text(found, network(subnet["cidr"]))

    def _find(self, subnet_id: str, ranges: list[tuple[int, int]]) -> int | None:
        """The first free address in a block this transaction holds or can take without waiting; when other
        transactions hold the blocks of all free addresses, the first free one (the store's key decides)."""
        held = self.held.setdefault(subnet_id, set())
        busy = self.busy.setdefault(subnet_id, set())
        while (found := self._scan(subnet_id, ranges, busy)) is not None:
            first = found // BLOCK
            if first in held:
                return found
            blocks = [first + i for i in range(TRIES)]
            got = self.tx.try_lock_blocks(subnet_id, blocks)
            busy.update(blocks if got is None else blocks[:got])
            if got is not None:
                # scanned again before handing out: whoever held the block before has committed by now (an advisory
                # lock ends with its transaction), and only a read after taking the lock sees what it took
                held.add(blocks[got])
        return self._scan(subnet_id, ranges, set()) if busy else None

    def _scan(self, subnet_id: str, ranges: list[tuple[int, int]], busy: set[int]) -> int | None:
        reserved = self.reserved.get(subnet_id, set())
        for low, high in ranges:
            candidate = low
            while candidate <= high:
                taken = [int(k, 16) for k in self.tx.taken_addresses(subnet_id, key(candidate), key(high), WINDOW)]
                for used in taken:
                    candidate = _first_open(candidate, used, reserved, busy)
                    if candidate < used:
                        return candidate
                    candidate = max(candidate, used + 1)
                if len(taken) < WINDOW:
                    candidate = _first_open(candidate, high + 1, reserved, busy)
                    if candidate <= high:
                        return candidate
        return None

    def claim(self, subnet: Record, address: str, own: set[str] | frozenset[str] = frozenset()) -> str:
        """Reserve a specific address (``own``: addresses the port already holds, which it may keep)."""
        number = int(ipaddress.ip_address(address))
        if address in own:
            self.reserved.setdefault(subnet["id"], set()).add(number)
            return address
        if number in self.reserved.get(subnet["id"], set()) or self.tx.taken_addresses(
            subnet["id"], key(number), key(number), 1
        ):
            raise conflict(
                "IpAddressAlreadyAllocated", f"IP address {address} already allocated in subnet {subnet['id']}"
            )
        self.reserved.setdefault(subnet["id"], set()).add(number)
        return address

    def save_cursors(self) -> None:
        for subnet_id, cursor in self.cursors.items():
            self.tx.save_cursor(subnet_id, f"{cursor:x}")


def _first_open(candidate: int, limit: int, reserved: set[int], busy: set[int]) -> int:
    """The first address from ``candidate`` below ``limit`` neither reserved nor in a busy block, else ``limit``."""
    while candidate < limit:
        if candidate // BLOCK in busy:
            candidate = (candidate // BLOCK + 1) * BLOCK
        elif candidate in reserved:
            candidate += 1
        else:
            return candidate
    return limit


def _windows(pools: list[tuple[int, int]], start: int) -> list[tuple[int, int]]:
    """The pools from ``start`` to their end, then from their beginning up to ``start`` (wrapping around)."""
    after = [(max(low, start), high) for low, high in pools if high >= start]
    before = [(low, min(high, start - 1)) for low, high in pools if low < start]
    return after + before


def valid_for_subnet(subnet: Record, address: str) -> bool:
    """May a port hold ``address`` on this subnet (inside it; not the IPv4 network or broadcast address)?"""
    net = network(subnet["cidr"])
    ip = ipaddress.ip_address(address)
    if ip.version != net.version or ip not in net:
        return False
    low, high = usable_range(net)
    return low <= int(ip) <= high or (net.version == 6 and int(ip) == int(net.network_address))


def subnet_for(subnets: list[Record], address: str) -> Record | None:
    for subnet in subnets:
        if valid_for_subnet(subnet, address):
            return subnet
    return None


def invalid_for_subnet(address: str) -> NeutronError:
    return NeutronError(400, "InvalidIpForSubnet", f"IP address {address} is not a valid IP for the specified subnet.")


def invalid_for_network(address: str) -> NeutronError:
    return NeutronError(
        400,
        "InvalidIpForNetwork",
        f"IP address {address} is not a valid IP for any of the subnets on the specified network.",
    )


def exhausted(network_id: str) -> NeutronError:
    return conflict("IpAddressGenerationFailure", f"No more IP addresses available on network {network_id}.")


def check_cidr_for_dhcp(net: IPNetwork, enable_dhcp: bool) -> None:
    if enable_dhcp and ((net.version == 4 and net.prefixlen > 30) or (net.version == 6 and net.prefixlen > 126)):
        raise invalid_input("Subnet has a prefix length that is incompatible with DHCP service enabled.")
