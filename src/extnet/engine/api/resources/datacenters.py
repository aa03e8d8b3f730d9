"""``/datacenters``: data centers, with their networks and clusters as sub-collections."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from extnet.engine.api.mappers import Field, Mapper, attr, const, given, identity, link_fields, reference
from extnet.engine.api.resources import clusters, networks
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.schema import List
from extnet.engine.api.search import Matcher, column_matcher, string_match
from extnet.engine.commands.base import Command, Violation, run
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.operations.pairing import after_commit
from extnet.engine.store import inventory
from extnet.engine.store.models import Cluster, DataCenter, Host, MacPool
from extnet.engine.store.outbox import release_ports_of_data_center
from extnet.engine.store.queries import Entity, load, resolve

SUPPORTED_VERSIONS = [(4, minor) for minor in range(2, 8)]
QUOTA_MODES = ("disabled", "audit", "enabled")


def _has_clusters_named(op: str, value: str, case_sensitive: bool) -> Any:
    return exists(
        select(Cluster.id).where(
            Cluster.data_center_id == DataCenter.id, string_match(Cluster.name, op, value, case_sensitive)
        )
    )


def _status_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    up = _has_up_host()
    if value.lower() not in ("up", "uninitialized"):
        raise BadRequest(f"Unknown data center status '{value}'; known: up, uninitialized")
    clause = up if value.lower() == "up" else ~up
    return ~clause if op == "!=" else clause


def _has_up_host() -> Any:
    return exists(
        select(Host.id)
        .join(Cluster, Cluster.id == Host.cluster_id)
        .where(Cluster.data_center_id == DataCenter.id, Host.status == "up")
    )


DC_STATUSES = ("up", "uninitialized", "maintenance", "not_operational", "problematic", "contend")

DATA_CENTER = Mapper("DataCenter", "data_center", "data_centers", (
    *identity("datacenters", DataCenter),
    Field("local", "bool", attr("local"), search=column_matcher(DataCenter.local, "bool")),
    Field("quota_mode", QUOTA_MODES, attr("quota_mode")),
    Field("status", DC_STATUSES, given("status"), "out", search=_status_matcher),
    Field("storage_format", ("v1", "v2", "v3", "v4", "v5"), const("v5")),
    Field("supported_versions", List("version", "Version"),
          const({"version": [{"major": ma, "minor": mi} for ma, mi in SUPPORTED_VERSIONS]}), "out"),
    Field("version", "Version", lambda dc, extra: {"major": dc.version_major, "minor": dc.version_minor}),
    Field("mac_pool", "MacPool", reference("macpools", "mac_pool_id")),
    *link_fields("datacenters", "clusters", "networks", "permissions", "quotas", "qoss", "storagedomains",
                 "iscsibonds"),
))  # fmt: skip


def render(dc: DataCenter, status: str) -> Entity:
    return DATA_CENTER.render(dc, status=status)


class DataCenters(Collection):
    required_on_add = DATA_CENTER.required()
    type_name = DATA_CENTER.type_name
    what = "data center"
    actions = ("cleanfinishedtasks",)
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **DATA_CENTER.search_fields(),
        "clusters.name": _has_clusters_named,
        "cluster": _has_clusters_named,
    }

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = select(DataCenter, _has_up_host().label("up")).order_by(DataCenter.name)
        stmt = self.apply_search(ctx, stmt, {"name": DataCenter.name})
        return [render(dc, "up" if up else "uninitialized") for dc, up in ctx.db.execute(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        dc = load(ctx.db, DataCenter, entity_id, "data center")
        return render(dc, data_center_status(ctx.db, dc.id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        dc = run(AddDataCenter(ctx.db, body))
        return render(dc, "uninitialized")

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        dc = load(ctx.db, DataCenter, entity_id, "data center")
        run(UpdateDataCenter(ctx.db, dc, body))
        return render(dc, data_center_status(ctx.db, dc.id))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        dc = load(ctx.db, DataCenter, entity_id, "data center")
        run(RemoveDataCenter(ctx.db, dc, force=ctx.flag("force")))
        lifecycle = getattr(ctx.services, "lifecycle", None)
        if lifecycle is not None:  # the ports of the VMs removed with it are in the outbox: deliver them
            after_commit(ctx.db, lifecycle.wake_outbox)

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        load(ctx.db, DataCenter, entity_id, "data center")
        return {"status": "complete"}


DataCenters.subs = {"networks": networks.DataCenterNetworks, "clusters": clusters.DataCenterClusters}


def data_center_status(session: Session, dc_id: str) -> str:
    up = session.scalar(
        select(func.count(Host.id))
        .join(Cluster, Cluster.id == Host.cluster_id)
        .where(Cluster.data_center_id == dc_id, Host.status == "up")
    )
    return "up" if up else "uninitialized"


def _version_violations(body: Entity) -> Iterable[Violation]:
    version = body.get("version")
    if version:
        pair = (version.get("major"), version.get("minor"))
        if pair not in SUPPORTED_VERSIONS:
            known = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_VERSIONS)
            yield Violation(f"Compatibility version {pair[0]}.{pair[1]} is not supported; use one of {known}", 400)


class AddDataCenter(Command[DataCenter]):
    verb, noun = "add", "Data Center"

    def __init__(self, session: Session, body: Entity) -> None:
        super().__init__(session)
        self.body = body
        self.mac_pool: MacPool | None = None

    def validate(self) -> Iterable[Violation]:
        name = self.body.get("name")
        problem = name_problem(name, "data center")
        if problem:
            yield Violation(problem, 400)
        elif self.session.scalar(select(DataCenter.id).where(DataCenter.name == name)):
            yield Violation(f"The data center name '{name}' is already in use")
        yield from _version_violations(self.body)
        try:
            self.mac_pool = resolve(self.session, MacPool, self.body.get("mac_pool"), "MAC pool")
        except BadRequest as err:
            yield Violation(err.detail, 400)

    def execute(self) -> DataCenter:
        version = self.body.get("version") or {}
        dc = DataCenter(
            name=self.body["name"],
            description=self.body.get("description"),
            comment=self.body.get("comment"),
            local=self.body.get("local", False),
            quota_mode=self.body.get("quota_mode", "disabled"),
            version_major=version.get("major", 4),
            version_minor=version.get("minor", 7),
            mac_pool_id=self.mac_pool.id if self.mac_pool else inventory.default_mac_pool_id(self.session),
        )
        self.session.add(dc)
        self.session.flush()
        inventory.add_management_network(self.session, dc)
        return dc

    def integrity_message(self, error: Exception) -> str:
        return f"The data center name '{self.body.get('name')}' is already in use."


class UpdateDataCenter(Command[DataCenter]):
    verb, noun = "update", "Data Center"

    def __init__(self, session: Session, dc: DataCenter, body: Entity) -> None:
        super().__init__(session)
        self.dc = dc
        self.body = body

    def validate(self) -> Iterable[Violation]:
        name = self.body.get("name")
        if "name" in self.body and name != self.dc.name:
            problem = name_problem(name, "data center")
            if problem:
                yield Violation(problem, 400)
            elif self.session.scalar(select(DataCenter.id).where(DataCenter.name == name, DataCenter.id != self.dc.id)):
                yield Violation(f"The data center name '{name}' is already in use")
        yield from _version_violations(self.body)

    def execute(self) -> DataCenter:
        for field in ("name", "description", "comment", "local", "quota_mode"):
            if field in self.body:
                setattr(self.dc, field, self.body[field])
        version = self.body.get("version")
        if version:
            self.dc.version_major, self.dc.version_minor = version["major"], version["minor"]
        return self.dc

    def integrity_message(self, error: Exception) -> str:
        return f"The data center name '{self.body.get('name')}' is already in use."


class RemoveDataCenter(Command[None]):
    verb, noun = "remove", "Data Center"

    def __init__(self, session: Session, dc: DataCenter, force: bool) -> None:
        super().__init__(session)
        self.dc = dc
        self.force = force

    def validate(self) -> Iterable[Violation]:
        if self.force:
            return
        names = self.session.scalars(
            select(Cluster.name).where(Cluster.data_center_id == self.dc.id).order_by(Cluster.name)
        ).all()
        if names:
            yield Violation(
                f"Data center '{self.dc.name}' still has clusters ({', '.join(names)}); remove them first, "
                "or remove the data center with force=true"
            )

    def execute(self) -> None:
        release_ports_of_data_center(self.session, self.dc.id)
        inventory.purge_data_center(self.session, self.dc)
        self.session.execute(delete(DataCenter).where(DataCenter.id == self.dc.id))
