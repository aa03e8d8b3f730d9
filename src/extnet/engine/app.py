"""Assembles the engine: database, authentication and the HTTP application."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from extnet.common.files import private_database, private_directory
from extnet.common.throttle import LoginThrottle
from extnet.engine.api.http import ApiDispatcher
from extnet.engine.api.openapi import openapi_document
from extnet.engine.api.root import PRODUCT, ROOTS, root_entity
from extnet.engine.auth import Authenticator, ensure_admin
from extnet.engine.bootstrap import BuiltinProvider, FirstStart
from extnet.engine.errors import Fault
from extnet.engine.hosts.accounts import HostAccounts
from extnet.engine.hosts.client import HostAgentClient
from extnet.engine.jobs import JobRunner, abandon_jobs
from extnet.engine.lease import Lease, describe, has_lease_table
from extnet.engine.operations.context import ENGINE_PREFIX, Lifecycle, claim_engine_instance, engine_id, new_instance
from extnet.engine.operations.host_monitor import HostMonitor
from extnet.engine.operations.outbox import OutboxService
from extnet.engine.operations.pairing import LocalHost
from extnet.engine.operations.reconciler import ReconcilerService
from extnet.engine.operations.scheduling import AgentCache
from extnet.engine.operations.sync import ProviderSyncService
from extnet.engine.portal import portal_routes
from extnet.engine.providers.client import ProviderClients
from extnet.engine.secrets import SecretBox
from extnet.engine.services import EngineServices
from extnet.engine.settings import EngineSettings
from extnet.engine.store.db import Database, migrate
from extnet.engine.store.events import Code, record
from extnet.engine.web import welcome_page

log = logging.getLogger("extnet.engine")


@dataclass
class Engine:
    settings: EngineSettings
    db: Database
    auth: Authenticator
    app: Starlette
    generated_admin_password: str | None
    sync: ProviderSyncService
    hosts: HostMonitor
    jobs: JobRunner
    lease: Lease


def build_engine(settings: EngineSettings, on_ready: Callable[[str], None] | None = None,
                 waiting: Callable[[str], None] | None = None) -> Engine:  # fmt: skip
    """The engine on ``settings``; ``on_ready`` hears once what a first start set up (the built-in provider, the
    local host) is usable. Raises DatabaseInUse when another engine runs on the database; with ``settings.standby``
    waits for it to go instead (``waiting`` hears which engine it waits for)."""
    private_directory(settings.data_dir)
    url = settings.effective_database_url()
    db = Database(url, settings.database_pool_size)
    lease = Lease(db, describe(f"{settings.scheme}://{settings.listen}"), settings.lease_ttl)
    leased = has_lease_table(db)
    if leased:  # the lease first: a newer engine must not migrate the schema under the engine that runs
        taken = lease.wait_for(waiting or (lambda _holder: None)) if settings.standby else lease.acquire()
    migrate(url)
    private_database(url)
    if not leased:
        taken = lease.wait_for(waiting or (lambda _holder: None)) if settings.standby else lease.acquire()
    generated = ensure_admin(db, settings.admin_password)
    with db.transaction() as session:
        record(session, Code.ENGINE_STARTED, f"extnet engine {PRODUCT['full_version']} started.")
        if taken.previous is not None:
            record(session, Code.ENGINE_LEASE_TAKEN, f"This engine ({lease.description}) took over the database "
                   f"from the engine before it ({taken.previous}).")  # fmt: skip
    abandoned = abandon_jobs(db)  # jobs an engine process that is gone left running
    if abandoned:
        log.warning("%d job(s) of an engine that stopped while they ran are now unknown", abandoned)
    throttle = LoginThrottle(cooldown=settings.login_cooldown)
    auth = Authenticator(db, timedelta(seconds=settings.token_ttl_seconds), throttle)
    services = EngineServices(
        secrets=SecretBox.in_data_dir(settings.data_dir),
        providers=ProviderClients(),
        provider_connect_timeout=settings.provider_connect_timeout,
        provider_read_timeout=settings.provider_read_timeout,
        host_agents=HostAgentClient(
            settings.host_connect_timeout, settings.host_read_timeout, settings.host_first_beat_wait
        ),
    )
    services.host_accounts = HostAccounts(db, services)
    hosts = HostMonitor(db, services, settings.host_monitor_interval)
    services.hosts_changed = hosts.wake
    first_start = FirstStart(db, services, _builtin_provider(settings), _local_host(settings), hosts.poll_all,
                             on_ready)  # fmt: skip
    services.lifecycle = _lifecycle(db, settings)
    outbox = OutboxService(db, services)
    services.lifecycle.wake_outbox = outbox.wake
    reconciler = ReconcilerService(db, services, settings.reconcile_interval)
    jobs = JobRunner()
    dispatcher = ApiDispatcher(db, auth, ROOTS, root_entity, settings.max_body_bytes, services, jobs)

    async def openapi(request: Request) -> Response:
        try:
            await dispatcher.authenticate(request)
        except Fault as fault:
            return JSONResponse({"reason": fault.reason, "detail": fault.detail}, status_code=fault.status)
        return JSONResponse(openapi_document(ROOTS))

    sync = ProviderSyncService(db, services, settings.provider_sync_interval)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        lease.keep(_stop_serving)  # renewed while the engine serves (an engine built and never served lets it lapse)
        sync.start()
        hosts.start()
        outbox.start()
        reconciler.start()
        first_start.start()
        try:
            yield
        finally:
            await run_in_threadpool(first_start.stop)
            await run_in_threadpool(jobs.stop)  # first: the running jobs still use everything below
            await run_in_threadpool(reconciler.stop)
            await run_in_threadpool(outbox.stop)
            await run_in_threadpool(hosts.stop)
            await run_in_threadpool(services.host_agents.close)  # kept-alive connections: agents stop without waiting
            await run_in_threadpool(sync.stop)
            await run_in_threadpool(lease.release)  # last: a standby engine takes over at once

    welcome = welcome_page(db, dispatcher.authenticate, str(PRODUCT["full_version"]))
    routes = [
        Route("/ovirt-engine/api-docs/openapi.json", openapi),
        Route("/ovirt-engine/", welcome),
        Route("/ovirt-engine", welcome),
        *portal_routes(),
        *dispatcher.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    return Engine(settings, db, auth, app, generated, sync, hosts, jobs, lease)


def _stop_serving(reason: str) -> None:
    """Another engine took over the database: this one stops (as Ctrl-C would stop it)."""
    log.critical("stopping: %s", reason)
    os.kill(os.getpid(), signal.SIGTERM)


def _lifecycle(db: Database, settings: EngineSettings) -> Lifecycle:
    """The port lifecycle of this engine process, which from now on serves the database (the operations an engine
    before it left unfinished are the reconciler's to undo)."""
    instance = new_instance(ENGINE_PREFIX)
    with db.transaction() as session:
        claim_engine_instance(session, instance)
        identity = engine_id(session)
    return Lifecycle(identity, instance, settings.port_active_wait, settings.port_active_timeout,
                     settings.vm_lock_wait, settings.vm_operation_lease, agents=AgentCache())  # fmt: skip


def _builtin_provider(settings: EngineSettings) -> BuiltinProvider | None:
    if not settings.builtin_provider:
        return None
    password = settings.builtin_provider_password or settings.admin_password
    return BuiltinProvider(settings.builtin_provider.rstrip("/"), password, settings.builtin_provider_auth_url)


def _local_host(settings: EngineSettings) -> LocalHost | None:
    if not settings.local_host or not settings.local_host_password:
        return None
    address, _, port = settings.local_host.rpartition(":")
    return LocalHost("local", address.strip("[]"), int(port), settings.local_host_password)
