"""MAC pool commands: add, update, remove."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Entity, wire
from extnet.engine.domain import mac
from extnet.engine.domain.rules import name_problem
from extnet.engine.store.models import Cluster, DataCenter, MacPool


@dataclass(frozen=True)
class MacRange:
    start: str | None = None
    end: str | None = None

    @classmethod
    def of(cls, value: Entity) -> MacRange:
        return cls(value.get("from"), value.get("to"))


@dataclass(frozen=True)
class MacPoolInput:
    name: str | None = wire()
    description: str | None = wire()
    allow_duplicates: bool | None = wire()
    default_pool: bool | None = wire()
    ranges: tuple[MacRange, ...] | None = wire(convert=MacRange.of)


def parse_ranges(ranges: tuple[MacRange, ...] | None) -> list[list[str]]:
    """The ranges in the stored form (lower case); call after ``range_violations`` found nothing."""
    return [[mac.normalize(str(r.start)), mac.normalize(str(r.end))] for r in ranges or ()]


def range_violations(ranges: tuple[MacRange, ...] | None, pool_name: str) -> Iterable[Violation]:
    if not ranges:
        yield Violation(f"MAC pool '{pool_name}' needs at least one MAC range", 400)
    for item in ranges or ():
        for problem in mac.range_problems(item.start, item.end):
            yield Violation(problem, 400)


def flag_violations(given: MacPoolInput, pool_name: str, current_default: bool = False) -> Iterable[Violation]:
    if given.allow_duplicates:
        yield Violation(
            f"MAC pool '{pool_name}' cannot allow duplicate MAC addresses: extnet keeps every vNIC's MAC unique, "
            "so only allow_duplicates=false is supported",
            400,
        )
    if given.default_pool is not None and given.default_pool != current_default:
        yield Violation(f"Whether MAC pool '{pool_name}' is the default pool cannot be changed", 400)


class _PoolCommand(Command[MacPool]):
    noun = "MAC Pool"

    def __init__(self, session: Session, given: MacPoolInput, pool: MacPool | None = None) -> None:
        super().__init__(session)
        self.given = given
        self.pool = pool

    def name_violations(self) -> Iterable[Violation]:
        name = self.given.name
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
        return f"The MAC pool name '{self.given.name}' is already in use."


class AddMacPool(_PoolCommand):
    verb = "add"

    def validate(self) -> Iterable[Violation]:
        name = str(self.given.name or "")
        yield from self.name_violations()
        yield from flag_violations(self.given, name)
        yield from range_violations(self.given.ranges, name)

    def execute(self) -> MacPool:
        pool = MacPool(name=self.given.name, description=self.given.description, allow_duplicates=False,
                       default_pool=False, ranges=parse_ranges(self.given.ranges))  # fmt: skip
        self.session.add(pool)
        return pool


class UpdateMacPool(_PoolCommand):
    verb = "edit"

    def validate(self) -> Iterable[Violation]:
        pool = self.pool
        assert pool is not None
        if self.given.name is not None and self.given.name != pool.name:
            yield from self.name_violations()
        yield from flag_violations(self.given, pool.name, pool.default_pool)
        if self.given.ranges is not None:
            yield from range_violations(self.given.ranges, pool.name)

    def execute(self) -> MacPool:
        pool = self.pool
        assert pool is not None
        if self.given.name is not None:
            pool.name = self.given.name
        if self.given.description is not None:
            pool.description = self.given.description
        if self.given.ranges is not None:
            pool.ranges = parse_ranges(self.given.ranges)
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
