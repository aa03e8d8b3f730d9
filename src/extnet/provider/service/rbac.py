"""RBAC policies (``rbac-policies``) on networks: ``access_as_shared`` lets a project (or every project, ``*``) see
the network and put ports on it; ``access_as_external`` lets it see the network as external and put router gateways
on it. A network's ``shared`` and ``router:external`` are its policies for every project, kept in step both ways;
for another project a policy naming it makes the network shared (or external) as that project sees it."""

from __future__ import annotations

import uuid
from typing import Any

from extnet.provider.errors import NeutronError, conflict, forbidden, invalid_input, policy
from extnet.provider.service import common, ports
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.store.backend import AllOf, AnyOf, Cond, In, Kind, Not, Page, Query, Record

KIND = Kind.RBAC_POLICY
ACTIONS = ("access_as_shared", "access_as_external")
FLAGS = {"access_as_shared": "shared", "access_as_external": "external"}
EVERYONE = "*"


def create(ctx: Ctx, items: list[dict[str, Any]]) -> list[Record]:
    common.check_writer(ctx, "create_rbac_policy")
    records = []
    for values in items:
        network = _checked(ctx, values)
        record = {
            "id": common.new_id(),
            "project_id": values.get("project_id") or ctx.project_id,
            "object_type": "network",
            "object_id": network["id"],
            "action": values["action"],
            "target_project": values["target_project"],
        }
        _refuse_duplicate(ctx, record)
        ctx.tx.insert(KIND, [record])
        _sync_flag(ctx, record)
        records.append(record)
    return records


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    return common.load(ctx, KIND, id_, want)


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    return common.listing(ctx, KIND, request, want)


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    record = common.load_owned(ctx, KIND, id_, "update", if_match)
    target = values.get("target_project", record["target_project"])
    if target == EVERYONE and not ctx.admin:
        raise policy("update_rbac_policy", "target_tenant")
    if target == record["target_project"]:
        return record
    _check_not_in_use(ctx, record)
    changed = {**record, "target_project": target}
    _refuse_duplicate(ctx, changed)
    ctx.tx.update(KIND, id_, {"target_project": target})
    _sync_flag(ctx, record, removed=True)
    _sync_flag(ctx, changed)
    return changed


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    record = common.load_owned(ctx, KIND, id_, "delete", if_match)
    _check_not_in_use(ctx, record)
    ctx.tx.delete(KIND, [id_])
    _sync_flag(ctx, record, removed=True)


# --- what networks read -------------------------------------------------------------------------------------------


def as_seen(ctx: Ctx, network: Record) -> Record:
    """The network with ``shared`` as the caller sees it: also true when a policy shares it with the caller's project
    by name (the owner and admins see only its sharing with every project, as Neutron shows it)."""
    if ctx.admin or network.get("project_id") == ctx.project_id:
        return network
    if "shared" not in network or network["shared"]:
        return network
    return {**network, "shared": network.get("id") in common.rbac_granted(ctx, "access_as_shared")}


def on_network_flags(ctx: Ctx, network: Record, changes: dict[str, Any]) -> None:
    """``shared``/``router:external`` set or cleared on a network: its policy for every project follows (clearing
    ``router:external`` drops every external policy of the network; unsharing keeps the sharing by name)."""
    for action, flag in FLAGS.items():
        if flag not in changes:
            continue
        mine = AllOf((In("object_id", (network["id"],)), In("action", (action,))))
        everyone = AllOf((mine, In("target_project", (EVERYONE,))))
        if changes[flag] and not ctx.tx.count(KIND, everyone):
            ctx.tx.insert(KIND, [{"id": common.new_id(), "project_id": network["project_id"],
                                  "object_type": "network", "object_id": network["id"], "action": action,
                                  "target_project": EVERYONE}])  # fmt: skip
        elif not changes[flag]:
            gone = everyone if action == "access_as_shared" else mine
            ctx.tx.delete(KIND, [row["id"] for row in ctx.tx.find(KIND, Query(where=gone)).records])


def seen_filters(ctx: Ctx, where: list[Cond]) -> list[Cond]:
    """Filters on ``shared`` as the caller sees it (``as_seen``)."""
    if ctx.admin:
        return where
    result: list[Cond] = []
    for cond in where:
        if not isinstance(cond, In) or cond.field != "shared":
            result.append(cond)
            continue
        opened = AnyOf((In("shared", (True,)), In("id", tuple(sorted(common.rbac_granted(ctx, "access_as_shared"))))))
        wanted = {bool(value) for value in cond.values}
        if wanted == {True}:
            result.append(opened)
        elif wanted == {False}:
            result.append(Not(opened))
    return result


def targets(ctx: Ctx, network_id: str, action: str) -> set[str]:
    """The projects the network's ``action`` policies name (``*``: every project)."""
    where = AllOf((In("object_id", (network_id,)), In("action", (action,))))
    return {row["target_project"] for row in ctx.tx.find(KIND, Query(where=where)).records}


def on_network_deleted(ctx: Ctx, network_id: str) -> None:
    rows = ctx.tx.find(KIND, Query(where=In("object_id", (network_id,)), want=frozenset({"id"}))).records
    ctx.tx.delete(KIND, [row["id"] for row in rows])


# --- rules ----------------------------------------------------------------------------------------------------------


def _checked(ctx: Ctx, values: dict[str, Any]) -> Record:
    if values["object_type"] != "network":
        raise invalid_input(f"'{values['object_type']}' is not a valid RBAC object type.")
    if values["target_project"] != EVERYONE and not _is_uuid(values["target_project"]):
        raise invalid_input(f"'{values['target_project']}' is not a valid target project ID; expected a UUID or "
                            "'*'.")  # fmt: skip
    if values["action"] not in ACTIONS:
        raise NeutronError(400, "InvalidActionForType", f"Invalid action '{values['action']}' for object type "
                           f"'network'. Valid actions: {ACTIONS}")  # fmt: skip
    if values["target_project"] == EVERYONE and not ctx.admin:
        raise forbidden("((((rule:create_rbac_policy and rule:create_rbac_policy:object_type) and "
                        "rule:create_rbac_policy:object_id) and rule:create_rbac_policy:target_tenant) and "
                        "rule:create_rbac_policy:action) is disallowed by policy")  # fmt: skip
    if not ctx.admin and values.get("project_id") not in (None, ctx.project_id):
        raise policy("create_rbac_policy", "tenant_id")
    found = ctx.tx.find(Kind.NETWORK, Query(where=common.scoped(ctx, Kind.NETWORK, [In("id", (values["object_id"],))])))
    if not found.records:
        raise invalid_input(f"Network {values['object_id']} could not be found.")
    network = found.records[0]
    if not ctx.admin and network["project_id"] != ctx.project_id:
        raise invalid_input("Only admins can manipulate policies on objects they do not own.")
    return network


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _refuse_duplicate(ctx: Ctx, record: Record) -> None:
    where = AllOf(tuple(In(key, (record[key],)) for key in ("object_type", "object_id", "action", "target_project")))
    if ctx.tx.count(KIND, where):
        raise conflict("DuplicateRbacPolicy", "An RBAC policy already exists with those values.")


def _sync_flag(ctx: Ctx, record: Record, removed: bool = False) -> None:
    """``shared``: a policy sharing the network with every project; ``router:external``: any external policy (the
    network is then external to all who see it, as Neutron keeps one external-network row for it)."""
    network_id, action = record["object_id"], record["action"]
    if action == "access_as_shared" and record["target_project"] == EVERYONE:
        ctx.tx.update(Kind.NETWORK, network_id, {"shared": not removed})
    elif action == "access_as_external":
        ctx.tx.update(Kind.NETWORK, network_id, {"external": bool(targets(ctx, network_id, action))})


def _check_not_in_use(ctx: Ctx, record: Record) -> None:
    """A policy that opened a network to projects may not go while one of them, no longer let in by another
    policy, has ports on it (``access_as_shared``) or a router gateway on it (``access_as_external``)."""
    network_id, action = record["object_id"], record["action"]
    network = ctx.tx.get(Kind.NETWORK, network_id, want=frozenset({"project_id"}))
    if network is None:
        return
    others = AllOf((In("object_id", (network_id,)), In("action", (action,)), Not(In("id", (record["id"],)))))
    still = {row["target_project"] for row in ctx.tx.find(KIND, Query(where=others)).records}
    if EVERYONE in still:
        return
    losing: Cond = Not(In("project_id", (network["project_id"], "", *still)))
    if record["target_project"] != EVERYONE:
        losing = In("project_id", (record["target_project"],))
    if action == "access_as_shared":
        users = ctx.tx.count(Kind.PORT, AllOf((In("network_id", (network_id,)), losing,
                                                Not(In("device_owner", ports.ROUTER_OWNERS)))))  # fmt: skip
    else:
        users = ctx.tx.count(Kind.ROUTER, AllOf((In("gw_network_id", (network_id,)), losing)))
    if users:
        raise conflict("RbacPolicyInUse", f"RBAC policy on object {network_id} cannot be removed because other "
                       f"objects depend on it.\nDetails: Unable to reconfigure sharing settings for network "
                       f"{network_id}. Multiple projects are using it.")  # fmt: skip
