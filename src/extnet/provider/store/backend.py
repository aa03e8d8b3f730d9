"""The boundary between the service layer and whatever stores the resources.

The service layer (validation, defaults, IPAM, policy) talks only to a ``Backend``: it opens one transaction per
API request and, inside it, reads and writes *records* (plain dicts, one shape per ``Kind``, documented by the
TypedDicts below) with a handful of generic operations and a small query language (``Cond``). The SQL backend
(``store.sql``) compiles that to SQL; an OVN backend implements the same ``Tx`` over the OVN Northbound database.

Records carry their child collections (``tags``, a port's ``fixed_ips`` and ``security_groups``, a network's
``subnets``) as lists; ``want`` (a set of field names) lets a read skip the collections nobody asked for.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict


class Kind(enum.Enum):
    NETWORK = "network"
    SUBNET = "subnet"
    PORT = "port"
    SECURITY_GROUP = "security_group"
    SECURITY_GROUP_RULE = "security_group_rule"
    ROUTER = "router"
    AGENT = "agent"
    RBAC_POLICY = "rbac_policy"
    FLOATINGIP = "floatingip"


Record = dict[str, Any]


class Standard(TypedDict):
    id: str
    project_id: str
    description: str
    revision_number: int
    created_at: str
    updated_at: str
    tags: list[str]


class NetworkRecord(Standard):
    name: str
    admin_state_up: bool
    status: str
    shared: bool
    external: bool
    mtu: int
    port_security_enabled: bool
    network_type: str
    physical_network: str | None
    segmentation_id: int | None
    segment_key: str
    subnets: list[str]  # read only: the ids of the network's subnets


class FixedIp(TypedDict):
    subnet_id: str
    ip_address: str


class SubnetRecord(Standard):
    name: str
    network_id: str
    ip_version: int
    cidr: str
    gateway_ip: str | None
    allocation_pools: list[list[str]]  # [[start, end], ...]
    dns_nameservers: list[str]
    host_routes: list[list[str]]  # [[destination, nexthop], ...]
    enable_dhcp: bool
    ipv6_ra_mode: str | None
    ipv6_address_mode: str | None
    ipam_cursor: str | None


class PortRecord(Standard):
    name: str
    network_id: str
    mac_address: str
    admin_state_up: bool
    status: str
    device_id: str
    device_owner: str
    port_security_enabled: bool
    allowed_address_pairs: list[dict[str, str]]
    host_id: str
    vnic_type: str
    profile: dict[str, Any]
    vif_type: str
    vif_details: dict[str, Any]
    fixed_ips: list[FixedIp]
    security_groups: list[str]


class SecurityGroupRecord(Standard):
    name: str
    stateful: bool
    default_for: str | None


class SecurityGroupRuleRecord(TypedDict):
    id: str
    project_id: str
    security_group_id: str
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    normalized_cidr: str | None
    remote_group_id: str | None
    fingerprint: str
    description: str
    revision_number: int
    created_at: str
    updated_at: str


class RouterRecord(Standard):
    name: str
    admin_state_up: bool
    status: str
    gw_network_id: str | None
    gw_port_id: str | None
    enable_snat: bool
    routes: list[dict[str, str]]


class AgentRecord(TypedDict):
    id: str
    agent_type: str
    binary: str
    topic: str
    host: str
    admin_state_up: bool
    configurations: dict[str, Any]
    description: str | None
    availability_zone: str | None
    created_at: str
    started_at: str
    heartbeat_timestamp: str
    heartbeat_epoch: float
    devices_digest: str | None  # never shown: the digest of the agent's device report the provider holds


# --- queries ---------------------------------------------------------------------------------------------------


class Cond:
    """A condition on records of one kind."""


@dataclass(frozen=True)
class In(Cond):
    """``field`` equals one of ``values`` (``None`` matches a missing value). ``field`` may name a child
    collection (``tags``, ``security_groups``) or a field of its items (``fixed_ips.ip_address``): then some
    item must match."""

    field: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Contains(Cond):
    """``field`` (text, possibly of child items) contains ``text``."""

    field: str
    text: str


@dataclass(frozen=True)
class AllOf(Cond):
    conds: tuple[Cond, ...]


@dataclass(frozen=True)
class AnyOf(Cond):
    conds: tuple[Cond, ...]


@dataclass(frozen=True)
class Not(Cond):
    cond: Cond


@dataclass(frozen=True)
class Via(Cond):
    """``field`` holds the id of a ``kind`` record that matches ``cond``."""

    field: str
    kind: Kind
    cond: Cond


@dataclass(frozen=True)
class Query:
    where: Cond | None = None
    sort: tuple[tuple[str, bool], ...] = ()  # (field, ascending); the id is always the last tie breaker
    limit: int | None = None
    marker: Record | None = None  # the record the page starts after (before, with reverse)
    reverse: bool = False
    want: frozenset[str] | None = None  # fields to load; None: all
    lock: bool = False


@dataclass
class Page:
    records: list[Record]
    more: bool = False  # there are records beyond this page (in the direction of the query)
    extra: dict[str, Any] = field(default_factory=dict)


class Bump:
    """As an update value: add one to the stored number (revision numbers), atomically."""


BUMP = Bump()


class StoreConflict(Exception):
    """A uniqueness or reference rule of the store was broken, maybe by a concurrent request: retry the
    request (the service's own checks then report what is wrong)."""


class StoreBusy(Exception):
    """The store could not serialize this transaction with a concurrent one (deadlock, serialization
    failure, lock timeout): retry the request."""


class Tx(Protocol):
    """One transaction of a ``Backend``. Every read sees the transaction's own writes."""

    def get(self, kind: Kind, id_: str, *, want: frozenset[str] | None = None, lock: bool = False) -> Record | None:
        """The record with this id, or None. ``lock``: keep others from changing it until the end."""

    def find(self, kind: Kind, query: Query) -> Page:
        """Records matching ``query.where``, sorted, one page at a time."""

    def count(self, kind: Kind, where: Cond) -> int: ...

    def insert(self, kind: Kind, records: Sequence[Record]) -> None: ...

    def update(self, kind: Kind, id_: str, changes: Mapping[str, Any]) -> None:
        """Set fields (a child collection given is replaced whole; ``BUMP`` increments)."""

    def update_many(self, kind: Kind, ids: Sequence[str], changes: Mapping[str, Any]) -> None:
        """``update`` of the same fields (no child collections) on many records at once."""

    def port_states(self, host: str, ids: Sequence[str]) -> tuple[set[str], list[tuple[str, str, bool]]]:
        """Of the ports among ``ids`` bound to ``host`` (``vif_type`` neither unbound nor binding_failed): the ids of
        those ACTIVE and enabled, and (id, status, admin_state_up) of the others. What a device report needs, without
        loading whole records (nor, for the usual ACTIVE port, a row of its own)."""

    def delete(self, kind: Kind, ids: Sequence[str]) -> None: ...

    def lock(self, kind: Kind, ids: Sequence[str]) -> None:
        """Serialize with other transactions that lock any of these records (in a stable order)."""

    def taken_addresses(self, subnet_id: str, first_key: str, last_key: str, limit: int) -> list[str]:
        """Keys (``ipam.key``) of the addresses allocated on the subnet in [first_key, last_key], ascending."""

    def count_addresses(self, subnet_id: str, first_key: str, last_key: str) -> int:
        """How many addresses are allocated on the subnet in [first_key, last_key] (``ipam.key``)."""

    def try_lock_blocks(self, subnet_id: str, blocks: Sequence[int]) -> int | None:
        """Take, until the end of the transaction and without waiting, the first of these address blocks of the
        subnet that no other transaction holds: its index in ``blocks``, or None when others hold them all. Spreads
        concurrent allocations apart; the store's key on addresses still has the last word."""

    def save_cursor(self, subnet_id: str, cursor: str) -> None:
        """Store the subnet's IPAM cursor, or nothing when another transaction is writing it (it is only a hint)."""

    def free_segment(
        self, network_type: str, physnet: str | None, low: int, high: int, lowest: bool = False
    ) -> int | None:
        """A segmentation id in [low, high] no network of this type (and physical network) uses: the one after
        the highest in use (a seek), else (that is ``high``) or with ``lowest`` the lowest free one (a scan of the
        used ids up to the first gap); None when all are used."""

    def quota_limits(self, project_id: str | None) -> dict[str, dict[str, int]]:
        """The quota limits set (those not left at the defaults) of one project, or of every project with
        ``None``: project id -> resource -> limit."""

    def set_quota_limits(self, project_id: str, limits: Mapping[str, int]) -> None:
        """Set these limits of the project (the others it has set stay)."""

    def delete_quota_limits(self, project_id: str) -> bool:
        """Back to the defaults: whether the project had any limit set."""

    def lock_quota(self, project_id: str, resource: str) -> None:
        """Serialize, until the end of the transaction, with the others that check this project's quota of this
        resource (so that two concurrent creates cannot both take the last one)."""


class Backend(Protocol):
    name: str

    def transaction(self, write: bool = True) -> AbstractContextManager[Tx]: ...

    def dispose(self) -> None: ...


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
