"""MAC pool commands: add, update, remove."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.domain import mac
from extnet.engine.domain.rules import name_problem
from extnet.engine.store.models import Cluster, DataCenter, MacPool
from extnet.engine.store.queries import Entity


def parse_ranges(body: Entity) -> list[list[str]]:
    """The ranges of ``body`` in the stored form (lower case); call after ``range_violations`` found nothing."""
    return [[mac.normalize(r["from"]), mac.normalize(r["to"])] for r in body.get("ranges") or []]


def range_violations(body: Entity, pool_name: str) -> Iterable[Violation]:
    ranges = body.get("ranges") or []
    if not ranges:
        yield Violation(f"MAC pool '{pool_name}' needs at least one MAC range", 400)
    for item in ranges:
        for problem in mac.range_problems(item.get("from"), item.get("to")):
            yield Violation(problem, 400)


def flag_violations(body: Entity, pool_name: str, current_default: bool = False) -> Iterable[Violation]:
    if body.get("allow_duplicates"):
        yield Violation(
            f"MAC pool '{pool_name}' cannot allow duplicate MAC addresses: extnet keeps every vNIC's MAC unique, "
            "so only allow_duplicates=false is supported",
            400,
        )
    if "default_pool" in body and body["default_pool"] != current_default:
        yield Violation(f"Whether MAC pool '{pool_name}' is the default pool cannot be changed", 400)


class _PoolCommand(Command[MacPool]):
    noun = "MAC Pool"

    def __init__(self, session: Session, body: Entity, pool: MacPool | None = None) -> None:
        super().__init__(session)
        self.body = body
        self.pool = pool

    def name_violations(self) -> Iterable[Violation]:
        name = self.body.get("name")
        problem = name_problem(name, "MAC pool")
        if problem:
            yield Violation(problem, 400)
            return
        stmt = select(MacPool.id).where(MacPool.name == name)
        if self.pool is not None:
            stmt = stmt.where(MacPool.id != self.pool.id)
        if self.session.scalar(stmt.limit(1)):
            yield Violation(f"The MAC pool name '{name}' is already in use")

    def integrity_message(self, error: IntegrityError) -> str:
        return f"The MAC pool name '{self.body.get('name')}' is already in use."


class AddMacPool(_PoolCommand):
    verb = "add"

    def validate(self) -> Iterable[Violation]:
        name = str(self.body.get("name") or "")
        yield from self.name_violations()
        yield from flag_violations(self.body, name)
        yield from range_violations(self.body, name)

    def execute(self) -> MacPool:
        pool = MacPool(name=self.body["name"], description=self.body.get("description"), allow_duplicates=False,
                       default_pool=False, ranges=parse_ranges(self.body))  # fmt: skip
        self.session.add(pool)
        return pool


class UpdateMacPool(_PoolCommand):
    verb = "edit"

    def validate(self) -> Iterable[Violation]:
        pool = self.pool
        assert pool is not None
        if "name" in self.body and self.body["name"] != pool.name:
            yield from self.name_violations()
        yield from flag_violations(self.body, pool.name, pool.default_pool)
        if "ranges" in self.body:
            yield from range_violations(self.body, pool.name)

    def execute(self) -> MacPool:
        pool = self.pool
        assert pool is not None
        for field in ("name", "description"):
            if field in self.body:
                setattr(pool, field, self.body[field])
        if "ranges" in self.body:
            pool.ranges = parse_ranges(self.body)
        return pool


class RemoveMacPool(Command[None]):
    verb, noun = "remove", "MAC Pool"

    def __init__(self, session: Session, pool: MacPool) -> None:
        super().__init__(session)
        self.pool = pool

    def validate(self) -> Iterable[Violation]:
        if self.pool.default_pool:
            yield Violation(f"MAC pool '{self.pool.name}' is the default pool and cannot be removed")
        for model, what in ((Cluster, "clusters"), (DataCenter, "data centers")):
            names = self.session.scalars(
                select(model.name).where(model.mac_pool_id == self.pool.id).order_by(model.name)
            ).all()
            if names:
                yield Violation(f"MAC pool '{self.pool.name}' is used by {what} {', '.join(names)}")

    def execute(self) -> None:
        self.session.delete(self.pool)
