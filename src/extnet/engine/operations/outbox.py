"""The port outbox: every port the engine no longer needs is written here in the transaction that made it unneeded
(a vNIC removed, moved to another network, its VM removed, ...), so that none is ever forgotten, not even if the
engine dies right after; a worker then deletes it on its provider, at once and, while the provider fails, again
with exponential backoff, with an event for every failure (oVirt only wrote the event, and left the port).

Deliveries are claimed in the database (a row is pushed into the future before its provider is called), so the
engine's worker and ``extnet engine reconcile`` never delete the same port twice at the same time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from extnet.common.worker import Backoff, Worker
from extnet.engine.operations.context import now, utc
from extnet.engine.providers.client import ProviderError
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import PortOutbox, Provider

log = logging.getLogger("extnet.engine.outbox")
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 300.0
IDLE_S = 60.0


def backoff(attempts: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_MAX_S) -> float:
    return float(min(base * 2 ** min(max(attempts - 1, 0), 20), cap))


@dataclass
class DeliveryReport:
    deleted: list[str] = field(default_factory=list)  # port ids gone from their providers
    failed: list[str] = field(default_factory=list)  # messages of the failures (each also an event)


@dataclass(frozen=True)
class _Claimed:
    id: int
    provider_id: str
    port_id: str
    vnic_id: str
    vnic_name: str
    vm_id: str | None
    attempts: int


def deliver(database: Database, services: EngineServices, *, due_only: bool = True) -> DeliveryReport:
    """Delete the queued ports (those due, or all of them); what could not be deleted stays queued."""
    report = DeliveryReport()
    with database.transaction(write=False) as session:
        stmt = select(PortOutbox.id, PortOutbox.next_attempt_at).order_by(PortOutbox.next_attempt_at, PortOutbox.id)
        if due_only:
            stmt = stmt.where(PortOutbox.next_attempt_at <= now())
        rows = list(session.execute(stmt))
    for row_id, seen in rows:
        claimed = _claim(database, services, row_id, seen)
        if claimed is not None:
            _deliver_one(database, services, claimed, report)
    return report


def _claim(database: Database, services: EngineServices, row_id: int, seen: datetime) -> _Claimed | None:
    """Push the row into the future so that nobody else delivers it meanwhile; None if someone else has it."""
    window = timedelta(seconds=services.provider_connect_timeout + services.provider_read_timeout + 30)
    with database.transaction() as session:
        changed = session.execute(
            update(PortOutbox)
            .where(PortOutbox.id == row_id, PortOutbox.next_attempt_at == seen)
            .values(next_attempt_at=now() + window)
        ).rowcount  # type: ignore[attr-defined]
        if changed != 1:
            return None
        row = session.get(PortOutbox, row_id)
        assert row is not None
        return _Claimed(row.id, row.provider_id, row.port_id, row.vnic_id, row.vnic_name, row.vm_id, row.attempts)


def _deliver_one(database: Database, services: EngineServices, item: _Claimed, report: DeliveryReport) -> None:
    with database.transaction(write=False) as session:
        provider = session.get(Provider, item.provider_id)
        config = services.provider_config(provider) if provider and not provider.unmanaged else None
        name = provider.name if provider else item.provider_id
    if config is None:
        _gone_provider(database, item, name)
        return
    what = f"remove the port {item.port_id} of vNIC '{item.vnic_name}'"
    try:
        services.providers.get(config).delete_port(item.port_id, what)
    except ProviderError as err:
        report.failed.append(err.message)
        _failed(database, item, name, err)
        return
    report.deleted.append(item.port_id)
    with database.transaction() as session:
        row = session.get(PortOutbox, item.id)
        if row is not None:
            session.delete(row)
        if item.attempts:
            record(session, Code.PORT_REMOVED_AFTER_RETRY, f"Port {item.port_id} of vNIC {item.vnic_name} was removed "
                   f"from external network provider {name} after {item.attempts + 1} attempts.",
                   provider_id=item.provider_id, vm_id=item.vm_id)  # fmt: skip


def _failed(database: Database, item: _Claimed, name: str, err: ProviderError) -> None:
    attempts = item.attempts + 1
    delay = backoff(attempts)
    with database.transaction() as session:
        row = session.get(PortOutbox, item.id)
        if row is None:
            return
        row.attempts, row.last_error = attempts, err.message[:2000]
        row.next_attempt_at = now() + timedelta(seconds=delay)
        record(session, Code.REMOVE_PORT_FROM_EXTERNAL_PROVIDER_FAILED, f"Failed to remove vNIC {item.vnic_name} from "
               f"external network provider {name}. The vNIC can be identified on the provider by device id "
               f"{item.vnic_id}. Attempt {attempts} failed ({err.message}); the port {item.port_id} will be removed "
               f"at the next attempt, in {delay:g} s.", "warning", provider_id=item.provider_id,
               vm_id=item.vm_id)  # fmt: skip
    log.warning("removing port %s from provider %s failed (attempt %d): %s", item.port_id, name, attempts, err.message)


def _gone_provider(database: Database, item: _Claimed, name: str) -> None:
    """The provider was removed (or is unmanaged): the engine can no longer delete the port; say so once."""
    with database.transaction() as session:
        row = session.get(PortOutbox, item.id)
        if row is not None:
            session.delete(row)
        record(session, Code.PORT_LEFT_ON_PROVIDER, f"Port {item.port_id} of vNIC {item.vnic_name} could not be "
               f"removed: provider {name} is no longer managed by the engine; remove the port on the provider "
               f"(device id {item.vnic_id}).", "warning", vm_id=item.vm_id)  # fmt: skip


def next_due(database: Database) -> datetime | None:
    with database.transaction(write=False) as session:
        moment = session.scalar(select(func.min(PortOutbox.next_attempt_at)))
    return utc(moment) if moment is not None else None


def queued(database: Database) -> int:
    with database.transaction(write=False) as session:
        return int(session.scalar(select(func.count(PortOutbox.id))) or 0)


class OutboxService:
    """The engine's worker: delivers the outbox when woken (after a commit that queued ports) and whenever a
    retry is due."""

    def __init__(self, database: Database, services: EngineServices) -> None:
        self.database = database
        self.services = services
        # a failed round (e.g. the database restarting) is tried again a second later, each time
        self._worker = Worker("extnet-port-outbox", self._deliver_round, log=log,
                              failure="delivering the port outbox failed",
                              backoff=Backoff(BACKOFF_BASE_S, BACKOFF_BASE_S),
                              join_timeout=self._join_timeout)  # fmt: skip

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def wake(self) -> None:
        self._worker.wake()

    def _join_timeout(self) -> float:
        return self.services.provider_connect_timeout + self.services.provider_read_timeout + 5

    def _deliver_round(self) -> float:
        """Deliver what is due; the delay until the next retry is due (at most IDLE_S)."""
        deliver(self.database, self.services)
        due = next_due(self.database)
        if due is None:
            return IDLE_S
        return min(max((due - now()).total_seconds(), 0.01), IDLE_S)
