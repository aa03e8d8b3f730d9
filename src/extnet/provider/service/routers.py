"""Routers: external gateway, extra routes, interfaces (control plane only: nothing forwards packets yet)."""

from __future__ import annotations

import ipaddress
from typing import Any

from extnet.provider.errors import NeutronError, bad_router_request, conflict, policy
from extnet.provider.service import availability_zones, common, floating_links, ipam, quotas
from extnet.provider.service import ports as port_service
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.store.backend import AllOf, In, Kind, Page, Query, Record

KIND = Kind.ROUTER
INTERFACE = "network:router_interface"
GATEWAY = "network:router_gateway"


def create(ctx: Ctx, items: list[dict[str, Any]]) -> list[Record]:
    common.check_writer(ctx, "create_router")
    quotas.check_create(ctx, "router", items)
    records = []
    for values in items:
        record = common.standard(ctx, values)
        record.update(
            name=values.get("name", ""),
            admin_state_up=values.get("admin_state_up", True),
            status="ACTIVE",
            gw_network_id=None,
            gw_port_id=None,
            enable_snat=True,
            routes=[],
            availability_zone_hints=availability_zones.check_hints(ctx, "router",
                                                                   values.get("availability_zone_hints", [])),
            ha=bool(values.get("ha")),
            distributed=bool(values.get("distributed")),
        )
        ctx.tx.insert(KIND, [record])
        info = values.get("external_gateway_info")
        if info:
            record.update(_set_gateway(ctx, record, info))
            record["revision_number"] += 1
            ctx.tx.update(
                KIND,
                record["id"],
                {k: record[k] for k in ("gw_network_id", "gw_port_id", "enable_snat", "revision_number")},
            )
        records.append(record)
    attach_gateways(ctx, records, None)
    return records


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    router = common.load(ctx, KIND, id_, want)
    attach_gateways(ctx, [router], want)
    return router


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    page = common.listing(ctx, KIND, request, want)
    attach_gateways(ctx, page.records, want)
    return page


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    router = common.load_owned(ctx, KIND, id_, "update", if_match)
    changes = {k: v for k, v in values.items() if k in ("name", "admin_state_up", "description")}
    changes.update(_modes(router, values))
    if "external_gateway_info" in values:
        changes.update(_replace_gateway(ctx, router, values["external_gateway_info"]))
    if "routes" in values:
        changes["routes"] = _check_routes(ctx, router, values["routes"])
    changes = common.touched(ctx, changes)
    ctx.tx.update(KIND, id_, changes)
    result = common.applied(router, changes)
    attach_gateways(ctx, [result], None)
    return result


def _modes(router: Record, values: dict[str, Any]) -> dict[str, bool]:
    """``ha`` and ``distributed`` as an update sets them: changed only on a router that is administratively down
    (as Neutron's L3 plugin requires before it moves the router to other agents); null keeps the value."""
    changes = {key: bool(values[key]) for key in ("ha", "distributed") if values.get(key) is not None}
    # as Neutron 29: dvr looks at the router as it is, l3-ha at the router as the update leaves it
    active = {"distributed": router["admin_state_up"], "ha": values.get("admin_state_up", router["admin_state_up"])}
    for key, what in (("distributed", "the 'distributed' attribute"), ("ha", "HA attribute")):
        if key in changes and changes[key] != router[key] and active[key]:
            raise bad_router_request(f"Cannot change {what} of active routers. Please set router admin_state_up to "
                                     "False prior to upgrade.")  # fmt: skip
    return changes


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    router = common.load_owned(ctx, KIND, id_, "delete", if_match)
    interfaces = _interfaces(ctx, id_)
    if interfaces:
        ids = ", ".join(p["id"] for p in interfaces)
        raise conflict("RouterInUse", f"Router {id_} has ports still attached: {ids}")
    if router["gw_port_id"]:
        ctx.tx.delete(Kind.PORT, [router["gw_port_id"]])
    ctx.tx.delete(KIND, [id_])


def attach_gateways(ctx: Ctx, routers: list[Record], want: frozenset[str] | None) -> None:
    if want is not None and "external_gateway_info" not in want:
        return
    port_ids = tuple(r["gw_port_id"] for r in routers if r.get("gw_port_id"))
    ports = {}
    if port_ids:
        found = ctx.tx.find(Kind.PORT, Query(where=In("id", port_ids), want=frozenset({"fixed_ips"}))).records
        ports = {p["id"]: p for p in found}
    for router in routers:
        port = ports.get(router.get("gw_port_id") or "")
        if router.get("gw_network_id") is None:
            router["external_gateway_info"] = None
        else:
            router["external_gateway_info"] = {
                "network_id": router["gw_network_id"],
                "external_fixed_ips": list(port["fixed_ips"]) if port else [],
                "enable_snat": router["enable_snat"],
            }


# --- gateway -----------------------------------------------------------------------------------------------------


def _set_gateway(ctx: Ctx, router: Record, info: dict[str, Any]) -> dict[str, Any]:
    network = common.load(ctx, Kind.NETWORK, info["network_id"], want=frozenset())
    if not network["external"]:
        raise bad_router_request(f"Network {network['id']} is not an external network.")
    snat = info.get("enable_snat", True)
    if not ctx.admin and (not snat or "external_fixed_ips" in info):
        raise policy("update_router", "external_gateway_info")
    port_values: dict[str, Any] = {
        "network_id": network["id"],
        "device_owner": GATEWAY,
        "device_id": router["id"],
        "project_id": "",
        "admin_state_up": True,
    }
    if info.get("external_fixed_ips"):
        port_values["fixed_ips"] = info["external_fixed_ips"]
    admin_ctx = common.as_admin(ctx)
    (port,) = port_service.create(admin_ctx, [port_values], internal=True)
    return {"gw_network_id": network["id"], "gw_port_id": port["id"], "enable_snat": snat}


def _replace_gateway(ctx: Ctx, router: Record, info: dict[str, Any] | None) -> dict[str, Any]:
    if info and router["gw_network_id"] == info["network_id"] and "external_fixed_ips" not in info:
        snat = info.get("enable_snat", router["enable_snat"])
        if not ctx.admin and not snat:
            raise policy("update_router", "external_gateway_info")
        return {"enable_snat": snat}
    floating_links.check_gateway_change(ctx, router)
    if router["gw_port_id"]:
        ctx.tx.delete(Kind.PORT, [router["gw_port_id"]])
    if not info:
        return {"gw_network_id": None, "gw_port_id": None, "enable_snat": True}
    return _set_gateway(ctx, router, info)


# --- interfaces --------------------------------------------------------------------------------------------------


def _interfaces(ctx: Ctx, router_id: str) -> list[Record]:
    where = AllOf((In("device_id", (router_id,)), In("device_owner", (INTERFACE,))))
    return ctx.tx.find(Kind.PORT, Query(where=where, want=frozenset({"fixed_ips"}))).records


def add_interface(ctx: Ctx, router_id: str, body: Any) -> dict[str, Any]:
    router = common.load_owned(ctx, KIND, router_id, "add_router_interface")
    subnet_id, port_id = _interface_body(body)
    interfaces = _interfaces(ctx, router_id)
    if subnet_id is not None:
        subnet = common.load(ctx, Kind.SUBNET, subnet_id)
        if not subnet["gateway_ip"]:
            raise bad_router_request("Subnet for router interface must have a gateway IP")
        _check_new_subnet(interfaces, subnet)
        port_values = {
            "network_id": subnet["network_id"],
            "device_owner": INTERFACE,
            "device_id": router_id,
            "project_id": router["project_id"],
            "admin_state_up": True,
            "fixed_ips": [{"subnet_id": subnet_id, "ip_address": subnet["gateway_ip"]}],
        }
        (port,) = port_service.create(common.as_admin(ctx), [port_values], internal=True)
    else:
        assert port_id is not None
        port = common.load(ctx, Kind.PORT, port_id, lock=True)
        if port["device_id"] or port["device_owner"]:
            raise conflict(
                "PortInUse",
                f"Unable to complete operation on port {port_id} for network "
                f"{port['network_id']}. Port already has an attached device "
                f"{port['device_id'] or port['device_owner']}.",
            )
        if not port["fixed_ips"]:
            raise bad_router_request("Router port must have at least one fixed IP")
        for ip in port["fixed_ips"]:
            _check_new_subnet(interfaces, common.load(ctx, Kind.SUBNET, ip["subnet_id"]))
        ctx.tx.update(
            Kind.PORT,
            port_id,
            common.touched(ctx, {"device_owner": INTERFACE, "device_id": router_id, "security_groups": []}),
        )
    common.bump(ctx, KIND, router_id)
    return _interface_info(router, port)


def remove_interface(ctx: Ctx, router_id: str, body: Any) -> dict[str, Any]:
    router = common.load_owned(ctx, KIND, router_id, "remove_router_interface")
    subnet_id, port_id = _interface_body(body)
    interfaces = _interfaces(ctx, router_id)
    if port_id is not None:
        port = next((p for p in interfaces if p["id"] == port_id), None)
        if port is None:
            raise NeutronError(
                404, "RouterInterfaceNotFound", f"Router {router_id} does not have an interface with id {port_id}"
            )
    else:
        port = next((p for p in interfaces if any(ip["subnet_id"] == subnet_id for ip in p["fixed_ips"])), None)
        if port is None:
            raise NeutronError(
                404, "RouterInterfaceNotFoundForSubnet", f"Router {router_id} has no interface on subnet {subnet_id}"
            )
    for ip in port["fixed_ips"]:
        floating_links.check_interface_removal(ctx, router_id, ip["subnet_id"])
        subnet = ctx.tx.get(Kind.SUBNET, ip["subnet_id"], want=frozenset())
        if subnet is not None and _routes_via(router["routes"], subnet["cidr"]):
            raise conflict(
                "RouterInterfaceInUseByRoute",
                f"Router interface for subnet {subnet['id']} on router {router_id} cannot be deleted, as "
                "it is required by one or more routes.",
            )
    ctx.tx.delete(Kind.PORT, [port["id"]])
    common.bump(ctx, KIND, router_id)
    return _interface_info(router, port)


def _interface_body(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        raise bad_router_request("Either subnet_id or port_id must be specified.")
    subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
    if subnet_id is None and port_id is None:
        raise bad_router_request("Either subnet_id or port_id must be specified.")
    if subnet_id is not None and port_id is not None:
        raise bad_router_request("Cannot specify both subnet-id and port-id")
    for name, value in (("subnet_id", subnet_id), ("port_id", port_id)):
        if value is not None and not isinstance(value, str):
            raise bad_router_request(f"{name} must be a string")
    return subnet_id, port_id


def _check_new_subnet(interfaces: list[Record], subnet: Record) -> None:
    for port in interfaces:
        for ip in port["fixed_ips"]:
            if ip["subnet_id"] == subnet["id"]:
                raise bad_router_request(f"Router already has a port on subnet {subnet['id']}.")


def _interface_info(router: Record, port: Record) -> dict[str, Any]:
    subnet_ids = [ip["subnet_id"] for ip in port["fixed_ips"]]
    return {
        "id": router["id"],
        "tenant_id": router["project_id"],
        "project_id": router["project_id"],
        "port_id": port["id"],
        "network_id": port["network_id"],
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
    }


# --- routes ------------------------------------------------------------------------------------------------------


def _check_routes(ctx: Ctx, router: Record, routes: list[dict[str, str]]) -> list[dict[str, str]]:
    if len(routes) > ctx.config.max_routes:
        raise NeutronError(
            400,
            "RoutesExhausted",
            f"Unable to complete operation for {router['id']}. The number of "
            f"routes exceeds the maximum {ctx.config.max_routes}.",
        )
    connected = [ipam.network(s["cidr"]) for s in _connected_subnets(ctx, router)]
    result: list[dict[str, str]] = []
    for route in routes:
        entry = {"destination": route["destination"], "nexthop": route["nexthop"]}
        if entry in result:
            raise NeutronError(400, "InvalidRoutes", f"Invalid format for routes: {routes}, duplicated route {entry}")
        nexthop = ipaddress.ip_address(entry["nexthop"])
        if not any(nexthop.version == net.version and nexthop in net for net in connected):
            raise NeutronError(
                400, "InvalidRoutes", f"Invalid format for routes: {routes}, the nexthop is not connected with router"
            )
        result.append(entry)
    return result


def _connected_subnets(ctx: Ctx, router: Record) -> list[Record]:
    ports = _interfaces(ctx, router["id"])
    if router["gw_port_id"]:
        gw = ctx.tx.get(Kind.PORT, router["gw_port_id"], want=frozenset({"fixed_ips"}))
        if gw is not None:
            ports.append(gw)
    ids = tuple({ip["subnet_id"] for port in ports for ip in port["fixed_ips"]})
    if not ids:
        return []
    return ctx.tx.find(Kind.SUBNET, Query(where=In("id", ids), want=frozenset())).records


def _routes_via(routes: list[dict[str, str]], cidr: str) -> bool:
    net = ipam.network(cidr)
    return any(
        ipaddress.ip_address(r["nexthop"]).version == net.version and ipaddress.ip_address(r["nexthop"]) in net
        for r in routes
    )
