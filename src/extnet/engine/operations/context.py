"""What the port lifecycle needs to know about the engine it runs in: its identity (marks the ports it makes), the
process it runs in (the owner of its VM operations), its policies and a way to wake its workers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from extnet.engine.domain.pending import PendingStarts
from extnet.engine.store.models import EngineState

ENGINE_ID = "engine_id"
ENGINE_INSTANCE = "engine_instance"
ENGINE_PREFIX = "engine-"
CLI_PREFIX = "cli-"
ActiveWait = Literal["auto", "always", "never"]


def utc(moment: datetime) -> datetime:
    """Dates come back from SQLite without a zone; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def new_instance(kind: str) -> str:
    """The id of one process working on the database: ``engine-<uuid>`` or ``cli-<uuid>``."""
    return f"{kind}{uuid.uuid4()}"


def port_marker(engine_id: str) -> str:
    """The ``description`` of every port this engine makes: how the reconciler tells them from any other
    engine's ``device_owner=oVirt`` ports on a shared provider (a port whose description a user changed is never
    taken for an orphan)."""
    return f"extnet engine {engine_id}"


def engine_id(session: Session) -> str:
    row = session.get(EngineState, ENGINE_ID)
    if row is None:  # a database made before the identity existed
        row = EngineState(key=ENGINE_ID, value=str(uuid.uuid4()))
        session.add(row)
        session.flush()
    return row.value


def current_engine_instance(session: Session) -> str | None:
    row = session.get(EngineState, ENGINE_INSTANCE)
    return row.value if row else None


def claim_engine_instance(session: Session, instance: str) -> None:
    """This engine process is now the one serving the database: operations of older ones were cut short."""
    row = session.get(EngineState, ENGINE_INSTANCE)
    if row is None:
        session.add(EngineState(key=ENGINE_INSTANCE, value=instance))
    else:
        row.value = instance


@dataclass
class Lifecycle:
    """The port lifecycle's settings and shared state in one process (the engine, or ``extnet engine reconcile``).

    ``active_wait``: when to wait for ports to become ACTIVE after plugging (``auto``: where the provider will be
    told, see ``ports.reports_status``). ``lock_wait``: how long an operation on a VM waits for the one before it.
    ``lease``: how long an operation may hold its VM before another process may take it over."""

    engine_id: str
    instance: str
    active_wait: ActiveWait = "auto"
    active_timeout: float = 60.0
    lock_wait: float = 30.0
    lease: float = 900.0
    wake_outbox: Callable[[], None] = field(default=lambda: None)
    released: threading.Condition = field(default_factory=threading.Condition)
    agents: Any = None  # scheduling.AgentCache: what providers said of their agents lately
    starts: PendingStarts = field(default_factory=PendingStarts)  # VM starts in flight, by host

    @property
    def marker(self) -> str:
        return port_marker(self.engine_id)

    def notify_released(self) -> None:
        with self.released:
            self.released.notify_all()
