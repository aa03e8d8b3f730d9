"""``/hosts``: the hypervisors, with maintenance (``deactivate``) and ``activate``."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Select, func, or_, select

from extnet.engine.api.faults import BadRequest
from extnet.engine.api.resources.base import Collection, Ctx, Entity, completed, href, load, ref
from extnet.engine.api.schema import HOST_STATUS
from extnet.engine.api.search import Matcher, column_matcher, string_match
from extnet.engine.commands.base import run
from extnet.engine.commands.hosts import ActivateHost, AddHost, DeactivateHost, RemoveHost, UpdateHost
from extnet.engine.store.models import Cluster, DataCenter, Host, Vm


def related_matcher(foreign_key: Any, ids: Select[Any], name: Any) -> Matcher:
    """Matches rows whose ``foreign_key`` points at a row (selected by ``ids``) whose ``name`` matches.

    ``!=`` means "not related to a match", so rows without a relation match it too."""

    def match(op: str, value: str, case_sensitive: bool) -> Any:
        if op == "!=":
            matching = ids.where(string_match(name, "=", value, case_sensitive))
            return or_(foreign_key.is_(None), foreign_key.not_in(matching))
        return foreign_key.in_(ids.where(string_match(name, op, value, case_sensitive)))

    return match


def _status_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    status = value.lower()
    if status not in HOST_STATUS:
        raise BadRequest(f"Unknown host status '{value}'; known: {', '.join(HOST_STATUS)}")
    return Host.status != status if op == "!=" else Host.status == status


def render(host: Host, vms: int) -> Entity:
    base = href("hosts", host.id)
    return {
        "href": base,
        "id": host.id,
        "name": host.name,
        "description": host.description,
        "comment": host.comment,
        "address": host.address,
        "port": host.port,
        "status": host.status,
        "type": "rhel",
        "cluster": ref("clusters", host.cluster_id),
        "ssh": {"port": 22, "authentication_method": "password"},
        "spm": {"priority": 5, "status": "none"},
        "power_management": {"enabled": False, "kdump_detection": False},
        "os": {"custom_kernel_cmdline": ""},
        "summary": {"active": vms, "migrating": 0, "total": vms},
    }


def _vm_count() -> Any:
    return select(func.count(Vm.id)).where(Vm.host_id == Host.id).scalar_subquery()


class Hosts(Collection):
    type_name = "Host"
    what = "host"
    actions = ("activate", "deactivate")
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        "name": column_matcher(Host.name),
        "address": column_matcher(Host.address),
        "description": column_matcher(Host.description),
        "comment": column_matcher(Host.comment),
        "id": column_matcher(Host.id),
        "port": column_matcher(Host.port, "int"),
        "status": _status_matcher,
        "cluster": related_matcher(Host.cluster_id, select(Cluster.id), Cluster.name),
        "datacenter": related_matcher(
            Host.cluster_id, select(Cluster.id).join(DataCenter, DataCenter.id == Cluster.data_center_id),
            DataCenter.name,
        ),
    }  # fmt: skip

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = select(Host, _vm_count()).order_by(Host.name)
        stmt = self.apply_search(ctx, stmt, {"name": Host.name, "address": Host.address, "status": Host.status})
        return [render(host, vms) for host, vms in ctx.db.execute(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return _render_loaded(ctx, load(ctx.db, Host, entity_id, "host"))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        return render(run(AddHost(ctx.db, body)), 0)

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        host = load(ctx.db, Host, entity_id, "host")
        return _render_loaded(ctx, run(UpdateHost(ctx.db, body, host)))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        run(RemoveHost(ctx.db, load(ctx.db, Host, entity_id, "host")))

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        host = load(ctx.db, Host, entity_id, "host")
        run(ActivateHost(ctx.db, host) if name == "activate" else DeactivateHost(ctx.db, host))
        return completed()


def _render_loaded(ctx: Ctx, host: Host) -> Entity:
    vms = ctx.db.scalar(select(func.count(Vm.id)).where(Vm.host_id == host.id)) or 0
    return render(host, vms)
