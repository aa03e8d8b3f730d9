"""``/macpools``: the MAC address pools vNICs get their addresses from."""

from __future__ import annotations

from sqlalchemy import select

from extnet.engine.api.inputs import to_input
from extnet.engine.api.mappers import Field, Mapper, attr, identity, link_fields
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.schema import List
from extnet.engine.commands.base import run
from extnet.engine.commands.macpools import AddMacPool, MacPoolInput, RemoveMacPool, UpdateMacPool
from extnet.engine.store.models import MacPool
from extnet.engine.store.queries import Entity, load

MAC_POOL = Mapper("MacPool", "mac_pool", "mac_pools", (
    *identity("macpools", comment=False),
    Field("allow_duplicates", "bool", attr("allow_duplicates")),
    Field("default_pool", "bool", attr("default_pool")),
    Field("ranges", List("range", "Range"), lambda pool, extra: {"range": [{"from": start, "to": end}
                                                                           for start, end in pool.ranges]},
          required=True),
    *link_fields("macpools"),
))  # fmt: skip


def render(pool: MacPool) -> Entity:
    return MAC_POOL.render(pool)


class MacPools(Collection):
    required_on_add = MAC_POOL.required()
    type_name = MAC_POOL.type_name
    what = "MAC pool"

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = self.apply_search(ctx, select(MacPool).order_by(MacPool.name), {})
        return [render(pool) for pool in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render(load(ctx.db, MacPool, entity_id, "MAC pool"))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        return render(run(AddMacPool(ctx.db, to_input(MAC_POOL, body, MacPoolInput))))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        pool = load(ctx.db, MacPool, entity_id, "MAC pool")
        return render(run(UpdateMacPool(ctx.db, to_input(MAC_POOL, body, MacPoolInput), pool)))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        run(RemoveMacPool(ctx.db, load(ctx.db, MacPool, entity_id, "MAC pool")))
