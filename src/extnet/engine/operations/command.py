"""``extnet engine reconcile``: one reconciler pass from the command line, beside a running engine or not, with a
progress line (common/progress.py); exits 1 when something could not be repaired (the report says what)."""

from __future__ import annotations

import sys
from typing import TextIO

from extnet.common.progress import Progress
from extnet.engine.hosts.client import HostAgentClient
from extnet.engine.operations.context import CLI_PREFIX, Lifecycle, engine_id, new_instance
from extnet.engine.operations.reconciler import ReconcileReport, reconcile
from extnet.engine.providers.client import ProviderClients
from extnet.engine.secrets import SecretBox
from extnet.engine.services import EngineServices
from extnet.engine.settings import EngineSettings
from extnet.engine.store.db import Database, migrate


def summary(report: ReconcileReport) -> str:
    lines = [
        f"recovered operations: {len(report.recovered)}"
        + (f" ({', '.join(report.recovered)})" if report.recovered else ""),
        f"ports checked: {report.ports_checked}",
        f"orphan ports removed: {report.orphans_removed}",
        f"missing ports made again: {report.ports_recreated}",
        f"port bindings repaired: {report.bindings_repaired}",
        f"ports deleted from the outbox: {report.outbox_deleted}",
    ]
    if report.busy:
        lines.append(f"left alone (an operation was in progress): {', '.join(sorted(set(report.busy)))}")
    lines += [f"failed: {failure}" for failure in report.failures]
    return "\n".join(lines)


def run_reconcile(settings: EngineSettings, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    url = settings.effective_database_url()
    migrate(url)
    database = Database(url)
    services = EngineServices(
        secrets=SecretBox.in_data_dir(settings.data_dir), providers=ProviderClients(),
        provider_connect_timeout=settings.provider_connect_timeout,
        provider_read_timeout=settings.provider_read_timeout,
        host_agents=HostAgentClient(settings.host_connect_timeout, settings.host_read_timeout),
    )  # fmt: skip
    try:
        with database.transaction() as session:
            identity = engine_id(session)
        services.lifecycle = Lifecycle(identity, new_instance(CLI_PREFIX), settings.port_active_wait,
                                       settings.port_active_timeout, settings.vm_lock_wait,
                                       settings.vm_operation_lease)  # fmt: skip
        with Progress("reconcile", err) as progress:
            report = reconcile(database, services, progress)
    finally:
        database.dispose()
    print(summary(report), file=out)
    return 1 if report.failures else 0
