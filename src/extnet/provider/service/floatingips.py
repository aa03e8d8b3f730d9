"""Floating IPs (the ``router`` extension's ``floatingips``, with ``fip-port-details``): an address of an external
network, held by a port of its own there, and associated with a fixed IPv4 address of a port that a router connects
to that external network (the router whose gateway is on it and which has an interface on the port's subnet)."""

from __future__ import annotations

import ipaddress
from typing import Any

from extnet.provider.errors import NeutronError, conflict, policy
from extnet.provider.service import common, quotas
from extnet.provider.service import ports as port_service
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.service.floating_links import DETACHED, KIND
from extnet.provider.store.backend import AllOf, In, Kind, Not, Page, Query, Record

OWNER = "network:floatingip"
INTERFACE_OWNERS = ("network:router_interface", "network:router_interface_distributed")
DETAILS = ("name", "network_id", "mac_address", "admin_state_up", "status", "device_id", "device_owner")


def create(ctx: Ctx, items: list[dict[str, Any]]) -> list[Record]:
    common.check_writer(ctx, "create_floatingip")
    quotas.check_create(ctx, "floatingip", items)
    records = []
    for values in items:
        network = common.load(ctx, Kind.NETWORK, values["floating_network_id"], want=frozenset())
        if not network["external"]:
            raise _bad(f"Network {network['id']} is not a valid external network.")
        record = common.standard(ctx, values, revision=0)
        port = _address_port(ctx, record["id"], network["id"], values.get("floating_ip_address"))
        record.update(DETACHED, floating_network_id=network["id"], floating_port_id=port["id"],
                      floating_ip_address=port["fixed_ips"][0]["ip_address"])  # fmt: skip
        if values.get("fixed_port_id"):
            record.update(_association(ctx, record, values["fixed_port_id"], values.get("fixed_ip_address")))
        ctx.tx.insert(KIND, [record])
        records.append(record)
    attach_port_details(ctx, records, None)
    return records


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    record = common.load(ctx, KIND, id_, want)
    attach_port_details(ctx, [record], want)
    return record


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    page = common.listing(ctx, KIND, request, want)
    attach_port_details(ctx, page.records, want)
    return page


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    record = common.load_owned(ctx, KIND, id_, "update", if_match)
    changes: dict[str, Any] = {key: values[key] for key in ("description",) if key in values}
    if "fixed_port_id" in values:
        port_id = values["fixed_port_id"]
        changes.update(_association(ctx, record, port_id, values.get("fixed_ip_address")) if port_id else DETACHED)
    elif "fixed_ip_address" in values:
        raise _bad("fixed_ip_address cannot be specified without a port_id")
    changes = common.touched(ctx, changes)
    ctx.tx.update(KIND, id_, changes)
    result = common.applied(record, changes)
    attach_port_details(ctx, [result], None)
    return result


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    record = common.load_owned(ctx, KIND, id_, "delete", if_match)
    ctx.tx.delete(KIND, [id_])
    ctx.tx.delete(Kind.PORT, [record["floating_port_id"]])


def attach_port_details(ctx: Ctx, records: list[Record], want: frozenset[str] | None) -> None:
    """``port_details``: a few fields of the associated port (``fip-port-details``)."""
    if want is not None and "port_details" not in want:
        return
    ids = tuple({r["fixed_port_id"] for r in records if r.get("fixed_port_id")})
    found = ctx.tx.find(Kind.PORT, Query(where=In("id", ids), want=frozenset(DETAILS))).records if ids else []
    details = {port["id"]: {key: port[key] for key in DETAILS} for port in found}
    for record in records:
        record["port_details"] = details.get(record.get("fixed_port_id") or "")


def pools(ctx: Ctx) -> list[dict[str, Any]]:
    """``floatingip-pools``: the subnets of the external networks the caller sees."""
    external = common.scoped(ctx, Kind.NETWORK, [In("external", (True,))])
    networks = ctx.tx.find(Kind.NETWORK, Query(where=external, want=frozenset())).records
    subnets = ctx.tx.find(Kind.SUBNET, Query(where=In("network_id", tuple(n["id"] for n in networks)))).records
    return [{"subnet_id": s["id"], "subnet_name": s["name"], "project_id": s["project_id"],
             "tenant_id": s["project_id"], "network_id": s["network_id"], "cidr": s["cidr"]}
            for s in subnets if s["ip_version"] == 4]  # fmt: skip


# --- rules ----------------------------------------------------------------------------------------------------------


def _bad(message: str) -> NeutronError:
    return NeutronError(400, "BadRequest", f"Bad floatingip request: {message}")


def _address_port(ctx: Ctx, fip_id: str, network_id: str, address: str | None) -> Record:
    values: dict[str, Any] = {"network_id": network_id, "device_owner": OWNER, "device_id": fip_id, "project_id": "",
                              "admin_state_up": True}  # fmt: skip
    if address:
        values["fixed_ips"] = [{"ip_address": address}]
    (port,) = port_service.create(common.as_admin(ctx), [values], internal=True)
    v4 = [ip for ip in port["fixed_ips"] if ipaddress.ip_address(ip["ip_address"]).version == 4]
    if not v4:
        raise _bad(f"Network {network_id} has no IPv4 subnet to take a floating IP from.")
    port["fixed_ips"] = v4
    return port


def _association(ctx: Ctx, fip: Record, port_id: str, fixed_ip: str | None) -> dict[str, Any]:
    """Where the floating IP points once associated with the port: its fixed IPv4 address and the router that
    connects that address's subnet to the floating IP's network."""
    port = common.load(ctx, Kind.PORT, port_id, want=frozenset({"fixed_ips", "network_id", "project_id"}))
    if not ctx.admin and port["project_id"] != ctx.project_id:
        raise policy("update_floatingip", "port_id")
    v4 = [ip for ip in port["fixed_ips"] if ipaddress.ip_address(ip["ip_address"]).version == 4]
    if fixed_ip is not None:
        chosen = next((ip for ip in v4 if ip["ip_address"] == fixed_ip), None)
        if chosen is None:
            raise _bad(f"Port {port_id} does not have fixed ip {fixed_ip}")
    elif len(v4) == 1:
        chosen = v4[0]
    elif not v4:
        raise _bad(f"Port {port_id} does not have any IPv4 address")
    else:
        raise _bad(f"Port {port_id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when "
                   "assigning a floating IP")  # fmt: skip
    router_id = _router_between(ctx, fip["floating_network_id"], port["network_id"], chosen["subnet_id"])
    if router_id is None:
        raise NeutronError(404, "ExternalGatewayForFloatingIPNotFound", f"External network "
                           f"{fip['floating_network_id']} is not reachable from subnet {chosen['subnet_id']}.  "
                           f"Therefore, cannot associate Port {port_id} with a Floating IP.")  # fmt: skip
    _refuse_second(ctx, fip, port_id, chosen["ip_address"])
    return {"fixed_port_id": port_id, "fixed_ip_address": chosen["ip_address"], "router_id": router_id}


def _router_between(ctx: Ctx, external_id: str, network_id: str, subnet_id: str) -> str | None:
    """A router with its gateway on the external network and an interface on the subnet."""
    interfaces = ctx.tx.find(Kind.PORT, Query(where=AllOf((In("network_id", (network_id,)),
                                                            In("device_owner", INTERFACE_OWNERS))),
                                              want=frozenset({"device_id", "fixed_ips"}))).records  # fmt: skip
    routers = sorted({p["device_id"] for p in interfaces if any(ip["subnet_id"] == subnet_id for ip in p["fixed_ips"])})
    if not routers:
        return None
    gateways = ctx.tx.find(Kind.ROUTER, Query(where=AllOf((In("id", tuple(routers)),
                                                            In("gw_network_id", (external_id,)))),
                                              want=frozenset())).records  # fmt: skip
    return min((router["id"] for router in gateways), default=None)


def _refuse_second(ctx: Ctx, fip: Record, port_id: str, fixed_ip: str) -> None:
    where = AllOf((In("fixed_port_id", (port_id,)), In("fixed_ip_address", (fixed_ip,)),
                   In("floating_network_id", (fip["floating_network_id"],)), Not(In("id", (fip["id"],)))))  # fmt: skip
    if ctx.tx.count(KIND, where):
        raise conflict("FloatingIPPortAlreadyAssociated", f"Cannot associate floating IP {fip['floating_ip_address']} "
                       f"({fip['id']}) with port {port_id} using fixed IP {fixed_ip}, as that fixed IP already has a "
                       f"floating IP on external network {fip['floating_network_id']}.")  # fmt: skip

