"""Data center commands: add, update, remove (oVirt's AddEmptyStoragePool, UpdateStoragePool, RemoveStoragePool)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Entity, Ref, reference, wire
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store import inventory
from extnet.engine.store.models import Cluster, DataCenter, MacPool
from extnet.engine.store.outbox import release_ports_of_data_center
from extnet.engine.store.queries import resolve

SUPPORTED_VERSIONS = [(4, minor) for minor in range(2, 8)]
QUOTA_MODES = ("disabled", "audit", "enabled")


@dataclass(frozen=True)
class Version:
    major: int | None = None
    minor: int | None = None

    @classmethod
    def of(cls, value: Entity) -> Version | None:
        """An empty ``<version/>`` gives no version."""
        return cls(value.get("major"), value.get("minor")) if value else None

    def numbers(self) -> tuple[int, int]:
        """Major and minor, once ``_version_violations`` found the version supported."""
        assert self.major is not None and self.minor is not None
        return self.major, self.minor


@dataclass(frozen=True)
class DataCenterInput:
    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    local: bool | None = wire()
    quota_mode: str | None = wire()
    version: Version | None = wire(convert=Version.of)
    mac_pool: Ref | None = wire(convert=Ref.of)


def _version_violations(version: Version | None) -> Iterable[Violation]:
    if version is not None:
        pair = (version.major, version.minor)
        if pair not in SUPPORTED_VERSIONS:
            known = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_VERSIONS)
            yield Violation(f"Compatibility version {pair[0]}.{pair[1]} is not supported; use one of {known}", 400)


class AddDataCenter(Command[DataCenter]):
    verb, noun = "add", "Data Center"

    def __init__(self, session: Session, given: DataCenterInput) -> None:
        super().__init__(session)
        self.given = given
        self.mac_pool: MacPool | None = None

    def validate(self) -> Iterable[Violation]:
        name = self.given.name
        problem = name_problem(name, "data center")
        if problem:
            yield Violation(problem, 400)
        elif self.session.scalar(select(DataCenter.id).where(DataCenter.name == name)):
            yield Violation(f"The data center name '{name}' is already in use")
        yield from _version_violations(self.given.version)
        try:
            self.mac_pool = resolve(self.session, MacPool, reference(self.given.mac_pool), "MAC pool")
        except BadRequest as err:
            yield Violation(err.detail, 400)

    def execute(self) -> DataCenter:
        given, version = self.given, self.given.version
        dc = DataCenter(
            name=given.name,
            description=given.description,
            comment=given.comment,
            local=False if given.local is None else given.local,
            quota_mode="disabled" if given.quota_mode is None else given.quota_mode,
            version_major=4 if version is None else version.numbers()[0],
            version_minor=7 if version is None else version.numbers()[1],
            mac_pool_id=self.mac_pool.id if self.mac_pool else inventory.default_mac_pool_id(self.session),
        )
        self.session.add(dc)
        self.session.flush()
        inventory.add_management_network(self.session, dc)
        return dc

    def integrity_message(self, error: Exception) -> str:
        return f"The data center name '{self.given.name}' is already in use."


class UpdateDataCenter(Command[DataCenter]):
    verb, noun = "update", "Data Center"

    def __init__(self, session: Session, dc: DataCenter, given: DataCenterInput) -> None:
        super().__init__(session)
        self.dc = dc
        self.given = given

    def validate(self) -> Iterable[Violation]:
        name = self.given.name
        if name is not None and name != self.dc.name:
            problem = name_problem(name, "data center")
            if problem:
                yield Violation(problem, 400)
            elif self.session.scalar(select(DataCenter.id).where(DataCenter.name == name, DataCenter.id != self.dc.id)):
                yield Violation(f"The data center name '{name}' is already in use")
        yield from _version_violations(self.given.version)

    def execute(self) -> DataCenter:
        given = self.given
        for field, value in (("name", given.name), ("description", given.description), ("comment", given.comment),
                             ("local", given.local), ("quota_mode", given.quota_mode)):  # fmt: skip
            if value is not None:
                setattr(self.dc, field, value)
        if given.version is not None:
            self.dc.version_major, self.dc.version_minor = given.version.numbers()
        return self.dc

    def integrity_message(self, error: Exception) -> str:
        return f"The data center name '{self.given.name}' is already in use."


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
