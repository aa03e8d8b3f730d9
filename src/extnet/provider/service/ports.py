"""Ports: MAC and fixed IP allocation, security groups and port security, address pairs, and binding."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from extnet.provider.errors import NeutronError, bad_request, conflict, invalid_input
from extnet.provider.service import binding, common, floating_links, ipam, port_policy, quotas
from extnet.provider.service import security_groups as sg
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.store.backend import AllOf, FixedIp, In, Kind, Page, Query, Record

KIND = Kind.PORT
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway")
NO_GROUPS_OWNERS = ("network:",)
MAC_DRAWS = 16  # as Neutron's mac_generation_retries


def create(ctx: Ctx, items: list[dict[str, Any]], internal: bool = False) -> list[Record]:
    if not internal:
        common.check_writer(ctx, "create_port")
        quotas.check_create(ctx, "port", items)
        for values in items:  # Neutron checks every port of a bulk request before it creates any
            port_policy.check_create(ctx, network_of(ctx, values["network_id"]), values)
    allocator = ipam.Ipam(ctx.tx)
    records: list[Record] = []
    fresh = _fresh_macs(ctx, items)
    for values, drawn in zip(items, fresh, strict=True):
        network = network_of(ctx, values["network_id"])
        record = common.standard(ctx, values)
        mac: str = values.get("mac_address") or drawn
        if "mac_address" in values:
            _check_mac_free(ctx, network["id"], mac, records)
        owner: str = values.get("device_owner", "")
        secure: bool = common.pick(values, "port_security_enabled", network["port_security_enabled"])
        groups = _groups(ctx, values, record["project_id"], secure, owner)
        pairs = _address_pairs(ctx, values.get("allowed_address_pairs", []), mac, secure)
        fixed = allocate(ctx, allocator, network, values.get("fixed_ips"), mac, owner)
        host = values.get("host_id", "")
        vnic_type = values.get("vnic_type", "normal")
        vif_type, vif_details = binding.bind(ctx, network, host, vnic_type)
        record.update(
            name=values.get("name", ""),
            network_id=network["id"],
            mac_address=mac,
            admin_state_up=values.get("admin_state_up", True),
            status="DOWN",
            device_id=values.get("device_id", ""),
            device_owner=owner,
            port_security_enabled=secure,
            allowed_address_pairs=pairs,
            host_id=host,
            vnic_type=vnic_type,
            profile=values.get("profile", {}),
            vif_type=vif_type,
            vif_details=vif_details,
            fixed_ips=fixed,
            security_groups=groups,
        )
        records.append(record)
    allocator.save_cursors()
    ctx.tx.insert(KIND, records)
    return records


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    return common.load(ctx, KIND, id_, want)


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    return common.listing(ctx, KIND, request, want)


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    common.check_writer(ctx, "update_port")
    port = common.load(ctx, KIND, id_, lock=True)
    network = network_of(ctx, port["network_id"])
    port_policy.check_update(ctx, port, network, values)
    common.check_revision(port, if_match)
    changes = dict(values)
    mac: str = common.pick(values, "mac_address", port["mac_address"])
    if mac != port["mac_address"]:
        if port["vif_type"] not in ("unbound", "binding_failed"):
            raise conflict(
                "PortBound",
                f"Unable to complete operation on port {id_}, port is already bound, port "
                f"type: {port['vif_type']}, old_mac {port['mac_address']}, new_mac {mac}.",
            )
        _check_mac_free(ctx, network["id"], mac, [])
    secure: bool = common.pick(values, "port_security_enabled", port["port_security_enabled"])
    groups = port["security_groups"]
    if "security_groups" in values:
        groups = sg.port_groups(ctx, port["project_id"], values["security_groups"])
        changes["security_groups"] = groups
    if not secure and groups:
        if "security_groups" in values:
            raise _groups_need_port_security()
        raise conflict(
            "PortSecurityPortHasSecurityGroup",
            "Port has security group associated. Cannot disable port "
            "security or IP address until security group is removed.",
        )
    pairs = port["allowed_address_pairs"]
    if "allowed_address_pairs" in values:
        pairs = _address_pairs(ctx, values["allowed_address_pairs"], mac, True)
        changes["allowed_address_pairs"] = pairs
    if not secure and pairs:
        raise _pairs_need_port_security()
    if "fixed_ips" in values:
        own = {ip["ip_address"] for ip in port["fixed_ips"]}
        owner = common.pick(values, "device_owner", port["device_owner"])
        allocator = ipam.Ipam(ctx.tx)
        changes["fixed_ips"] = allocate(ctx, allocator, network, values["fixed_ips"], mac, owner, own)
        allocator.save_cursors()
    elif mac != port["mac_address"]:
        changes["fixed_ips"] = _readdress(ctx, network, port["fixed_ips"], mac)
    _rebind(ctx, port, network, values, changes)
    _forget_reports(ctx, port, values, changes)
    changes = common.touched(ctx, changes)
    ctx.tx.update(KIND, id_, changes)
    return common.applied(port, changes)


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    port = common.load_owned(ctx, KIND, id_, "delete", if_match, want=frozenset())
    if port["device_owner"] in (*ROUTER_OWNERS, "network:floatingip"):
        raise conflict(
            "ServicePortInUse",
            f"Port {id_} cannot be deleted directly via the port API: has device owner {port['device_owner']}.",
        )
    floating_links.detach_port(ctx, id_)
    ctx.tx.delete(KIND, [id_])


# --- helpers -----------------------------------------------------------------------------------------------------


def network_of(ctx: Ctx, network_id: str) -> Record:
    cached = ctx.cache.get(("network", network_id))
    if cached is None:
        cached = common.load(ctx, Kind.NETWORK, network_id, want=frozenset())
        subnets = ctx.tx.find(Kind.SUBNET, Query(where=In("network_id", (network_id,)), want=frozenset())).records
        cached["subnet_records"] = sorted(subnets, key=lambda s: (s["created_at"], s["id"]))
        ctx.cache[("network", network_id)] = cached
    return dict(cached)


def _new_mac() -> str:
    # Neutron's base MAC; _fresh_macs skips those in use (concurrent requests drawing the same one collide on the
    # store's unique key and are retried)
    a, b, c = secrets.token_bytes(3)
    return f"fa:16:3e:{a:02x}:{b:02x}:{c:02x}"


def _fresh_macs(ctx: Ctx, items: list[dict[str, Any]]) -> list[str]:
    """A random MAC for each port that names none ("" for the others), none in use on its network: drawn, then
    checked in one query per network and draw. With a hundred thousand ports on a network a random draw meets a used
    address every few hundred ports, and a bulk request retried whole for it would rarely get through."""
    wanted = Counter(values["network_id"] for values in items if not values.get("mac_address"))
    fresh: dict[str, list[str]] = {}
    for network_id, count in wanted.items():
        chosen: set[str] = set()
        for _ in range(MAC_DRAWS):
            draw = {_new_mac() for _ in range(count - len(chosen))} - chosen
            where = AllOf((In("network_id", (network_id,)), In("mac_address", tuple(draw))))
            used = ctx.tx.find(KIND, Query(where=where, want=frozenset()))
            chosen |= draw - {port["mac_address"] for port in used.records}
            if len(chosen) == count:
                break
        else:
            raise NeutronError(503, "MacAddressGenerationFailure",
                               f"Unable to generate unique mac on network {network_id}.")  # fmt: skip
        fresh[network_id] = list(chosen)
    return ["" if values.get("mac_address") else fresh[values["network_id"]].pop() for values in items]


def _check_mac_free(ctx: Ctx, network_id: str, mac: str, pending: list[Record]) -> None:
    taken = any(p["mac_address"] == mac and p["network_id"] == network_id for p in pending) or ctx.tx.count(
        KIND, AllOf((In("network_id", (network_id,)), In("mac_address", (mac,))))
    )
    if taken:
        raise conflict(
            "MacAddressInUse",
            f"Unable to complete operation for network {network_id}. The mac address {mac} is in use.",
        )


def _groups(ctx: Ctx, values: dict[str, Any], project_id: str, secure: bool, owner: str) -> list[str]:
    if "security_groups" in values:
        groups = sg.port_groups(ctx, project_id, values["security_groups"])
        if groups and not secure:
            raise _groups_need_port_security()
        return groups
    if not secure or owner.startswith(NO_GROUPS_OWNERS):
        return []
    return [sg.ensure_default(ctx, project_id)]


def _groups_need_port_security() -> NeutronError:
    return NeutronError(
        400,
        "PortSecurityAndIPRequiredForSecurityGroups",
        "Port security must be enabled and port must have an IP address in order to use security groups.",
    )


def _pairs_need_port_security() -> NeutronError:
    return conflict(
        "AddressPairAndPortSecurityRequired",
        "Port Security must be enabled in order to have allowed address pairs on a port.",
    )


def _address_pairs(ctx: Ctx, pairs: list[dict[str, str]], mac: str, secure: bool) -> list[dict[str, str]]:
    result: list[dict[str, str]] = []
    for pair in pairs:
        entry = {"ip_address": pair["ip_address"], "mac_address": pair.get("mac_address") or mac}
        if entry in result:
            raise NeutronError(
                400,
                "DuplicateAddressPairInRequest",
                "Request contains duplicate address pair: "
                f"mac_address {entry['mac_address']} ip_address {entry['ip_address']}.",
            )
        result.append(entry)
    if len(result) > ctx.config.max_allowed_address_pairs:
        raise NeutronError(
            400,
            "AllowedAddressPairExhausted",
            f"The number of allowed address pair exceeds the maximum {ctx.config.max_allowed_address_pairs}.",
        )
    if result and not secure:
        raise _pairs_need_port_security()
    return result


def allocate(
    ctx: Ctx,
    allocator: ipam.Ipam,
    network: Record,
    requested: list[dict[str, str]] | None,
    mac: str,
    owner: str,
    own: set[str] | None = None,
) -> list[FixedIp]:
    """The port's fixed IPs: Neutron's defaults when none are asked for (one IPv4 address, one stateful IPv6
    address), else the ones asked for; and, as in Neutron, always the EUI-64 address on every SLAAC subnet
    (except for router ports)."""
    subnets: list[Record] = network["subnet_records"]
    if requested is None:
        result = _defaults(allocator, network, subnets)
    else:
        result = [_one(allocator, network, subnets, item, mac, own or set()) for item in requested]
    if owner not in ROUTER_OWNERS:
        covered = {ip["subnet_id"] for ip in result}
        for subnet in subnets:
            if ipam.is_auto(subnet) and subnet["id"] not in covered:
                address = allocator.claim(subnet, ipam.eui64(subnet["cidr"], mac), own or set())
                result.append({"subnet_id": subnet["id"], "ip_address": address})
    return result


def _defaults(allocator: ipam.Ipam, network: Record, subnets: list[Record]) -> list[FixedIp]:
    result: list[FixedIp] = []
    v4 = [s for s in subnets if s["ip_version"] == 4]
    v6 = [s for s in subnets if s["ip_version"] == 6 and not ipam.is_auto(s)]
    for group in (v4, v6):
        if not group:
            continue
        for subnet in group:
            address = allocator.next_free(subnet)
            if address is not None:
                result.append({"subnet_id": subnet["id"], "ip_address": address})
                break
        else:
            raise ipam.exhausted(network["id"])
    return result


def _one(
    allocator: ipam.Ipam, network: Record, subnets: list[Record], item: dict[str, str], mac: str, own: set[str]
) -> FixedIp:
    subnet_id, address = item.get("subnet_id"), item.get("ip_address")
    if subnet_id is not None:
        subnet = next((s for s in subnets if s["id"] == subnet_id), None)
        if subnet is None:
            raise invalid_input(
                f"Failed to create port on network {network['id']}, because fixed_ips included "
                f"invalid subnet {subnet_id}."
            )
        if address is None:
            if ipam.is_auto(subnet):
                return {
                    "subnet_id": subnet_id,
                    "ip_address": allocator.claim(subnet, ipam.eui64(subnet["cidr"], mac), own),
                }
            found = allocator.next_free(subnet)
            if found is None:
                raise ipam.exhausted(network["id"])
            return {"subnet_id": subnet_id, "ip_address": found}
        if not ipam.valid_for_subnet(subnet, address):
            raise ipam.invalid_for_subnet(address)
    elif address is not None:
        found_subnet = ipam.subnet_for(subnets, address)
        if found_subnet is None:
            raise ipam.invalid_for_network(address)
        subnet = found_subnet
    else:
        raise bad_request("Invalid input for fixed_ips: each entry needs subnet_id or ip_address.")
    if ipam.is_auto(subnet) and address != ipam.eui64(subnet["cidr"], mac):
        raise invalid_input(
            f"IPv6 address {address} cannot be directly assigned to a port on subnet {subnet['id']} "
            "as the subnet is configured for automatic addresses"
        )
    return {"subnet_id": subnet["id"], "ip_address": allocator.claim(subnet, address, own)}


def _readdress(ctx: Ctx, network: Record, fixed: list[FixedIp], mac: str) -> list[FixedIp]:
    """A new MAC moves the port's EUI-64 addresses with it."""
    allocator = ipam.Ipam(ctx.tx)
    subnets = {s["id"]: s for s in network["subnet_records"]}
    result: list[FixedIp] = []
    for ip in fixed:
        subnet = subnets.get(ip["subnet_id"])
        if subnet is not None and ipam.is_auto(subnet):
            ip = {"subnet_id": ip["subnet_id"], "ip_address": allocator.claim(subnet, ipam.eui64(subnet["cidr"], mac))}
        result.append(ip)
    return result


def _rebind(ctx: Ctx, port: Record, network: Record, values: dict[str, Any], changes: dict[str, Any]) -> None:
    host: str = common.pick(values, "host_id", port["host_id"])
    vnic_type: str = common.pick(values, "vnic_type", port["vnic_type"])
    # Like ML2, any update retries a binding that failed (the host may have an agent by now).
    retry = bool(host) and port["vif_type"] == "binding_failed"
    if retry or host != port["host_id"] or vnic_type != port["vnic_type"] or "profile" in values:
        vif_type, details = binding.bind(ctx, network, host, vnic_type)
        changes.update(vif_type=vif_type, vif_details=details)
        if host != port["host_id"]:
            changes["status"] = "DOWN"
    if values.get("admin_state_up") is False:
        changes["status"] = "DOWN"


def _forget_reports(ctx: Ctx, port: Record, values: dict[str, Any], changes: dict[str, Any]) -> None:
    """A port newly bound to a host, bound again, or enabled again has a status its host's agent may have reported
    otherwise already (and will not report again while its device digest matches): that agent reports all again."""
    host: str = common.pick(values, "host_id", port["host_id"])
    enabled = values.get("admin_state_up") is True and not port["admin_state_up"]
    if host and (host != port["host_id"] or "vif_type" in changes or enabled):
        binding.forget_reports(ctx, host)


@dataclass(frozen=True)
class Followed:
    """What a host's device report did to the ports it named: those bound to the host end ACTIVE or DOWN; the
    others (bound elsewhere, or not at all) are ignored."""

    active: AbstractSet[str] = frozenset()
    down: AbstractSet[str] = frozenset()
    ignored: AbstractSet[str] = frozenset()

    def statuses(self) -> dict[str, str]:
        """{port id: status} of every port that followed."""
        return dict.fromkeys(self.active, "ACTIVE") | dict.fromkeys(self.down, "DOWN")


def set_status(ctx: Ctx, host: str, up: list[str], down: list[str]) -> Followed:
    """The data plane on ``host`` reports ports up or down (down wins for a port in both): ports bound there follow
    (others are ignored). Writes only the ports whose status changes, and handles the usual ones (ACTIVE and
    reported up) in bulk: a host reports all its ports now and then."""
    if not up and not down:
        return Followed()
    down_set = set(down)
    active, others = ctx.tx.port_states(host, [*up, *down])
    going_down = active & down_set
    active -= going_down
    ends_down = set(going_down)
    changed: dict[str, list[str]] = {"ACTIVE": [], "DOWN": sorted(going_down)}
    for id_, status, enabled in others:
        target = "ACTIVE" if enabled and id_ not in down_set else "DOWN"
        if status != target:
            changed[target].append(id_)
        (active if target == "ACTIVE" else ends_down).add(id_)
    for target, ids in changed.items():
        ctx.tx.update_many(KIND, ids, common.touched(ctx, {"status": target}))
    ignored: AbstractSet[str] = frozenset()
    if len(active) + len(ends_down) < len(up) + len(down):  # some reported port did not follow (or came twice)
        ignored = set(up).union(down_set) - active - ends_down
    return Followed(active, ends_down, ignored)
