"""The rules a new subnet of an external network follows before its provider is called, and the values sent
for it."""

from __future__ import annotations

import ipaddress
from collections.abc import Generator, Iterable
from dataclasses import dataclass

from extnet.engine.commands.base import Violation
from extnet.engine.commands.inputs import Entity, Ref, wire
from extnet.engine.domain.rules import name_problem

DHCP_MAX_PREFIX = {4: 30, 6: 126}  # a DHCP subnet needs addresses to hand out besides its own


@dataclass(frozen=True)
class SubnetInput:
    """A subnet of a provider network (``<openstack_subnet>``), as given."""

    name: str | None = wire()
    description: str | None = wire()
    cidr: str | None = wire()
    ip_version: str | None = wire()
    gateway: str | None = wire()
    dns_servers: tuple[str, ...] | None = wire()
    openstack_network: Ref | None = wire(convert=Ref.of)

    @classmethod
    def of(cls, value: Entity) -> SubnetInput | None:
        """A nested ``<openstack_subnet>`` (a network's first subnet), by the same fields; None when empty."""
        if not value:
            return None
        servers, network = value.get("dns_servers"), value.get("openstack_network")
        return cls(value.get("name"), value.get("description"), value.get("cidr"), value.get("ip_version"),
                   value.get("gateway"), None if servers is None else tuple(servers),
                   None if network is None else Ref.of(network))  # fmt: skip


def subnet_violations(given: SubnetInput) -> Iterable[Violation]:
    """Every problem of a subnet (``<openstack_subnet>``) that can be seen before the provider is asked."""
    name = given.name
    problem = name_problem(name, "subnet")
    if problem:
        yield Violation(problem, 400)
    label = f"subnet '{name}'" if not problem else "the subnet"
    net = yield from _cidr_violations(given, label)
    if given.gateway:
        yield from _gateway_violations(str(given.gateway), net, label)
    yield from _dns_violations([str(s) for s in given.dns_servers or []], net, label)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _cidr_violations(given: SubnetInput, label: str) -> Generator[Violation, None, IPNetwork | None]:
    """The problems of the cidr; returns the network (None if there is no valid one)."""
    cidr = given.cidr
    if not cidr:
        yield Violation(f"The {label} needs a cidr, e.g. 10.0.0.0/24 or fd00::/64", 400)
        return None
    net = _network(str(cidr))
    if net is None:
        yield Violation(
            f"The cidr '{cidr}' of {label} is not a network address with a prefix length, e.g. "
            "10.0.0.0/24 or fd00::/64",
            400,
        )
        return None
    if isinstance(net, str):
        yield Violation(f"The cidr '{cidr}' of {label} has host bits set; the network is {net}", 400)
        return None
    version = given.ip_version
    if version and version != f"v{net.version}":
        yield Violation(
            f"The cidr '{cidr}' of {label} is an IPv{net.version} network, but ip_version is {version}", 400
        )
    if net.prefixlen > DHCP_MAX_PREFIX[net.version]:
        yield Violation(
            f"The cidr '{cidr}' of {label} leaves no addresses for DHCP to hand out; use a prefix length of at most "
            f"/{DHCP_MAX_PREFIX[net.version]}",
            400,
        )
    return net


def _network(cidr: str) -> IPNetwork | str | None:
    """The network of ``cidr``; a str (the network it means) if host bits are set; None if it is no CIDR."""
    if "/" not in cidr:
        return None
    try:
        return ipaddress.ip_network(cidr.strip(), strict=True)
    except ValueError:
        pass
    try:
        return str(ipaddress.ip_network(cidr.strip(), strict=False))
    except ValueError:
        return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _gateway_violations(gateway: str, net: IPNetwork | None, label: str) -> Iterable[Violation]:
    address = _address(gateway)
    if address is None:
        yield Violation(f"The gateway '{gateway}' of {label} is not an IP address", 400)
    elif net is not None and address.version != net.version:
        yield Violation(f"The gateway '{gateway}' of {label} is not an IPv{net.version} address like its cidr", 400)
    elif net is not None and address not in net:
        yield Violation(f"The gateway '{gateway}' of {label} is not inside its cidr {net}", 400)
    elif net is not None and address == net.network_address:
        yield Violation(f"The gateway '{gateway}' of {label} is the address of the network itself", 400)
    elif isinstance(net, ipaddress.IPv4Network) and address == net.broadcast_address:
        yield Violation(f"The gateway '{gateway}' of {label} is the broadcast address of its cidr", 400)


def _dns_violations(servers: list[str], net: IPNetwork | None, label: str) -> Iterable[Violation]:
    seen: set[str] = set()
    for server in servers:
        address = _address(server)
        if address is None:
            yield Violation(f"The DNS server '{server[:80]}' of {label} is not an IP address", 400)
        elif net is not None and address.version != net.version:
            yield Violation(
                f"The DNS server '{server}' of {label} is not an IPv{net.version} address like its cidr", 400
            )
        elif str(address) in seen:
            yield Violation(f"The DNS server '{server}' is given more than once for {label}", 400)
        if address is not None:
            seen.add(str(address))


def subnet_values(given: SubnetInput) -> Entity:
    """Neutron's fields for a subnet that passed ``subnet_violations``."""
    net = ipaddress.ip_network(str(given.cidr).strip())
    values: Entity = {"name": given.name, "cidr": str(net), "ip_version": net.version}
    if given.description:
        values["description"] = given.description
    if given.gateway:
        values["gateway_ip"] = str(ipaddress.ip_address(str(given.gateway).strip()))
    if given.dns_servers:
        values["dns_nameservers"] = [str(ipaddress.ip_address(str(s).strip())) for s in given.dns_servers]
    return values
