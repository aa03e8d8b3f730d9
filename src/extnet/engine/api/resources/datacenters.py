"""``/datacenters``: data centers, with their networks and clusters as sub-collections."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from extnet.engine.api.inputs import to_input
from extnet.engine.api.mappers import Field, Mapper, attr, const, given, identity, link_fields, reference
from extnet.engine.api.resources import clusters, networks
from extnet.engine.api.resources.base import Collection, Ctx, services_of
from extnet.engine.api.schema import List
from extnet.engine.api.search import Matcher, column_matcher, string_match
from extnet.engine.commands.base import run
from extnet.engine.commands.datacenters import (
    QUOTA_MODES,
    SUPPORTED_VERSIONS,
    AddDataCenter,
    DataCenterInput,
    UpdateDataCenter,
)
from extnet.engine.errors import BadRequest
from extnet.engine.operations.datacenters import remove_data_center
from extnet.engine.store.models import Cluster, DataCenter, Host
from extnet.engine.store.queries import Entity, load


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
        dc = run(AddDataCenter(ctx.db, to_input(DATA_CENTER, body, DataCenterInput)))
        return render(dc, "uninitialized")

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        dc = load(ctx.db, DataCenter, entity_id, "data center")
        run(UpdateDataCenter(ctx.db, dc, to_input(DATA_CENTER, body, DataCenterInput)))
        return render(dc, data_center_status(ctx.db, dc.id))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        dc = load(ctx.db, DataCenter, entity_id, "data center")
        remove_data_center(ctx.db, services_of(ctx), dc, ctx.flag("force"))

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
