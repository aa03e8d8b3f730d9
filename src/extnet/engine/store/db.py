"""Database engine, sessions and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, immediate: bool = True) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate if immediate else _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is replaced by explicit BEGINs (see _sqlite_begin_immediate)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # One writer at a time, decided at BEGIN: no "database is locked" upgrade failures mid-transaction.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


class Database:
    """The engine's handle on its database: one transaction per unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._writes = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: reads need no write lock, so they get an engine without BEGIN IMMEDIATE.
        self._read_engine = make_engine(url, immediate=False) if url.startswith("sqlite") else self.engine
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        with (self._writes if write else self._reads)() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()
