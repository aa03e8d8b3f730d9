"""Synchronizing providers: ``synchronize`` (one provider, on demand or periodic) and ``ProviderSyncService``, the
background thread that synchronizes every provider with ``auto_sync`` each interval.

A sync reads the provider in a short read transaction, lists its networks outside any transaction, then applies
what changed (``commands.provider_sync.ApplySync``) in one short write transaction. Syncs of one provider take
turns: on demand they wait for the running one; the periodic sync skips a provider being synchronized.

An authentication failure turns ``auto_sync`` off, with an event saying why: retrying with wrong credentials every
interval can lock the provider's account (oVirt bz 1568413).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from extnet.common.worker import Worker
from extnet.engine.commands.base import run
from extnet.engine.commands.provider_sync import ApplySync, SyncReport, recently_recorded
from extnet.engine.providers.client import ProviderError
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Provider

log = logging.getLogger("extnet.engine.sync")


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync did: ``report`` is None when it did not run (an unmanaged provider, one removed meanwhile, or a
    periodic sync of a provider that is being synchronized or no longer has auto_sync)."""

    provider_name: str
    report: SyncReport | None


def synchronize(database: Database, services: EngineServices, provider_id: str, on_demand: bool) -> SyncOutcome:
    """Synchronize one provider; a provider failure is recorded as an event and raised as a ProviderError."""
    lock = services.provider_locks.of(provider_id)
    if not lock.acquire(blocking=on_demand):
        return SyncOutcome("", None)
    try:
        return _synchronize(database, services, provider_id, on_demand)
    finally:
        lock.release()


def _synchronize(database: Database, services: EngineServices, provider_id: str, on_demand: bool) -> SyncOutcome:
    with database.transaction(write=False) as session:
        provider = session.get(Provider, provider_id)
        if provider is None:
            return SyncOutcome("", None)
        name = provider.name
        if provider.unmanaged or not (on_demand or provider.auto_sync):
            return SyncOutcome(name, None)  # extnet never calls an unmanaged provider: nothing to synchronize
        config = services.provider_config(provider)
    try:
        networks = services.providers.get(config).list_networks()
    except ProviderError as err:
        raise _failed(database, provider_id, name, err, on_demand) from None
    with database.transaction() as session:
        provider = session.get(Provider, provider_id)
        if provider is None:
            return SyncOutcome(name, None)
        report = run(ApplySync(session, provider, networks, on_demand))
    return SyncOutcome(name, report)


def _failed(database: Database, provider_id: str, name: str, err: ProviderError, on_demand: bool) -> ProviderError:
    """Record a failed sync (turning auto_sync off when authentication failed); the error to raise."""
    with database.transaction() as session:
        provider = session.get(Provider, provider_id)
        if err.kind == "auth" and provider is not None and provider.auto_sync:
            provider.auto_sync = False
            message = (f"Auto-sync of provider {name} was turned off: {err.message}. Retrying with these "
                       "credentials could lock the provider's account; fix them, then turn auto_sync on "
                       "again.")  # fmt: skip
            record(session, Code.PROVIDER_SYNCHRONIZED_DISABLED, message, "error", provider_id=provider_id)
            return ProviderError(err.kind, message, err.status)
        message = f"Failed to synchronize provider {name}: {err.message}"
        code = Code.PROVIDER_SYNCHRONIZED_FAILED
        if provider is not None and (on_demand or not recently_recorded(session, code, provider_id, message)):
            record(session, code, message, "error", provider_id=provider_id)
        return ProviderError(err.kind, message, err.status)


class ProviderSyncService:
    """Synchronizes every managed provider with ``auto_sync``, ``interval`` seconds after the previous round ended
    (an interval of 0 or less: never)."""

    def __init__(self, database: Database, services: EngineServices, interval: float) -> None:
        self.database = database
        self.services = services
        self.interval = interval
        # a round ``interval`` seconds after the previous one ended (the first, after the engine started)
        self._worker = Worker("extnet-provider-sync", self._sync_round, log=log,
                              failure="synchronizing the providers failed", backoff=lambda _failures: self.interval,
                              join_timeout=self._join_timeout, first_delay=lambda: self.interval)  # fmt: skip

    def start(self) -> None:
        if self.interval > 0:
            self._worker.start()

    def stop(self) -> None:
        """Stop after the provider being synchronized, if any (at most its connect and read timeouts)."""
        self._worker.stop()

    def _join_timeout(self) -> float:
        return self.services.provider_connect_timeout + self.services.provider_read_timeout + 5

    def _sync_round(self) -> float:
        self.sync_all()
        return self.interval

    def sync_all(self) -> None:
        with self.database.transaction(write=False) as session:
            stmt = select(Provider.id).where(Provider.auto_sync.is_(True), Provider.unmanaged.is_(False))
            provider_ids = list(session.scalars(stmt.order_by(Provider.name)))
        for provider_id in provider_ids:
            if self._worker.stopping:
                return
            try:
                synchronize(self.database, self.services, provider_id, on_demand=False)
            except ProviderError as err:
                log.warning("%s", err.message)  # already an event
            except Exception:  # noqa: BLE001 - one provider's failure must not stop the others, nor the thread
                log.exception("synchronizing provider %s failed", provider_id)
