"""Several provider processes on one database (``--workers N``, as Neutron runs API workers).

The parent migrates the database, makes the admin and binds the two listening sockets, once; uvicorn's supervisor
then spawns N workers that each build their own provider (engines, pools, driver) and serve the inherited sockets.
It restarts a worker that dies, stops when one fails to start (the parent then exits with an error), and stops them
all on SIGINT/SIGTERM. Concurrent requests of different workers meet in the database: its unique keys (segment,
MAC, address) and row locks, and the API's retry of a request that lost a race."""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any

from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from extnet.provider.app import Provider, bind_sockets, build_provider, uvicorn_config
from extnet.provider.settings import ProviderSettings

log = logging.getLogger("extnet.provider")
WORKER_HEADER = b"x-extnet-worker"

WORKER_HEALTHCHECK_S = 60


def workers_problem(settings: ProviderSettings) -> str | None:
    """Why these settings cannot run several workers, or None."""
    if settings.workers <= 1:
        return None
    if not settings.effective_database_url().startswith("postgresql"):
        return ("--workers > 1 needs a PostgreSQL --database-url: SQLite lets one process write at a time, so "
                "more workers would only queue on its lock")  # fmt: skip
    if settings.driver == "ovn":
        return ("--workers > 1 is not supported with --driver ovn: the driver's maintenance loop must run in one "
                "process only")  # fmt: skip
    return None


def serve_workers(settings: ProviderSettings) -> bool:
    """Serve with ``settings.workers`` processes until stopped; False when a worker could not start."""
    sockets = bind_sockets(settings)
    # uvicorn kills a worker that does not answer its health check in time and starts another: 5 s (its default)
    # is less than a worker's start (imports, engines, driver) takes on a busy machine, so a replaced worker was
    # killed while starting, again and again, and never served
    config = uvicorn_config(settings, functools.partial(worker_app, settings), factory=True, workers=settings.workers,
                            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)  # fmt: skip
    config.lifespan = "on"  # a worker disposes of its provider when it stops
    log.info("networking API on %s, identity API on %s: %d workers", settings.network_url(),
             settings.identity_url(), settings.workers)  # fmt: skip
    supervisor = Multiprocess(config, sockets=sockets)
    supervisor.run()
    return not any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)


def worker_app(settings: ProviderSettings) -> Worker:
    """Runs in each worker process (uvicorn's app factory)."""
    try:
        return Worker(build_provider(settings, prepared=True))
    except Exception:
        log.exception("the worker could not start")
        sys.exit(STARTUP_FAILURE)


class Worker:
    """One worker's application: the provider's, naming the worker's process id in ``X-Extnet-Worker`` (which
    process served a request: a diagnostic, nothing relies on it), and disposing of the provider at shutdown."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.header = (WORKER_HEADER, str(os.getpid()).encode())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return

        async def send_named(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.provider.app(scope, receive, send_named)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.provider.dispose()
                await send({"type": "lifespan.shutdown.complete"})
                return
