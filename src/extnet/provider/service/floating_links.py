"""How floating IPs hang on ports and routers, for the services that change those (without importing the floating
IP service, which itself makes ports)."""

from __future__ import annotations

from typing import Any

from extnet.provider.errors import conflict
from extnet.provider.service import common
from extnet.provider.service.common import Ctx
from extnet.provider.store.backend import In, Kind, Query

KIND = Kind.FLOATINGIP
DETACHED: dict[str, Any] = {"fixed_port_id": None, "fixed_ip_address": None, "router_id": None, "status": "DOWN"}


def detach_port(ctx: Ctx, port_id: str) -> None:
    """The port is going: the floating IPs associated with it stay, associated with nothing (as Neutron does)."""
    for fip in ctx.tx.find(KIND, Query(where=In("fixed_port_id", (port_id,)), want=frozenset())).records:
        ctx.tx.update(KIND, fip["id"], common.touched(ctx, DETACHED))


def check_gateway_change(ctx: Ctx, router: dict[str, Any]) -> None:
    """A router's gateway may not change while floating IPs reach their ports through it."""
    if router.get("gw_network_id") and ctx.tx.count(KIND, In("router_id", (router["id"],))):
        raise conflict("RouterExternalGatewayInUseByFloatingIp", f"Gateway cannot be updated for router "
                       f"{router['id']}, since a gateway to external network {router['gw_network_id']} is required by "
                       "one or more floating IPs.")  # fmt: skip


def check_interface_removal(ctx: Ctx, router_id: str, subnet_id: str) -> None:
    """A router's interface on a subnet may not go while floating IPs reach ports of that subnet through it."""
    fips = ctx.tx.find(KIND, Query(where=In("router_id", (router_id,)))).records
    ports = [fip["fixed_port_id"] for fip in fips if fip["fixed_port_id"]]
    found = ctx.tx.find(Kind.PORT, Query(where=In("id", tuple(ports)), want=frozenset({"fixed_ips"}))).records
    if any(ip["subnet_id"] == subnet_id for port in found for ip in port["fixed_ips"]):
        raise conflict("RouterInterfaceInUseByFloatingIP", f"Router interface for subnet {subnet_id} on router "
                       f"{router_id} cannot be deleted, as it is required by one or more floating IPs.")  # fmt: skip
