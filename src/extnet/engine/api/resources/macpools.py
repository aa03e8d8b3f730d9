"""``/macpools``: the MAC address pools vNICs get their addresses from."""

from __future__ import annotations

from sqlalchemy import select

from extnet.engine.api.resources.base import Collection, Ctx, href
from extnet.engine.commands.base import run
from extnet.engine.commands.macpools import AddMacPool, RemoveMacPool, UpdateMacPool
from extnet.engine.store.models import MacPool
from extnet.engine.store.queries import Entity, load


def render(pool: MacPool) -> Entity:
    base = href("macpools", pool.id)
    return {
        "href": base,
        "id": pool.id,
        "name": pool.name,
        "description": pool.description,
        "allow_duplicates": pool.allow_duplicates,
        "default_pool": pool.default_pool,
        "ranges": {"range": [{"from": start, "to": end} for start, end in pool.ranges]},
    }


class MacPools(Collection):
    type_name = "MacPool"
    what = "MAC pool"

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = self.apply_search(ctx, select(MacPool).order_by(MacPool.name), {})
        return [render(pool) for pool in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render(load(ctx.db, MacPool, entity_id, "MAC pool"))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        return render(run(AddMacPool(ctx.db, body)))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        return render(run(UpdateMacPool(ctx.db, body, load(ctx.db, MacPool, entity_id, "MAC pool"))))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        run(RemoveMacPool(ctx.db, load(ctx.db, MacPool, entity_id, "MAC pool")))
