"""Subnets: CIDR, gateway and pools with Neutron's validation, IPv6 modes, and SLAAC addresses on existing ports."""

from __future__ import annotations

import ipaddress
from typing import Any

from extnet.provider.errors import NeutronError, conflict, invalid_attribute, invalid_input, policy
from extnet.provider.service import common, ipam, networks, quotas
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.store.backend import BUMP, AllOf, In, Kind, Page, Query, Record

KIND = Kind.SUBNET
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway")


def create(ctx: Ctx, items: list[dict[str, Any]]) -> list[Record]:
    common.check_writer(ctx, "create_subnet")
    quotas.check_create(ctx, "subnet", items)
    records: list[Record] = []
    for values in items:
        network = common.load(ctx, Kind.NETWORK, values["network_id"], lock=True)
        if not ctx.admin and network["project_id"] != ctx.project_id:
            raise policy("create_subnet")
        record = _new(ctx, values, network, records)
        records.append(record)
    ctx.tx.insert(KIND, records)
    for record in records:
        common.bump(ctx, Kind.NETWORK, record["network_id"])
        if ipam.is_auto(record):
            _add_auto_addresses(ctx, record)
    return records


def _new(ctx: Ctx, values: dict[str, Any], network: Record, pending: list[Record]) -> Record:
    version = values["ip_version"]
    net = ipam.network(values["cidr"])
    if net.version != version:
        raise invalid_input(f"cidr '{values['cidr']}' does not match the ip_version '{version}'.")
    enable_dhcp = values.get("enable_dhcp", True)
    ipam.check_cidr_for_dhcp(net, enable_dhcp)
    ra_mode, address_mode = _ipv6_modes(values, net)
    gateway = _gateway(values, net)
    if "allocation_pools" in values:
        pools = ipam.check_pools(net, values["allocation_pools"], gateway)
    else:
        pools = ipam.default_pools(net, gateway)
    _check_overlap(ctx, network["id"], net, pending)
    networks.check_mtu_for_subnets(network["id"], network["mtu"], {version})
    record = common.standard(ctx, values, revision=0)
    if record["project_id"] != network["project_id"] and not ctx.admin:
        raise policy("create_subnet")
    record.update(
        name=values.get("name", ""),
        network_id=network["id"],
        ip_version=version,
        cidr=str(net),
        gateway_ip=gateway,
        allocation_pools=pools,
        dns_nameservers=_nameservers(ctx, values.get("dns_nameservers", []), version),
        host_routes=_routes(ctx, values.get("host_routes", []), version),
        enable_dhcp=enable_dhcp,
        ipv6_ra_mode=ra_mode,
        ipv6_address_mode=address_mode,
        ipam_cursor=None,
    )
    return record


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    return common.load(ctx, KIND, id_, want)


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    return common.listing(ctx, KIND, request, want)


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    record = common.load_owned(ctx, KIND, id_, "update", if_match)
    net = ipam.network(record["cidr"])
    if "enable_dhcp" in values:
        ipam.check_cidr_for_dhcp(net, values["enable_dhcp"])
    gateway = record["gateway_ip"]
    if "gateway_ip" in values:
        gateway = _gateway(values, net)
        values["gateway_ip"] = gateway
    if "allocation_pools" in values:
        values["allocation_pools"] = ipam.check_pools(net, values["allocation_pools"], gateway)
    elif "gateway_ip" in values:
        pools = [{"start": start, "end": end} for start, end in record["allocation_pools"]]
        ipam.check_pools(net, pools, gateway)
    if "dns_nameservers" in values:
        values["dns_nameservers"] = _nameservers(ctx, values["dns_nameservers"], record["ip_version"], id_)
    if "host_routes" in values:
        values["host_routes"] = _routes(ctx, values["host_routes"], record["ip_version"], id_)
    changes = common.touched(ctx, values)
    ctx.tx.update(KIND, id_, changes)
    return common.applied(record, changes)


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    record = common.load_owned(ctx, KIND, id_, "delete", if_match)
    holders = ctx.tx.find(Kind.PORT, Query(where=In("fixed_ips.subnet_id", (id_,)), want=frozenset({"fixed_ips"})))
    if holders.records:
        if not ipam.is_auto(record) or any(p["device_owner"] in ROUTER_OWNERS for p in holders.records):
            raise conflict(
                "SubnetInUse",
                f"Unable to complete operation on subnet {id_}: One or more ports have an "
                "IP allocation from this subnet.",
            )
        for port in holders.records:  # SLAAC addresses go away with their subnet
            fixed = [ip for ip in port["fixed_ips"] if ip["subnet_id"] != id_]
            ctx.tx.update(Kind.PORT, port["id"], common.touched(ctx, {"fixed_ips": fixed}))
    ctx.tx.delete(KIND, [id_])
    common.bump(ctx, Kind.NETWORK, record["network_id"])


# --- validation --------------------------------------------------------------------------------------------------


def _ipv6_modes(values: dict[str, Any], net: ipam.IPNetwork) -> tuple[str | None, str | None]:
    ra_mode, address_mode = values.get("ipv6_ra_mode"), values.get("ipv6_address_mode")
    if net.version == 4:
        for name, mode in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
            if mode is not None:
                raise invalid_input(f"{name} is not valid when ip_version is 4.")
        return None, None
    if ra_mode and address_mode and ra_mode != address_mode:
        raise invalid_input(
            f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to '{address_mode}' is not "
            "valid. If both attributes are set, they must be the same value."
        )
    if address_mode in ipam.AUTO_MODES and net.prefixlen != 64:
        raise invalid_input(
            f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 address format, "
            "which requires the prefix to be /64."
        )
    return ra_mode, address_mode


def _gateway(values: dict[str, Any], net: ipam.IPNetwork) -> str | None:
    if "gateway_ip" not in values:
        return ipam.default_gateway(net)
    gateway = values["gateway_ip"]
    if gateway is None:
        return None
    ip = ipaddress.ip_address(gateway)
    if ip.version != net.version:
        raise invalid_input(f"Invalid IP version for gateway_ip {gateway}.")
    if net.version == 4 and net.prefixlen < 31 and int(ip) in (int(net.network_address), int(net.broadcast_address)):
        raise invalid_input("Gateway is not valid on subnet.")
    return str(ip)


def _check_overlap(ctx: Ctx, network_id: str, net: ipam.IPNetwork, pending: list[Record]) -> None:
    existing = ctx.tx.find(KIND, Query(where=In("network_id", (network_id,)), want=frozenset())).records
    for other in [*existing, *[p for p in pending if p["network_id"] == network_id]]:
        if ipam.network(other["cidr"]).overlaps(net):
            raise invalid_input(
                f"Requested subnet with cidr: {net} for network: {network_id} overlaps with another subnet."
            )


def _nameservers(ctx: Ctx, servers: list[str], version: int, subnet_id: str = "") -> list[str]:
    seen: list[str] = []
    for server in servers:
        if server in seen:
            raise invalid_attribute("dns_nameservers", f"Duplicate nameserver '{server}'.")
        seen.append(server)
    if len(seen) > ctx.config.max_dns_nameservers:
        raise NeutronError(
            400,
            "DNSNameServersExhausted",
            f"Unable to complete operation for {subnet_id or 'subnet'}. "
            f"The number of DNS nameservers exceeds the limit {ctx.config.max_dns_nameservers}.",
        )
    return seen


def _routes(ctx: Ctx, routes: list[dict[str, str]], version: int, subnet_id: str = "") -> list[list[str]]:
    result: list[list[str]] = []
    for route in routes:
        pair = [route["destination"], route["nexthop"]]
        if ipaddress.ip_network(pair[0]).version != version or ipaddress.ip_address(pair[1]).version != version:
            raise invalid_input(f"Host route {route} does not match the ip_version '{version}'.")
        if pair in result:
            raise invalid_attribute("host_routes", f"Duplicate hostroute '{route}'.")
        result.append(pair)
    if len(result) > ctx.config.max_subnet_host_routes:
        raise NeutronError(
            400,
            "HostRoutesExhausted",
            f"Unable to complete operation for {subnet_id or 'subnet'}. "
            f"The number of host routes exceeds the limit {ctx.config.max_subnet_host_routes}.",
        )
    return result


def _add_auto_addresses(ctx: Ctx, subnet: Record) -> None:
    """A new SLAAC / DHCPv6-stateless subnet gives every existing port on the network its EUI-64 address."""
    ports = ctx.tx.find(
        Kind.PORT, Query(where=AllOf((In("network_id", (subnet["network_id"],)),)), want=frozenset({"fixed_ips"}))
    ).records
    allocator = ipam.Ipam(ctx.tx)
    for port in ports:
        if port["device_owner"] in ROUTER_OWNERS:
            continue
        address = allocator.claim(subnet, ipam.eui64(subnet["cidr"], port["mac_address"]))
        fixed = [*port["fixed_ips"], {"subnet_id": subnet["id"], "ip_address": address}]
        ctx.tx.update(Kind.PORT, port["id"], {"fixed_ips": fixed, "revision_number": BUMP, "updated_at": ctx.now})
