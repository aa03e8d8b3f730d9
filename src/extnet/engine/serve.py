"""Serving the engine: build it and run it under uvicorn until Ctrl-C (``extnet engine`` and ``extnet up``)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import uvicorn

from extnet.engine.settings import EngineSettings


def serve_engine(settings: EngineSettings, on_ready: Callable[[str], None] | None = None) -> int:
    """Build the engine and serve it until Ctrl-C; ``on_ready`` hears once what a first start set up is usable."""
    from extnet.engine.app import build_engine
    from extnet.engine.lease import DatabaseInUse

    def waiting(holder: str) -> None:
        print(f"standby: waiting to take over the database from the {holder}", flush=True)

    try:
        engine = build_engine(settings, on_ready, waiting)
    except DatabaseInUse as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (InterruptedError, KeyboardInterrupt):  # stopped while it waited as a standby
        return 0
    if engine.generated_admin_password:
        print(f"Generated the password of admin@internal (shown once): {engine.generated_admin_password}",
              flush=True)  # fmt: skip
    config = uvicorn.Config(
        engine.app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        lifespan="on",  # starts and stops the engine's background work (provider auto-sync)
        proxy_headers=False,  # the client address is the peer's: logins are throttled by it
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn has already shut down gracefully; it re-raises the Ctrl-C it caught
    finally:
        engine.db.dispose()
    return 0
