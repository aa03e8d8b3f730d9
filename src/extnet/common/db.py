"""Database plumbing shared by the engine and the provider: engines with SQLite set up for concurrent use, and
running a program's Alembic migrations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event


def make_engine(url: str, immediate: bool = True, pool_size: int = 10, **kwargs: Any) -> Engine:
    """An engine for ``url``. On SQLite: WAL, foreign keys, and (``immediate``) a write lock taken at BEGIN."""
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate if immediate else _begin_deferred)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # explicit BEGINs below replace pysqlite's own transaction handling
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _begin_immediate(conn: Any) -> None:
    # One writer at a time, decided at BEGIN: a write transaction never fails half-way on "database is locked".
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


class WriteGate:
    """On SQLite, this process's write transactions queue here, one at a time, before BEGIN IMMEDIATE: a writer that
    finds the write lock taken would otherwise sleep in SQLite's busy handler (in steps of up to 100 ms), long after
    the lock was free again. Other processes on the same file still meet at SQLite's own lock. Elsewhere: no gate."""

    WAIT_S = 60.0  # as the SQLite busy timeout

    def __init__(self, url: str) -> None:
        self._lock = threading.Lock() if url.startswith("sqlite") else None

    @contextmanager
    def write(self) -> Iterator[None]:
        if self._lock is None:
            yield
            return
        if not self._lock.acquire(timeout=self.WAIT_S):
            raise TimeoutError(f"no write turn on the database within {self.WAIT_S:g} s")
        try:
            yield
        finally:
            self._lock.release()


def upgrade(url: str, migrations: Path) -> None:
    """Bring the database at ``url`` to the newest schema of the migrations in ``migrations``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")
