"""Database engine, sessions and migrations."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, bindparam, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from extnet.common import db as common_db

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def make_engine(url: str, immediate: bool = True, pool_size: int = 10) -> Engine:
    return common_db.make_engine(url, immediate, pool_size)


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema."""
    common_db.upgrade(url, MIGRATIONS)


class Database:
    """The engine's handle on its database: one transaction per unit of work."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self._writes = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: reads need no write lock, so they get an engine without BEGIN IMMEDIATE.
        self._read_engine = make_engine(url, immediate=False) if url.startswith("sqlite") else self.engine
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._gate = common_db.WriteGate(url)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        if not write:
            with self._reads() as session, session.begin():
                yield session
            return
        with self._gate.write(), self._writes() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()


def fetch(session: Session, model: type[T], row_id: str, lock: bool = False) -> T | None:
    """The row of ``model`` with this primary key (``lock``: FOR UPDATE), like ``session.get``, through a statement
    built once per model: SQLAlchemy then neither rebuilds nor re-keys it, a third of a lookup's cost."""
    statement = _by_id(model, lock)  # type: ignore[arg-type]  # a mapped class hashes as any class does
    row: T | None = session.execute(statement, {"row_id": row_id}).scalar_one_or_none()
    return row


@functools.cache
def _by_id(model: type[Any], lock: bool) -> Select[Any]:
    key = inspect(model).primary_key[0]
    statement = select(model).where(key == bindparam("row_id"))
    return statement.with_for_update() if lock else statement
