"""What every service shares: the request context, visibility and ownership rules, revisions, timestamps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from extnet.provider.errors import NeutronError, bad_request, policy
from extnet.provider.identity.service import Principal
from extnet.provider.service.config import NetConfig
from extnet.provider.store.backend import BUMP, AllOf, AnyOf, Cond, In, Kind, Page, Query, Record, Tx, Via

NOT_FOUND: dict[Kind, tuple[str, str, str]] = {
    Kind.NETWORK: ("network", "NetworkNotFound", "Network {id} could not be found."),
    Kind.SUBNET: ("subnet", "SubnetNotFound", "Subnet {id} could not be found."),
    Kind.PORT: ("port", "PortNotFound", "Port {id} could not be found."),
    Kind.SECURITY_GROUP: ("security_group", "SecurityGroupNotFound", "Security group {id} does not exist"),
    Kind.SECURITY_GROUP_RULE: (
        "security_group_rule",
        "SecurityGroupRuleNotFound",
        "Security group rule {id} does not exist",
    ),
    Kind.ROUTER: ("router", "RouterNotFound", "Router {id} could not be found"),
    Kind.AGENT: ("agent", "AgentNotFound", "Agent {id} could not be found."),
    Kind.RBAC_POLICY: ("rbac_policy", "RbacPolicyNotFound", "RBAC policy of type unknown with ID {id} not found"),
    Kind.FLOATINGIP: ("floatingip", "FloatingIPNotFound", "Floating IP {id} could not be found"),
}


def missing(kind: Kind, id_: str) -> NeutronError:
    _, type_, message = NOT_FOUND[kind]
    return NeutronError(404, type_, message.format(id=id_))


def singular(kind: Kind) -> str:
    return NOT_FOUND[kind][0]


@dataclass
class ListRequest:
    """A collection read: conditions, fields, sort keys (record fields), one page."""

    where: list[Cond] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (record field, ascending)
    limit: int | None = None
    marker: str | None = None
    reverse: bool = False
    params: list[tuple[str, str]] = field(default_factory=list)  # as received, for pagination links


@dataclass
class Ctx:
    """One API request: its transaction, its caller, the configuration, and its moment."""

    tx: Tx
    principal: Principal
    config: NetConfig
    now: str = field(default_factory=lambda: timestamp())
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def admin(self) -> bool:
        return self.principal.is_admin

    @property
    def project_id(self) -> str:
        return self.principal.project_id or ""


def pick(values: dict[str, Any], key: str, default: Any) -> Any:
    """``values[key]``, else ``default`` (``dict.get`` types poorly when the default is ``Any``)."""
    return values.get(key, default)


def timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


def visible(kind: Kind, project_id: str, granted: frozenset[str] = frozenset()) -> Cond:
    """What a non-admin of ``project_id`` may see of ``kind`` (``granted``: the networks RBAC policies open to it)."""
    own = In("project_id", (project_id,))
    opened = In("id", tuple(sorted(granted)))  # named in a policy, or external to every project
    if kind == Kind.NETWORK:
        return AnyOf((own, In("shared", (True,)), opened))
    if kind == Kind.SUBNET:
        return AnyOf((own, Via("network_id", Kind.NETWORK, AnyOf((In("shared", (True,)), opened)))))
    if kind == Kind.PORT:
        return AnyOf((own, Via("network_id", Kind.NETWORK, own)))
    if kind == Kind.SECURITY_GROUP_RULE:
        return AnyOf((own, Via("security_group_id", Kind.SECURITY_GROUP, own)))
    if kind == Kind.AGENT:
        return In("id", ())
    return own


RBAC_KINDS = (Kind.NETWORK, Kind.SUBNET)


def rbac_granted(ctx: Ctx, action: str | None = None) -> frozenset[str]:
    """The networks RBAC policies open to the caller's project: by name, or as external to every project
    (``action``: of that kind only)."""
    key = ("rbac-granted", ctx.project_id)
    if key not in ctx.cache:
        everyone_external = AllOf((In("target_project", ("*",)), In("action", ("access_as_external",))))
        where = AllOf((In("object_type", ("network",)),
                       AnyOf((In("target_project", (ctx.project_id,)), everyone_external))))  # fmt: skip
        rows = ctx.tx.find(Kind.RBAC_POLICY, Query(where=where, want=frozenset({"object_id", "action"}))).records
        ctx.cache[key] = [(row["object_id"], row["action"]) for row in rows]
    return frozenset(object_id for object_id, kind in ctx.cache[key] if action is None or kind == action)


def scoped(ctx: Ctx, kind: Kind, conds: list[Cond]) -> Cond | None:
    if not ctx.admin:
        conds = [*conds, visible(kind, ctx.project_id, rbac_granted(ctx) if kind in RBAC_KINDS else frozenset())]
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else AllOf(tuple(conds))


def load(ctx: Ctx, kind: Kind, id_: str, want: frozenset[str] | None = None, lock: bool = False) -> Record:
    """The record, if the caller may see it; else the resource's 404."""
    if ctx.admin:
        record = ctx.tx.get(kind, id_, want=want, lock=lock)
    else:
        granted = rbac_granted(ctx) if kind in RBAC_KINDS else frozenset()
        cond = AllOf((In("id", (id_,)), visible(kind, ctx.project_id, granted)))
        page = ctx.tx.find(kind, Query(where=cond, want=want, lock=lock))
        record = page.records[0] if page.records else None
    if record is None:
        raise missing(kind, id_)
    return record


def load_owned(
    ctx: Ctx, kind: Kind, id_: str, action: str, if_match: int | None = None, want: frozenset[str] | None = None
) -> Record:
    """The record the caller may change (``action``: ``update``/``delete``), locked, at revision ``if_match``."""
    check_writer(ctx, f"{action}_{singular(kind)}")
    record = load(ctx, kind, id_, want=want, lock=True)
    if not ctx.admin and record.get("project_id") != ctx.project_id:
        raise policy(f"{action}_{singular(kind)}")
    check_revision(record, if_match)
    return record


def check_revision(record: Record, if_match: int | None) -> None:
    if if_match is not None and record.get("revision_number") != if_match:
        raise NeutronError(
            412,
            "RevisionNumberConstraintFailed",
            f"Constrained to {if_match}, but current revision is {record.get('revision_number')}",
        )


def check_writer(ctx: Ctx, action: str) -> None:
    if ctx.principal.read_only:
        raise policy(action)


def owner_project(ctx: Ctx, values: dict[str, Any]) -> str:
    """The project a new resource belongs to: the caller's, unless an admin names another."""
    project = values.get("project_id")
    if project is None or project == ctx.project_id:
        return ctx.project_id
    if not ctx.admin:
        raise bad_request(
            "Specifying 'project_id' other than the authenticated project in request is not allowed "
            "for the current user."
        )
    return str(project)


def standard(ctx: Ctx, values: dict[str, Any], revision: int = 1) -> Record:
    return {
        "id": new_id(),
        "project_id": owner_project(ctx, values),
        "description": values.get("description", ""),
        "revision_number": revision,
        "created_at": ctx.now,
        "updated_at": ctx.now,
        "tags": values.get("tags", []),
    }


def touched(ctx: Ctx, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` plus the revision bump and timestamp every update carries."""
    return {**changes, "revision_number": BUMP, "updated_at": ctx.now}


def bump(ctx: Ctx, kind: Kind, id_: str) -> None:
    ctx.tx.update(kind, id_, {"revision_number": BUMP, "updated_at": ctx.now})


def listing(ctx: Ctx, kind: Kind, request: ListRequest, want: frozenset[str] | None) -> Page:
    """One page of the records the caller may see, as the query asks."""
    marker = None
    if request.marker is not None:
        marker = load(ctx, kind, request.marker)
    query = Query(
        where=scoped(ctx, kind, request.where),
        sort=tuple(request.sort),
        limit=request.limit,
        marker=marker,
        reverse=request.reverse,
        want=want,
    )
    return ctx.tx.find(kind, query)


def applied(record: Record, changes: dict[str, Any]) -> Record:
    """The record as it reads after ``changes`` (revision bumped)."""
    result = {**record, **changes}
    if "revision_number" in changes:
        result["revision_number"] = record.get("revision_number", 0) + 1
    return result


def as_admin(ctx: Ctx) -> Ctx:
    """The same request with the admin role added: for the ports the service makes itself (router gateways and
    interfaces, floating IPs), which belong to no project."""
    p = ctx.principal
    principal = Principal(p.user_id, p.user_name, p.project_id, p.project_name, (*p.roles, ("admin", "admin")),
                          p.issued_at, p.expires_at, p.audit_id, p.methods)  # fmt: skip
    return replace(ctx, principal=principal)
