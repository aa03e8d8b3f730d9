"""One engine per database: the engine that serves a database holds a lease on it (one row of ``engine_lease``),
renewed every third of its time to live. A second engine on the same database refuses to start, naming the one
that runs; with ``--standby`` it waits instead and takes the lease over once the first is gone: stopped, at once;
killed on the same machine, at once (its process is gone); cut off or paused, when its lease expires. An engine
that finds its lease taken by another (it was paused for longer than the lease), or cannot renew it within its time
to live, stops serving as soon as its renewal runs again. (There is no fencing: a paused engine may finish the work
it was doing when it resumes before it notices.)

The expiry is compared with this machine's clock: engines on different machines need synchronized clocks (NTP),
as oVirt's engine-to-host fencing does.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from extnet.engine.store.db import Database
from extnet.engine.store.models import EngineLease

log = logging.getLogger("extnet.engine.lease")
LEASE_ROW = 1
BUSY_WAIT = 10.0  # seconds a refusing engine tries a lease row another engine has locked


class DatabaseInUse(Exception):
    """Another engine holds the database's lease."""

    def __init__(self, holder: str, expires_at: datetime) -> None:
        super().__init__(f"another engine runs on this database: {holder} (its lease runs until "
                         f"{expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC unless it renews it). Stop it first, or "
                         "start this one with --standby to take over when it is gone")  # fmt: skip
        self.holder = holder


@dataclass(frozen=True)
class Taken:
    """The lease this engine took: from whom (None: nobody held it)."""

    previous: str | None


def describe(serving: str) -> str:
    return f"engine on {socket.gethostname()}, pid {os.getpid()}, serving {serving}"


_DESCRIPTION = re.compile(r"^engine on (?P<host>\S+), pid (?P<pid>\d+),")


def _gone_from_here(description: str) -> bool:
    """Whether the lease's holder ran on this machine and its process is gone (killed: a restart need not wait for
    its lease to run out)."""
    found = _DESCRIPTION.match(description)
    if found is None or found["host"] != socket.gethostname():
        return False
    if int(found["pid"]) == os.getpid():  # an earlier run with this pid (a container's pid 1): not this one
        return True
    try:
        os.kill(int(found["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    def __init__(self, database: Database, description: str, ttl: float) -> None:
        self.database = database
        self.description = description
        self.ttl = max(ttl, 1.0)
        self.holder = uuid.uuid4().hex
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- taking it ---------------------------------------------------------------------------------------------

    def acquire(self, busy_for: float = BUSY_WAIT) -> Taken:
        """Take the lease, or raise DatabaseInUse naming the engine that holds it. The row locked by the engine
        renewing it (or paused while it did) is tried again for ``busy_for`` seconds."""
        deadline = time.monotonic() + busy_for
        while True:
            try:
                with self.database.transaction() as session:
                    return self._take(session)
            except IntegrityError:  # another engine inserted the first row at the same moment
                continue
            except OperationalError as err:  # locked: SQLite's busy timeout, PostgreSQL's NOWAIT
                if time.monotonic() > deadline:
                    raise DatabaseInUse("an engine that keeps the database locked", datetime.now(UTC)) from err
            if self._stopping.wait(0.2):
                raise InterruptedError("stopped while waiting for the database")

    def wait_for(self, waiting: Callable[[str], None], poll: float = 1.0) -> Taken:
        """``--standby``: take the lease once its holder is gone; ``waiting`` hears who holds it, once per holder."""
        told: str | None = None
        while True:
            try:
                return self.acquire()
            except DatabaseInUse as err:
                if err.holder != told:
                    waiting(err.holder)
                    told = err.holder
            if self._stopping.wait(min(poll, self.ttl / 3)):
                raise InterruptedError("stopped while waiting for the database")

    def _take(self, session: Session) -> Taken:
        now = datetime.now(UTC)
        row = session.get(EngineLease, LEASE_ROW, with_for_update={"nowait": True})
        if row is None:
            session.add(self._row(now))
            session.flush()
            return Taken(None)
        if row.holder != self.holder and _aware(row.expires_at) > now and not _gone_from_here(row.description):
            raise DatabaseInUse(row.description, _aware(row.expires_at))
        previous = None if row.holder == self.holder else row.description
        row.holder, row.description = self.holder, self.description
        row.acquired_at, row.renewed_at, row.expires_at = now, now, now + timedelta(seconds=self.ttl)
        return Taken(previous)

    def _row(self, now: datetime) -> EngineLease:
        return EngineLease(id=LEASE_ROW, holder=self.holder, description=self.description, acquired_at=now,
                           renewed_at=now, expires_at=now + timedelta(seconds=self.ttl))  # fmt: skip

    # --- keeping it --------------------------------------------------------------------------------------------

    def keep(self, lost: Callable[[str], None]) -> None:
        """Renew the lease every third of its time to live until ``release``; ``lost`` hears why when another
        engine took it meanwhile (this one must stop serving)."""
        self._thread = threading.Thread(target=self._renewing, args=(lost,), name="extnet-engine-lease", daemon=True)
        self._thread.start()

    def _renewing(self, lost: Callable[[str], None]) -> None:
        renewed = time.monotonic()
        while not self._stopping.wait(self.ttl / 3):
            try:
                if not self._renew():
                    lost("another engine took over this database (this one could not renew its lease in time)")
                    return
                renewed = time.monotonic()
            except Exception:  # noqa: BLE001 - the database restarting: retried until the lease runs out
                log.exception("renewing the engine's lease on the database failed")
                if time.monotonic() - renewed > self.ttl:
                    lost("this engine could not renew its lease on the database within its time to live; a standby "
                         "engine may have taken over")  # fmt: skip
                    return

    def _renew(self) -> bool:
        with self.database.transaction() as session:
            row = session.get(EngineLease, LEASE_ROW, with_for_update=True)
            if row is None or row.holder != self.holder:
                return False
            now = datetime.now(UTC)
            row.renewed_at, row.expires_at = now, now + timedelta(seconds=self.ttl)
            return True

    def release(self) -> None:
        """Stop renewing and let a standby engine take over at once."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)
        try:
            with self.database.transaction() as session:
                row = session.get(EngineLease, LEASE_ROW, with_for_update=True)
                if row is not None and row.holder == self.holder:
                    row.expires_at = datetime.now(UTC)  # kept: the next engine's event names this one
        except Exception:  # noqa: BLE001 - the lease then expires by itself
            log.exception("releasing the engine's lease on the database failed")


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def has_lease_table(database: Database) -> bool:
    """Whether the database's schema has the lease already (not a new database, nor one of before the lease)."""
    return inspect(database.engine).has_table(EngineLease.__tablename__)
