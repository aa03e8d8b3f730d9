"""Network IP availability (``network-ip-availability`` and ``network-ip-availability-details``): per network and
per subnet, how many addresses the allocation pools hold and how many are allocated, counted as Neutron 29 counts
them. Only an admin sees it (Neutron's ``admin_only`` rule: others see an empty list, or 404 for one network)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from extnet.provider.errors import NeutronError
from extnet.provider.service import common, ipam
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.store.backend import AllOf, In, Kind, Page, Query, Record

NETWORK_FIELDS = frozenset({"id", "name", "project_id"})
SUBNET_FIELDS = frozenset({"id", "name", "network_id", "cidr", "ip_version", "allocation_pools"})
LOWEST, HIGHEST = "0" * 32, "f" * 32
DETAILS = ("total_ips_in_subnet", "total_ips_in_allocation_pool", "used_ips_in_subnet", "used_ips_in_allocation_pool")


def listing(ctx: Ctx, request: ListRequest, ip_version: list[int]) -> tuple[Page, list[dict[str, Any]]]:
    """One page of networks (by the request's filters and paging) with their availability; only networks with a
    subnet of one of ``ip_version`` when that filter is given, and only those subnets."""
    if not ctx.admin:
        return Page([]), []
    where = list(request.where)
    if ip_version:
        found = ctx.tx.find(Kind.SUBNET, Query(where=In("ip_version", tuple(ip_version)), want=SUBNET_FIELDS))
        where.append(In("id", tuple({subnet["network_id"] for subnet in found.records})))
    narrowed = ListRequest(where=where, sort=request.sort, limit=request.limit, marker=request.marker,
                           reverse=request.reverse, params=request.params)  # fmt: skip
    page = common.listing(ctx, Kind.NETWORK, narrowed, NETWORK_FIELDS)
    return page, _availability(ctx, page.records, ip_version)


def get(ctx: Ctx, network_id: str) -> dict[str, Any]:
    record = ctx.tx.get(Kind.NETWORK, network_id, want=NETWORK_FIELDS) if ctx.admin else None
    if record is None:
        if ctx.admin:
            raise NeutronError(404, "NetworkNotFound", f"Network {network_id} could not be found.")
        raise NeutronError(404, "HTTPNotFound", "The resource could not be found.")
    return _availability(ctx, [record], [])[0]


def _availability(ctx: Ctx, networks: Sequence[Record], ip_version: list[int]) -> list[dict[str, Any]]:
    where: Any = In("network_id", tuple(network["id"] for network in networks))
    if ip_version:
        where = AllOf((where, In("ip_version", tuple(ip_version))))
    by_network: dict[str, list[dict[str, Any]]] = {}
    if networks:
        for subnet in ctx.tx.find(Kind.SUBNET, Query(where=where, want=SUBNET_FIELDS)).records:
            by_network.setdefault(subnet["network_id"], []).append(_subnet(ctx, subnet))
    return [_network(network, by_network.get(network["id"], [])) for network in networks]


def _network(network: Record, subnets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "network_id": network["id"],
        "network_name": network["name"],
        "project_id": network["project_id"],
        "tenant_id": network["project_id"],
        "subnet_ip_availability": subnets,
        "used_ips": sum(subnet["used_ips"] for subnet in subnets),
        "total_ips": sum(subnet["total_ips"] for subnet in subnets),
        "ip_availability_details": {key: sum(s["ip_availability_details"][key] for s in subnets) for key in DETAILS},
    }


def _subnet(ctx: Ctx, subnet: Record) -> dict[str, Any]:
    net = ipam.network(subnet["cidr"])
    pools = [(int(ipaddress.ip_address(start)), int(ipaddress.ip_address(end)))
             for start, end in subnet["allocation_pools"]]  # fmt: skip
    in_pools = sum(end - start + 1 for start, end in pools)
    used = ctx.tx.count_addresses(subnet["id"], LOWEST, HIGHEST)
    used_in_pools = sum(ctx.tx.count_addresses(subnet["id"], ipam.key(start), ipam.key(end)) for start, end in pools)
    return {
        "subnet_id": subnet["id"],
        "subnet_name": subnet["name"],
        "cidr": subnet["cidr"],
        "ip_version": subnet["ip_version"],
        "used_ips": used,
        "total_ips": in_pools if pools else net.num_addresses,
        "ip_availability_details": {
            "total_ips_in_subnet": net.num_addresses - 2 if net.version == 4 else net.num_addresses,
            "total_ips_in_allocation_pool": in_pools,
            "used_ips_in_subnet": used,
            "used_ips_in_allocation_pool": used_in_pools,
        },
    }
