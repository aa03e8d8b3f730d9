"""Networks: provider segments (flat/vlan/vxlan/geneve) with Neutron's ML2 type-driver rules, MTU, sharing."""

from __future__ import annotations

from typing import Any

from extnet.provider.errors import NeutronError, conflict, invalid_input
from extnet.provider.service import availability_zones, common, quotas, rbac
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.service.config import MAX_VNI
from extnet.provider.store.backend import AllOf, In, Kind, Not, Page, Query, Record

KIND = Kind.NETWORK
NETWORK_TYPES = ("flat", "vlan", "vxlan", "geneve")
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway")


def create(ctx: Ctx, items: list[dict[str, Any]]) -> list[Record]:
    common.check_writer(ctx, "create_network")
    quotas.check_create(ctx, "network", items)
    records = []
    taken: set[str] = set()  # segment keys handed out earlier in this request
    for values in items:
        record = common.standard(ctx, values)
        segment = _segment(ctx, values, taken)
        record.update(segment)
        max_mtu = ctx.config.max_mtu(segment["network_type"])
        record.update(
            name=values.get("name", ""),
            admin_state_up=values.get("admin_state_up", True),
            status="ACTIVE",
            shared=values.get("shared", False),
            external=values.get("external", False),
            mtu=_mtu(values.get("mtu"), max_mtu, min_mtu=0),
            port_security_enabled=values.get("port_security_enabled", True),
            availability_zone_hints=availability_zones.check_hints(ctx, "network",
                                                                   values.get("availability_zone_hints", [])),
            subnets=[],
        )
        taken.add(segment["segment_key"])
        records.append(record)
    ctx.tx.insert(KIND, records)
    for record in records:
        rbac.on_network_flags(ctx, {**record, "shared": False, "external": False}, record)
    return records


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    return rbac.as_seen(ctx, common.load(ctx, KIND, id_, want))


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    request.where = rbac.seen_filters(ctx, request.where)
    page = common.listing(ctx, KIND, request, want)
    page.records = [rbac.as_seen(ctx, record) for record in page.records]
    return page


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    record = common.load_owned(ctx, KIND, id_, "update", if_match)
    if "mtu" in values:
        values["mtu"] = _mtu(values["mtu"], ctx.config.max_mtu(record["network_type"]), min_mtu=0)
        versions = {s["ip_version"] for s in ctx.tx.find(Kind.SUBNET, Query(where=In("network_id", (id_,)))).records}
        check_mtu_for_subnets(id_, values["mtu"], versions)
    if values.get("shared") is False and record["shared"]:
        _check_unshare(ctx, record)
    rbac.on_network_flags(ctx, record, values)
    changes = common.touched(ctx, values)
    ctx.tx.update(KIND, id_, changes)
    return common.applied(record, changes)


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    record = common.load_owned(ctx, KIND, id_, "delete", if_match, want=frozenset({"subnets"}))
    in_use = ctx.tx.find(Kind.PORT, Query(where=In("network_id", (id_,)), want=frozenset()))
    if in_use.records:
        ids = ",".join(sorted(port["id"] for port in in_use.records))
        raise conflict(
            "NetworkInUse",
            f"Unable to complete operation on network {id_}. There are one or more "
            f"ports still in use on the network, id for these ports is: {ids}.",
        )
    gateways = ctx.tx.count(Kind.ROUTER, In("gw_network_id", (id_,)))
    if gateways:
        raise conflict(
            "NetworkInUse",
            f"Unable to complete operation on network {id_}. There are one or more ports still in use on the network.",
        )
    ctx.tx.delete(Kind.SUBNET, record["subnets"])
    rbac.on_network_deleted(ctx, id_)
    ctx.tx.delete(KIND, [id_])


# --- segments ----------------------------------------------------------------------------------------------------


def segment_key(network_type: str, physnet: str | None, segmentation_id: int | None) -> str:
    return f"{network_type}:{physnet or ''}:{'' if segmentation_id is None else segmentation_id}"


def _segment(ctx: Ctx, values: dict[str, Any], taken: set[str]) -> dict[str, Any]:
    network_type = values.get("network_type")
    physnet = values.get("physical_network")
    seg_id = values.get("segmentation_id")
    if network_type is None:
        if physnet is not None or seg_id is not None:
            raise invalid_input("network_type required")
        network_type = ctx.config.tenant_network_type
        return _allocate(ctx, network_type, None, taken)
    if network_type not in NETWORK_TYPES:
        raise invalid_input(f"network_type value '{network_type}' not supported.")
    if network_type == "flat":
        return _flat(ctx, physnet, seg_id)
    if network_type == "vlan":
        return _vlan(ctx, physnet, seg_id, taken)
    return _tunnel(ctx, network_type, physnet, seg_id, taken)


def _flat(ctx: Ctx, physnet: str | None, seg_id: int | None) -> dict[str, Any]:
    if seg_id is not None:
        raise invalid_input("segmentation_id prohibited for flat provider network.")
    if not physnet:
        raise invalid_input("physical_network required for flat provider network.")
    if not ctx.config.flat_allowed(physnet):
        raise invalid_input(f"physical_network '{physnet}' unknown for flat provider network.")
    key = segment_key("flat", physnet, None)
    if ctx.tx.count(KIND, In("segment_key", (key,))):
        raise conflict("FlatNetworkInUse", f"Unable to create the flat network. Physical network {physnet} is in use.")
    return _seg("flat", physnet, None)


def _vlan(ctx: Ctx, physnet: str | None, seg_id: int | None, taken: set[str]) -> dict[str, Any]:
    if physnet is None:
        if seg_id is not None:
            raise invalid_input("physical_network required for VLAN provider network.")
        return _allocate(ctx, "vlan", None, taken)
    if physnet not in ctx.config.vlan_ranges:
        raise invalid_input(f"physical_network '{physnet}' unknown for VLAN provider network.")
    if seg_id is None:
        return _allocate(ctx, "vlan", physnet, taken)
    if not 1 <= seg_id <= 4094:
        raise invalid_input("segmentation_id out of range (1 through 4094).")
    key = segment_key("vlan", physnet, seg_id)
    if key in taken or ctx.tx.count(KIND, In("segment_key", (key,))):
        raise conflict(
            "VlanIdInUse", f"Unable to create the network. The VLAN {seg_id} on physical network {physnet} is in use."
        )
    return _seg("vlan", physnet, seg_id)


def _tunnel(ctx: Ctx, network_type: str, physnet: str | None, seg_id: int | None, taken: set[str]) -> dict[str, Any]:
    if physnet is not None:
        raise invalid_input(f"provider:physical_network specified for {network_type} network.")
    if seg_id is None:
        return _allocate(ctx, network_type, None, taken)
    if not 1 <= seg_id <= MAX_VNI:
        raise invalid_input(f"segmentation_id out of range (1 through {MAX_VNI}).")
    key = segment_key(network_type, None, seg_id)
    if key in taken or ctx.tx.count(KIND, In("segment_key", (key,))):
        raise conflict("TunnelIdInUse", f"Unable to create the network. The tunnel ID {seg_id} is in use.")
    return _seg(network_type, None, seg_id)


def _allocate(ctx: Ctx, network_type: str, physnet: str | None, taken: set[str]) -> dict[str, Any]:
    """A free segment of the configured tenant ranges: in the first range with one, the id after the highest in
    use, else the lowest free id (concurrent requests that pick the same one collide on the unique segment key
    and are retried)."""
    if network_type == "flat":
        raise invalid_input("flat networks need provider:physical_network")
    candidates: list[tuple[str | None, tuple[tuple[int, int], ...]]]
    if network_type == "vlan":
        candidates = [(net, ranges) for net, ranges in ctx.config.vlan_ranges.items() if physnet in (None, net)]
    else:
        candidates = [(None, ctx.config.vni_ranges)]
    for net, ranges in candidates:
        for low, high in ranges:
            seg_id = _free_in_range(ctx, network_type, net, low, high, taken)
            if seg_id is not None:
                return _seg(network_type, net, seg_id)
    raise NeutronError(
        503, "NoNetworkAvailable", "Unable to create the network. No tenant network is available for allocation."
    )


def _free_in_range(
    ctx: Ctx, network_type: str, physnet: str | None, low: int, high: int, taken: set[str]
) -> int | None:
    """A free id of the range (``Tx.free_segment``). A request goes on from the id it handed out last, so that
    every network of a bulk request costs the same however many networks exist."""
    cursor_key = ("segment_cursor", network_type, physnet, low, high)
    start, lowest = ctx.cache.get(cursor_key, (low, False))
    found = _walk(ctx, network_type, physnet, start, high, taken, lowest)
    if found is None and not lowest and start > low:  # this request took the range's top: look below
        lowest = True
        found = _walk(ctx, network_type, physnet, low, high, taken, lowest)
    ctx.cache[cursor_key] = (high + 1 if found is None else found + 1, lowest)
    return found


def _walk(
    ctx: Ctx, network_type: str, physnet: str | None, start: int, high: int, taken: set[str], lowest: bool
) -> int | None:
    """The first id from ``start`` that the store finds free and this request has not handed out yet."""
    found = ctx.tx.free_segment(network_type, physnet, start, high, lowest) if start <= high else None
    while found is not None and segment_key(network_type, physnet, found) in taken:
        found = ctx.tx.free_segment(network_type, physnet, found + 1, high, lowest) if found < high else None
    return found


def _seg(network_type: str, physnet: str | None, seg_id: int | None) -> dict[str, Any]:
    return {
        "network_type": network_type,
        "physical_network": physnet,
        "segmentation_id": seg_id,
        "segment_key": segment_key(network_type, physnet, seg_id),
    }


# --- MTU and sharing ---------------------------------------------------------------------------------------------


def _mtu(requested: int | None, max_mtu: int, min_mtu: int) -> int:
    if requested is None:
        return max_mtu
    if requested > max_mtu:
        raise invalid_input(f"Requested MTU is too big, maximum is {max_mtu}.")
    return requested


def check_mtu_for_subnets(network_id: str, mtu: int, versions: set[int]) -> None:
    minimum = 1280 if 6 in versions else 68 if versions else 0
    if mtu < minimum:
        raise conflict(
            "NetworkMTUSubnetConflict", f"MTU of {network_id} is not valid, subnet requires a minimum of {minimum}"
        )


def _check_unshare(ctx: Ctx, record: Record) -> None:
    still = rbac.targets(ctx, record["id"], "access_as_shared") - {rbac.EVERYONE}  # shared with them by name
    others = ctx.tx.count(
        Kind.PORT,
        AllOf(
            (
                In("network_id", (record["id"],)),
                Not(In("project_id", (record["project_id"], "", *sorted(still)))),
                Not(In("device_owner", ROUTER_OWNERS)),
            )
        ),
    )
    if others:
        raise conflict(
            "InvalidSharedSetting",
            f"Unable to reconfigure sharing settings for network {record['id']}. Multiple tenants are using it.",
        )
