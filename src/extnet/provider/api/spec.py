"""One declarative place per resource: wire names, the record fields they map to, what may be set on create and
update, who may set or see them, and which are filters and sort keys. ``Mapper`` applies a spec: it turns request
bodies into converted field values (rejecting unknown or read-only attributes, as Neutron does) and records back
into wire dicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from extnet.provider.api import convert as cv
from extnet.provider.errors import bad_request, policy
from extnet.provider.store.backend import Kind, Record

Getter = Callable[[Record], Any]
ADMIN_EVEN_DEFAULT = object()  # as an Attr's default: no value, not even the default, may be set but by an admin


@dataclass(frozen=True)
class Attr:
    wire: str
    key: str = ""  # record field (default: the wire name); "" for attributes computed from the record
    convert: cv.Converter | None = None  # None: not accepted in bodies
    post: bool = False
    put: bool = False
    required: bool = False
    filter: str | None = None  # "str", "bool", "int" or None: how query-string values convert
    sort: bool = False
    admin_only: bool = False  # only an admin sees it and may set it to anything but its default
    admin_set: bool = False  # everyone sees it; only an admin may set it to anything but its default
    default: Any = None  # the value a non-admin may still send for an admin_only/admin_set attribute
    policed: bool = False  # who may set it is the service's policy (ports: service/port_policy.py), not the above
    render: Getter | None = None

    @property
    def field(self) -> str:
        return self.key or self.wire


def _a(wire: str, key: str = "", **kw: Any) -> Attr:
    return Attr(wire, key or wire, **kw)


def _standard(*, tags: bool = True) -> list[Attr]:
    attrs = [
        _a("project_id", convert=cv.string(64), post=True, filter="str", sort=True),
        _a("tenant_id", "project_id", convert=cv.string(64), post=True, filter="str", sort=True),
        _a("description", convert=cv.string(255), post=True, put=True, filter="str"),
        _a("revision_number", filter="int"),
        _a("created_at"),
        _a("updated_at"),
    ]
    if tags:
        attrs.append(_a("tags"))
    return attrs


@dataclass(frozen=True)
class ResourceSpec:
    kind: Kind
    singular: str
    plural: str
    path: str  # the collection's URL segment
    attrs: tuple[Attr, ...]
    taggable: bool = True
    by_wire: dict[str, Attr] = field(init=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_wire", {a.wire: a for a in self.attrs})


def _pairs(pairs: list[list[str]], first: str, second: str) -> list[dict[str, str]]:
    return [{first: a, second: b} for a, b in pairs]


POOL = cv.record(["start", "end"], [], {"start": cv.ip_address, "end": cv.ip_address})
ROUTE = cv.record(["destination", "nexthop"], [], {"destination": cv.cidr, "nexthop": cv.ip_address})
FIXED_IP = cv.record([], ["subnet_id", "ip_address"], {"subnet_id": cv.uuid_str, "ip_address": cv.ip_address})
ADDRESS_PAIR = cv.record(["ip_address"], ["mac_address"], {"ip_address": cv.ip_or_cidr, "mac_address": cv.mac})
GATEWAY = cv.record(
    ["network_id"],
    ["enable_snat", "external_fixed_ips", "qos_policy_id"],
    {"network_id": cv.uuid_str, "enable_snat": cv.boolean, "external_fixed_ips": cv.list_of(FIXED_IP)},
)


def _gateway_info(name: str, value: Any) -> dict[str, Any] | None:
    if value is None or value == {}:
        return None
    converted: dict[str, Any] = GATEWAY(name, value)
    return converted


VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
    "accelerator-direct",
    "accelerator-direct-physical",
)
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")

NETWORK = ResourceSpec(
    Kind.NETWORK,
    "network",
    "networks",
    "networks",
    (
        _a("id", filter="str", sort=True),
        _a("name", convert=cv.string(), post=True, put=True, filter="str", sort=True),
        _a("admin_state_up", convert=cv.boolean, post=True, put=True, filter="bool", sort=True),
        _a("status", filter="str", sort=True),
        _a("subnets"),
        _a("shared", convert=cv.boolean, post=True, put=True, filter="bool", admin_set=True, default=False),
        _a("mtu", convert=cv.integer(0, 65535), post=True, put=True, filter="int", sort=True),
        _a("port_security_enabled", convert=cv.boolean, post=True, put=True),
        _a("availability_zone_hints", convert=cv.list_of(cv.string(255)), post=True),
        _a("availability_zones", render=lambda _record: []),
        _a(
            "router:external",
            "external",
            convert=cv.boolean,
            post=True,
            put=True,
            filter="bool",
            admin_set=True,
            default=False,
        ),
        _a(
            "provider:network_type",
            "network_type",
            convert=cv.string(64),
            post=True,
            filter="str",
            admin_only=True,
        ),
        _a(
            "provider:physical_network",
            "physical_network",
            convert=cv.string(64),
            post=True,
            filter="str",
            admin_only=True,
        ),
        _a(
            "provider:segmentation_id",
            "segmentation_id",
            convert=cv.integer(),
            post=True,
            filter="int",
            admin_only=True,
        ),
        *_standard(),
    ),
)

SUBNET = ResourceSpec(
    Kind.SUBNET,
    "subnet",
    "subnets",
    "subnets",
    (
        _a("id", filter="str", sort=True),
        _a("name", convert=cv.string(), post=True, put=True, filter="str", sort=True),
        _a("network_id", convert=cv.uuid_str, post=True, required=True, filter="str", sort=True),
        _a("ip_version", convert=cv.ip_version, post=True, required=True, filter="int", sort=True),
        _a("cidr", convert=cv.cidr, post=True, required=True, filter="cidr", sort=True),
        _a("gateway_ip", convert=cv.ip_or_none, post=True, put=True, filter="str", sort=True),
        _a(
            "allocation_pools",
            convert=cv.list_of(POOL),
            post=True,
            put=True,
            render=lambda r: _pairs(r["allocation_pools"], "start", "end"),
        ),
        _a("dns_nameservers", convert=cv.list_of(cv.ip_address), post=True, put=True),
        _a(
            "host_routes",
            convert=cv.list_of(ROUTE),
            post=True,
            put=True,
            render=lambda r: _pairs(r["host_routes"], "destination", "nexthop"),
        ),
        _a("enable_dhcp", convert=cv.boolean, post=True, put=True, filter="bool", sort=True),
        _a("ipv6_ra_mode", convert=cv.one_of(IPV6_MODES, nullable=True), post=True, filter="str", sort=True),
        _a("ipv6_address_mode", convert=cv.one_of(IPV6_MODES, nullable=True), post=True, filter="str", sort=True),
        *_standard(),
    ),
)

PORT = ResourceSpec(
    Kind.PORT,
    "port",
    "ports",
    "ports",
    (
        _a("id", filter="str", sort=True),
        _a("name", convert=cv.string(), post=True, put=True, filter="str", sort=True),
        _a("network_id", convert=cv.uuid_str, post=True, required=True, filter="str", sort=True),
        _a("mac_address", convert=cv.mac, post=True, put=True, filter="str", sort=True),
        _a("admin_state_up", convert=cv.boolean, post=True, put=True, filter="bool", sort=True),
        _a("status", filter="str", sort=True),
        _a("device_id", convert=cv.string(255), post=True, put=True, filter="str", sort=True),
        _a("device_owner", convert=cv.string(255), post=True, put=True, filter="str", sort=True),
        _a("fixed_ips", convert=cv.list_of(FIXED_IP), post=True, put=True, filter="fixed_ips"),
        _a("security_groups", convert=cv.list_of(cv.uuid_str), post=True, put=True, filter="str"),
        _a("port_security_enabled", convert=cv.boolean, post=True, put=True),
        _a("allowed_address_pairs", convert=cv.list_of(ADDRESS_PAIR), post=True, put=True),
        _a(
            "binding:host_id",
            "host_id",
            convert=cv.string(255),
            post=True,
            put=True,
            filter="str",
            admin_only=True,
            policed=True,
        ),
        _a("binding:vnic_type", "vnic_type", convert=cv.one_of(VNIC_TYPES), post=True, put=True),
        _a("binding:profile", "profile", convert=cv.dictionary, post=True, put=True, admin_only=True, policed=True),
        _a("binding:vif_type", "vif_type", admin_only=True),
        _a("binding:vif_details", "vif_details", admin_only=True),
        *_standard(),
    ),
)

SECURITY_GROUP_RULE = ResourceSpec(
    Kind.SECURITY_GROUP_RULE,
    "security_group_rule",
    "security_group_rules",
    "security-group-rules",
    (
        _a("id", filter="str", sort=True),
        _a("security_group_id", convert=cv.uuid_str, post=True, required=True, filter="str", sort=True),
        _a("direction", convert=cv.one_of(("ingress", "egress")), post=True, required=True, filter="str", sort=True),
        _a("ethertype", convert=cv.one_of(("IPv4", "IPv6")), post=True, filter="str", sort=True),
        _a("protocol", convert=cv.anything, post=True, filter="str", sort=True),
        _a("port_range_min", convert=cv.integer(0, 65535, nullable=True), post=True, filter="int", sort=True),
        _a("port_range_max", convert=cv.integer(0, 65535, nullable=True), post=True, filter="int", sort=True),
        _a("remote_ip_prefix", convert=cv.anything, post=True, filter="str", sort=True),
        _a("remote_group_id", convert=cv.uuid_or_none, post=True, filter="str", sort=True),
        _a("normalized_cidr"),
        _a("project_id", convert=cv.string(64), post=True, filter="str", sort=True),
        _a("tenant_id", "project_id", convert=cv.string(64), post=True, filter="str", sort=True),
        _a("description", convert=cv.string(255), post=True, put=True, filter="str"),
        _a("revision_number", filter="int"),
        _a("created_at"),
        _a("updated_at"),
    ),
    taggable=False,
)

SECURITY_GROUP = ResourceSpec(
    Kind.SECURITY_GROUP,
    "security_group",
    "security_groups",
    "security-groups",
    (
        _a("id", filter="str", sort=True),
        _a("name", convert=cv.string(), post=True, put=True, filter="str", sort=True),
        _a("stateful", convert=cv.boolean, post=True, put=True, filter="bool"),
        _a("security_group_rules", "rules"),
        *_standard(),
    ),
)

ROUTER = ResourceSpec(
    Kind.ROUTER,
    "router",
    "routers",
    "routers",
    (
        _a("id", filter="str", sort=True),
        _a("name", convert=cv.string(), post=True, put=True, filter="str", sort=True),
        _a("admin_state_up", convert=cv.boolean, post=True, put=True, filter="bool", sort=True),
        _a("status", sort=True),
        _a("external_gateway_info", convert=_gateway_info, post=True, put=True),
        _a("routes", convert=cv.list_of(ROUTE), put=True),
        _a("availability_zone_hints", convert=cv.list_of(cv.string(255)), post=True),
        _a("availability_zones", render=lambda _record: []),
        _a("ha", convert=cv.optional(cv.boolean), post=True, put=True, admin_only=True, default=ADMIN_EVEN_DEFAULT),
        _a("distributed", convert=cv.optional(cv.boolean), post=True, put=True, admin_only=True,
           default=ADMIN_EVEN_DEFAULT),  # fmt: skip
        *_standard(),
    ),
)

FLOATINGIP = ResourceSpec(
    Kind.FLOATINGIP,
    "floatingip",
    "floatingips",
    "floatingips",
    (
        _a("id", filter="str", sort=True),
        _a("floating_ip_address", convert=cv.ip_address, post=True, filter="str", sort=True),
        _a("floating_network_id", convert=cv.uuid_str, post=True, required=True, filter="str", sort=True),
        _a("router_id", filter="str", sort=True),
        _a("port_id", "fixed_port_id", convert=cv.optional(cv.uuid_str), post=True, put=True, filter="str",
           sort=True),  # fmt: skip
        _a("fixed_ip_address", convert=cv.optional(cv.ip_address), post=True, put=True, filter="str", sort=True),
        _a("status", filter="str", sort=True),
        _a("port_details"),
        *_standard(),
    ),
)

RBAC_POLICY = ResourceSpec(
    Kind.RBAC_POLICY,
    "rbac_policy",
    "rbac_policies",
    "rbac-policies",
    (
        _a("id", filter="str", sort=True),
        _a("project_id", convert=cv.string(64), post=True, filter="str", sort=True),
        _a("tenant_id", "project_id", convert=cv.string(64), post=True, filter="str", sort=True),
        _a("object_type", convert=cv.string(255), post=True, required=True, filter="str", sort=True),
        _a("object_id", convert=cv.string(255), post=True, required=True, filter="str", sort=True),
        _a("action", convert=cv.string(255), post=True, required=True, filter="str", sort=True),
        _a("target_tenant", "target_project", convert=cv.string(255), post=True, put=True, required=True,
           filter="str", sort=True),  # fmt: skip
    ),
    taggable=False,
)

AGENT = ResourceSpec(
    Kind.AGENT,
    "agent",
    "agents",
    "agents",
    (
        _a("id", filter="str", sort=True),
        _a("agent_type", filter="str", sort=True),
        _a("binary", filter="str", sort=True),
        _a("topic", filter="str", sort=True),
        _a("host", filter="str", sort=True),
        _a("admin_state_up", convert=cv.boolean, put=True, filter="bool", sort=True),
        _a("created_at", sort=True),
        _a("started_at", sort=True),
        _a("heartbeat_timestamp", sort=True),
        _a("description", convert=cv.string(255), put=True, filter="str", sort=True),
        _a("availability_zone", filter="str"),
        _a("alive", filter="bool"),
        _a("configurations"),
    ),
    taggable=False,
)

RESOURCES: dict[str, ResourceSpec] = {
    spec.path: spec
    for spec in (NETWORK, SUBNET, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE, ROUTER, AGENT, RBAC_POLICY, FLOATINGIP)
}


def _admin_to_set(attr: Attr) -> bool:
    return (attr.admin_only or attr.admin_set) and not attr.policed


class Mapper:
    """Applies one ResourceSpec to request bodies and records."""

    def __init__(self, spec: ResourceSpec) -> None:
        self.spec = spec
        self._render_all = self._renderers(admin=True)
        self._render_user = self._renderers(admin=False)

    def _renderers(self, admin: bool) -> list[tuple[str, Getter]]:
        return [(a.wire, a.render or itemgetter(a.field)) for a in self.spec.attrs if admin or not a.admin_only]

    # --- bodies ------------------------------------------------------------------------------------------------

    def items(self, body: Any, allow_bulk: bool = True) -> tuple[list[dict[str, Any]], bool]:
        """The resource dicts in a body: ``{"port": {...}}`` or, in bulk, ``{"ports": [{...}, ...]}``."""
        spec = self.spec
        if isinstance(body, dict) and len(body) == 1:
            if isinstance(body.get(spec.singular), dict):
                return [body[spec.singular]], False
            if allow_bulk and spec.plural in body:
                items = body[spec.plural]
                if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                    raise bad_request("Body contains invalid data")
                if not items:
                    raise bad_request("Resources required")
                return items, True
        if not isinstance(body, dict):
            raise bad_request("Body contains invalid data")
        raise bad_request(f"Unable to find '{spec.singular}' in request body")

    def create(self, item: dict[str, Any], admin: bool) -> dict[str, Any]:
        """Converted values by record field, for the attributes given (the service applies defaults)."""
        self._check_keys(item, "post")
        values: dict[str, Any] = {}
        for wire, value in item.items():
            attr = self.spec.by_wire[wire]
            assert attr.convert is not None
            converted = attr.convert(wire, value)
            if _admin_to_set(attr) and not admin and converted != attr.default:
                raise policy(f"create_{self.spec.singular}", wire)
            values[attr.field] = converted
        missing = [a.wire for a in self.spec.attrs if a.required and a.wire not in item]
        if missing:
            raise bad_request(f"Failed to parse request. Required attribute '{missing[0]}' not specified")
        if "tenant_id" in item and "project_id" in item and item["tenant_id"] != item["project_id"]:
            raise bad_request("'tenant_id' and 'project_id' do not match")
        return values

    def update(self, body: Any, admin: bool) -> dict[str, Any]:
        items, _ = self.items(body, allow_bulk=False)
        item = items[0]
        self._check_keys(item, "put")
        values: dict[str, Any] = {}
        for wire, value in item.items():
            attr = self.spec.by_wire[wire]
            assert attr.convert is not None
            converted = attr.convert(wire, value)
            if _admin_to_set(attr) and not admin:
                raise policy(f"update_{self.spec.singular}", wire)
            values[attr.field] = converted
        return values

    def _check_keys(self, item: dict[str, Any], method: str) -> None:
        by_wire = self.spec.by_wire
        unknown = [key for key in item if key not in by_wire]
        if unknown:
            raise bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
        for key in item:
            attr = by_wire[key]
            if method == "post" and not attr.post:
                raise bad_request(f"Attribute '{key}' not allowed in POST")
            if method == "put" and not attr.put:
                raise bad_request(f"Cannot update read-only attribute {key}")

    # --- records -----------------------------------------------------------------------------------------------

    def render(self, record: Record, admin: bool, fields: Sequence[str] = ()) -> dict[str, Any]:
        renderers = self._render_all if admin else self._render_user
        if fields:
            wanted = set(fields)
            return {wire: get(record) for wire, get in renderers if wire in wanted}
        return {wire: get(record) for wire, get in renderers}

    def record_fields(self, fields: Sequence[str]) -> frozenset[str] | None:
        """The record fields needed to render ``fields`` (None: all)."""
        if not fields:
            return None
        keys = {"id", "project_id"}
        for wire in fields:
            attr = self.spec.by_wire.get(wire)
            if attr is not None:
                keys.add(attr.field)
        return frozenset(keys)


MAPPERS: dict[str, Mapper] = {path: Mapper(spec) for path, spec in RESOURCES.items()}
