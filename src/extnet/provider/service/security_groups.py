"""Security groups and their rules, with each project's ``default`` group created on first use."""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from extnet.provider.errors import NeutronError, conflict, policy
from extnet.provider.service import common, quotas
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.store.backend import AllOf, In, Kind, Page, Query, Record

KIND = Kind.SECURITY_GROUP
RULE = Kind.SECURITY_GROUP_RULE
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}
PROTOCOL_NAMES = (
    "ah",
    "dccp",
    "egp",
    "esp",
    "gre",
    "hopopt",
    "icmp",
    "igmp",
    "ip",
    "ipip",
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "icmpv6",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "ospf",
    "pgm",
    "rsvp",
    "sctp",
    "tcp",
    "udp",
    "udplite",
    "vrrp",
)


# --- groups ------------------------------------------------------------------------------------------------------


def ensure_default(ctx: Ctx, project_id: str) -> str:
    """The id of the project's ``default`` group, creating it (with Neutron's four default rules) if needed.
    Two requests creating it at once collide on ``default_for`` and the loser is retried."""
    cached = ctx.cache.get(("default_sg", project_id))
    if cached:
        return str(cached)
    found = ctx.tx.find(KIND, Query(where=In("default_for", (project_id,)), want=frozenset())).records
    if found:
        group_id = str(found[0]["id"])
    else:
        quotas.check(ctx, project_id, {"security_group_rule": 4})  # the group itself is not checked, as in Neutron
        group = _group(ctx, project_id, "default", "Default security group", True, default=True)
        ctx.tx.insert(KIND, [group])
        rules = [_default_rule(ctx, group, "ingress", eth, remote_group=True) for eth in ("IPv4", "IPv6")]
        rules += [_default_rule(ctx, group, "egress", eth) for eth in ("IPv4", "IPv6")]
        ctx.tx.insert(RULE, rules)
        group_id = group["id"]
    ctx.cache[("default_sg", project_id)] = group_id
    return group_id


def has_default(ctx: Ctx, project_id: str) -> bool:
    return bool(ctx.tx.count(KIND, In("default_for", (project_id,))))


def create(ctx: Ctx, items: list[dict[str, Any]]) -> list[Record]:
    common.check_writer(ctx, "create_security_group")
    quotas.check_create(ctx, "security_group", items)
    groups: list[Record] = []
    rules: list[Record] = []
    for values in items:
        project_id = common.owner_project(ctx, values)
        ensure_default(ctx, project_id)
        quotas.check(ctx, project_id, {"security_group_rule": 2 + sum(r["project_id"] == project_id for r in rules)})
        if values.get("name") == "default":
            raise conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
        group = _group(
            ctx,
            project_id,
            values.get("name", ""),
            values.get("description", ""),
            values.get("stateful", True),
            tags=values.get("tags", []),
        )
        groups.append(group)
        rules += [_default_rule(ctx, group, "egress", eth) for eth in ("IPv4", "IPv6")]
    ctx.tx.insert(KIND, groups)
    ctx.tx.insert(RULE, rules)
    for group in groups:
        group["rules"] = [rule for rule in rules if rule["security_group_id"] == group["id"]]
    return groups


def _group(
    ctx: Ctx,
    project_id: str,
    name: str,
    description: str,
    stateful: bool,
    *,
    default: bool = False,
    tags: list[str] | None = None,
) -> Record:
    record = common.standard(ctx, {"project_id": project_id, "description": description, "tags": tags or []})
    record["project_id"] = project_id
    record.update(name=name, stateful=stateful, default_for=project_id if default else None)
    return record


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    group = common.load(ctx, KIND, id_, want)
    attach_rules(ctx, [group], want)
    return group


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    page = common.listing(ctx, KIND, request, want)
    attach_rules(ctx, page.records, want)
    return page


def attach_rules(ctx: Ctx, groups: list[Record], want: frozenset[str] | None) -> None:
    if not groups or (want is not None and "rules" not in want):
        return
    by_group: dict[str, list[Record]] = {group["id"]: [] for group in groups}
    ids = list(by_group)
    for start in range(0, len(ids), 500):
        cond = In("security_group_id", tuple(ids[start : start + 500]))
        for rule in ctx.tx.find(RULE, Query(where=cond)).records:
            by_group[rule["security_group_id"]].append(rule)
    for group in groups:
        group["rules"] = by_group[group["id"]]


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    group = common.load_owned(ctx, KIND, id_, "update", if_match)
    if group["default_for"] and "name" in values and values["name"] != "default":
        raise conflict("SecurityGroupCannotUpdateDefault", "Updating default security group not allowed.")
    if values.get("name") == "default" and not group["default_for"]:
        raise conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
    changes = common.touched(ctx, values)
    ctx.tx.update(KIND, id_, changes)
    result = common.applied(group, changes)
    attach_rules(ctx, [result], None)
    return result


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    group = common.load_owned(ctx, KIND, id_, "delete", if_match)
    if ctx.tx.count(Kind.PORT, In("security_groups", (id_,))):
        raise conflict("SecurityGroupInUse", f"Security Group {id_} in use.")
    if group["default_for"] and not ctx.admin:
        raise conflict("SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
    ctx.tx.delete(KIND, [id_])


# --- rules -------------------------------------------------------------------------------------------------------


def _default_rule(ctx: Ctx, group: Record, direction: str, ethertype: str, remote_group: bool = False) -> Record:
    values: dict[str, Any] = {
        "direction": direction,
        "ethertype": ethertype,
        "remote_group_id": group["id"] if remote_group else None,
    }
    return _rule(ctx, group, values)


def _rule(ctx: Ctx, group: Record, values: dict[str, Any]) -> Record:
    prefix = values.get("remote_ip_prefix")
    normalized = str(ipaddress.ip_network(prefix, strict=False)) if prefix else None
    rule: Record = {
        "id": common.new_id(),
        "project_id": group["project_id"],
        "security_group_id": group["id"],
        "direction": values["direction"],
        "ethertype": values.get("ethertype", "IPv4"),
        "protocol": values.get("protocol"),
        "port_range_min": values.get("port_range_min"),
        "port_range_max": values.get("port_range_max"),
        "remote_ip_prefix": prefix,
        "normalized_cidr": normalized,
        "remote_group_id": values.get("remote_group_id"),
        "description": values.get("description", ""),
        "revision_number": 0,
        "created_at": ctx.now,
        "updated_at": ctx.now,
    }
    rule["fingerprint"] = fingerprint(rule)
    return rule


def fingerprint(rule: Record) -> str:
    """Two rules with the same fingerprint are the same rule (Neutron's duplicate check)."""
    parts = [
        rule["security_group_id"],
        rule["direction"],
        rule["ethertype"],
        _protocol_key(rule["protocol"]),
        rule["port_range_min"],
        rule["port_range_max"],
        rule["normalized_cidr"],
        rule["remote_group_id"],
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _protocol_key(protocol: str | None) -> str | None:
    names = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp", "132": "sctp"}
    return names.get(protocol, protocol) if protocol else None


def create_rules(ctx: Ctx, items: list[dict[str, Any]]) -> list[Record]:
    common.check_writer(ctx, "create_security_group_rule")
    quotas.check_create(ctx, "security_group_rule", items)
    rules: list[Record] = []
    groups: dict[str, Record] = {}
    for values in items:
        group_id = values["security_group_id"]
        group = groups.get(group_id) or common.load(ctx, KIND, group_id, lock=True)
        groups[group_id] = group
        if not ctx.admin and group["project_id"] != ctx.project_id:
            raise policy("create_security_group_rule")
        _validate_rule(ctx, values)
        rule = _rule(ctx, group, values)
        _check_duplicate(ctx, rule, rules)
        rules.append(rule)
    ctx.tx.insert(RULE, rules)
    for group_id in groups:
        common.bump(ctx, KIND, group_id)
    return rules


def _check_duplicate(ctx: Ctx, rule: Record, pending: list[Record]) -> None:
    same = [r for r in pending if r["fingerprint"] == rule["fingerprint"]]
    same += ctx.tx.find(RULE, Query(where=In("fingerprint", (rule["fingerprint"],)))).records
    if same:
        raise conflict("SecurityGroupRuleExists", f"Security group rule already exists. Rule id is {same[0]['id']}.")


def _validate_rule(ctx: Ctx, values: dict[str, Any]) -> None:
    values["protocol"] = _protocol(values.get("protocol"))
    protocol = values["protocol"]
    low, high = values.get("port_range_min"), values.get("port_range_max")
    if (low is not None or high is not None) and protocol is None:
        raise NeutronError(
            400, "SecurityGroupProtocolRequiredWithPorts", "Must also specify protocol if port range is given."
        )
    if protocol in PORT_PROTOCOLS:
        _check_port_range(low, high)
    elif protocol in ICMP_PROTOCOLS:
        _check_icmp(low, high)
    elif low is not None or high is not None:
        raise NeutronError(
            400,
            "SecurityGroupInvalidProtocolForPortRange",
            f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.",
        )
    if sum(1 for key in ("remote_ip_prefix", "remote_group_id") if values.get(key) is not None) > 1:
        raise NeutronError(
            400,
            "SecurityGroupMultipleRemoteEntites",
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.",
        )
    prefix = values.get("remote_ip_prefix")
    if prefix is not None:
        values["remote_ip_prefix"] = _prefix(prefix, values.get("ethertype", "IPv4"))
    if values.get("remote_group_id") is not None:
        common.load(ctx, KIND, values["remote_group_id"])


def _protocol(protocol: Any) -> str | None:
    if protocol is None or protocol == "any":
        return None
    text = str(protocol).lower() if not isinstance(protocol, bool) else ""
    if text in PROTOCOL_NAMES or (text.isdigit() and 0 <= int(text) <= 255):
        return text
    names = ", ".join(repr(name) for name in PROTOCOL_NAMES)
    raise NeutronError(
        400,
        "SecurityGroupRuleInvalidProtocol",
        f"Security group rule protocol {protocol} not supported. Only protocol values (None, 'any', "
        f"{names}) and integer representations [0 to 255] are supported.",
    )


def _check_port_range(low: int | None, high: int | None) -> None:
    if low is None and high is None:
        return
    for port in (low, high):
        if port == 0:
            raise NeutronError(400, "SecurityGroupInvalidPortValue", "Invalid value for port 0.")
    if low is None or high is None or low > high:
        raise NeutronError(
            400, "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max"
        )


def _check_icmp(icmp_type: int | None, code: int | None) -> None:
    for name, field, value in (("type", "port_range_min", icmp_type), ("code", "port_range_max", code)):
        if value is not None and not 0 <= value <= 255:
            raise NeutronError(
                400,
                "SecurityGroupInvalidIcmpValue",
                f"Invalid value for ICMP {name} ({field}) {value}. It must be 0 to 255.",
            )
    if code is not None and icmp_type is None:
        raise NeutronError(
            400,
            "SecurityGroupMissingIcmpType",
            f"ICMP code (port-range-max) {code} is provided but ICMP type (port-range-min) is missing.",
        )


def _prefix(prefix: Any, ethertype: str) -> str:
    try:
        net = ipaddress.ip_network(str(prefix), strict=False)
    except ValueError:
        raise NeutronError(
            400, "HTTPBadRequest", f"Invalid input for remote_ip_prefix. Reason: '{prefix}' is not a valid IP subnet."
        ) from None
    if f"IPv{net.version}" != ethertype:
        raise NeutronError(
            400, "SecurityGroupRuleParameterConflict", f"Conflicting value ethertype {ethertype} for CIDR {prefix}"
        )
    return str(prefix) if "/" in str(prefix) else str(net)


def get_rule(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    return common.load(ctx, RULE, id_, want)


def list_rules(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    return common.listing(ctx, RULE, request, want)


def update_rule(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    rule = common.load_owned(ctx, RULE, id_, "update", if_match)
    changes = common.touched(ctx, values)
    ctx.tx.update(RULE, id_, changes)
    return common.applied(rule, changes)


def delete_rule(ctx: Ctx, id_: str, if_match: int | None) -> None:
    rule = common.load_owned(ctx, RULE, id_, "delete", if_match)
    ctx.tx.delete(RULE, [id_])
    common.bump(ctx, KIND, rule["security_group_id"])


def port_groups(ctx: Ctx, project_id: str, ids: list[str]) -> list[str]:
    """Check the groups a port names: each must exist and belong to the port's project (or be visible to an
    admin). Duplicates collapse."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return []
    cond = In("id", tuple(unique))
    if not ctx.admin:
        cond = AllOf((cond, In("project_id", (project_id,))))  # type: ignore[assignment]
    found = {r["id"] for r in ctx.tx.find(KIND, Query(where=cond, want=frozenset())).records}
    for group_id in unique:
        if group_id not in found:
            raise common.missing(KIND, group_id)
    return unique
