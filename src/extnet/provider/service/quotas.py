"""Neutron's quotas: per-project limits on how many of each resource a project may own (``-1``: unlimited), the
defaults from the settings, usage counted from the store, and the check every create makes (``OverQuota``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from extnet.provider.errors import NeutronError, bad_request, conflict, invalid_input, policy
from extnet.provider.service import common
from extnet.provider.service.common import Ctx
from extnet.provider.store.backend import In, Kind

UNLIMITED = -1
MAX_LIMIT = 2**31 - 1
MAX_PROJECT_ID = 255
# Neutron's resources in Neutron's order, with what each counts (floating IPs do not exist yet: none used)
RESOURCES: dict[str, Kind | None] = {
    "network": Kind.NETWORK,
    "subnet": Kind.SUBNET,
    "port": Kind.PORT,
    "router": Kind.ROUTER,
    "floatingip": Kind.FLOATINGIP,
    "security_group": Kind.SECURITY_GROUP,
    "security_group_rule": Kind.SECURITY_GROUP_RULE,
}


# --- enforcement -------------------------------------------------------------------------------------------------


def check_create(ctx: Ctx, resource: str, items: list[dict[str, Any]]) -> None:
    """A create request's check, as Neutron's API makes it before creating anything: each project the items go to
    must stay within its limit with all of them."""
    for project_id, delta in Counter(common.owner_project(ctx, values) for values in items).items():
        check(ctx, project_id, {resource: delta})


def check(ctx: Ctx, project_id: str, deltas: Mapping[str, int]) -> None:
    """``OverQuota`` when adding ``deltas`` (resource -> how many more) would take the project beyond a limit."""
    limits = _limits_cached(ctx, project_id)
    limited = sorted(name for name in deltas if limits[name] != UNLIMITED)
    for name in limited:  # always in the same order, so two checks cannot deadlock
        ctx.tx.lock_quota(project_id, name)
    overs = [name for name in limited if usage(ctx, project_id, name) + deltas[name] > limits[name]]
    if overs:
        raise conflict("OverQuota", f"Quota exceeded for resources: {overs}.")


def usage(ctx: Ctx, project_id: str, resource: str) -> int:
    kind = RESOURCES[resource]
    return 0 if kind is None else ctx.tx.count(kind, In("project_id", (project_id,)))


def limits(ctx: Ctx, project_id: str) -> dict[str, int]:
    """The project's limits: what it has set, else the defaults."""
    return _with_defaults(ctx, ctx.tx.quota_limits(project_id).get(project_id, {}))


def _limits_cached(ctx: Ctx, project_id: str) -> dict[str, int]:
    key = ("quota_limits", project_id)
    if key not in ctx.cache:
        ctx.cache[key] = limits(ctx, project_id)
    return dict(ctx.cache[key])


def defaults(ctx: Ctx) -> dict[str, int]:
    return {name: ctx.config.quota_defaults.get(name, UNLIMITED) for name in RESOURCES}


def _with_defaults(ctx: Ctx, stored: Mapping[str, int]) -> dict[str, int]:
    return {name: stored.get(name, limit) for name, limit in defaults(ctx).items()}


# --- the API's operations ----------------------------------------------------------------------------------------


def listing(ctx: Ctx) -> list[dict[str, Any]]:
    """Every project that has limits set, as ``GET /v2.0/quotas`` lists them."""
    _admin_only(ctx, "get_quota")
    stored = ctx.tx.quota_limits(None)
    return [
        {**_with_defaults(ctx, stored[project_id]), "project_id": project_id, "tenant_id": project_id}
        for project_id in sorted(stored)
    ]


def show(ctx: Ctx, project_id: str) -> dict[str, int]:
    if project_id != ctx.project_id:
        _admin_only(ctx, "get_quota")
    return limits(ctx, project_id)


def show_defaults(ctx: Ctx, project_id: str) -> dict[str, int]:
    if project_id != ctx.project_id:
        _admin_only(ctx, "get_quota")
    return defaults(ctx)


def details(ctx: Ctx, project_id: str) -> dict[str, dict[str, int]]:
    if project_id != ctx.project_id and not ctx.admin:
        raise NeutronError(403, "AdminRequired", "User does not have admin privileges: Only admin is authorized "
                           "to access quotas for another project.")  # fmt: skip
    return {
        name: {"limit": limit, "used": usage(ctx, project_id, name), "reserved": 0}
        for name, limit in limits(ctx, project_id).items()
    }


def update(ctx: Ctx, project_id: str, body: Any) -> dict[str, int]:
    """``PUT /v2.0/quotas/{project_id}``: sets the limits given; refuses one below what the project uses (Neutron's
    ``quota-check-limit-default``) unless ``force`` is true."""
    _admin_only(ctx, "update_quota")
    if len(project_id) > MAX_PROJECT_ID:
        raise bad_request(f"'{project_id}' exceeds maximum length of {MAX_PROJECT_ID}")
    if not isinstance(body, dict) or not isinstance(body.get("quota"), dict):
        raise bad_request("Unable to find 'quota' in request body")
    values = dict(body["quota"])
    force = values.pop("force", None)
    values.pop("check_limit", None)  # Neutron 29 always checks; the flag is accepted and ignored
    new = parse_limits(values)
    if force is not True:
        for name, limit in new.items():
            used = usage(ctx, project_id, name)
            if limit != UNLIMITED and used > limit:
                raise bad_request(f"Quota limit {limit} for {name} must be greater than or equal to already used "
                                  f"{used}")  # fmt: skip
    ctx.tx.set_quota_limits(project_id, new)
    return limits(ctx, project_id)


def delete(ctx: Ctx, project_id: str) -> None:
    _admin_only(ctx, "delete_quota")
    if not ctx.tx.delete_quota_limits(project_id):
        raise NeutronError(404, "TenantQuotaNotFound", f"Quota for project {project_id} could not be found.")


def parse_limits(values: dict[str, Any]) -> dict[str, int]:
    """The limits of a PUT body, converted and checked as Neutron does (in the body's order)."""
    unknown = [key for key in values if key not in RESOURCES]
    if unknown:
        if {"project_id", "tenant_id"} & set(unknown):  # Neutron fills in the other one before it looks
            unknown = [key for key in unknown if key not in ("project_id", "tenant_id")] + ["tenant_id", "project_id"]
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    parsed: dict[str, int] = {}
    for name in RESOURCES:
        if name in values:
            parsed[name] = _limit(name, values[name])
    return {name: parsed[name] for name in values}


def _limit(name: str, value: Any) -> int:
    try:
        limit = int(value)
    except (ValueError, TypeError, OverflowError):
        raise invalid_input(f"'{value}' is not an integer.") from None
    if limit < UNLIMITED:
        raise bad_request(f"Invalid input for {name}. Reason: '{limit}' is too small - must be at least '-1'.")
    if limit > MAX_LIMIT:
        raise bad_request(f"Invalid input for {name}. Reason: '{limit}' is too large - must be no larger than "
                          f"'{MAX_LIMIT}'.")  # fmt: skip
    return limit


def _admin_only(ctx: Ctx, action: str) -> None:
    if not ctx.admin:
        raise policy(action)
