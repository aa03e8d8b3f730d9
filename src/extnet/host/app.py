"""Assembles the host agent: data dir, runtime, pairing, the JSON-RPC application; and serves it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from extnet.common.files import private_directory
from extnet.common.tls import KeyPair, ensure_self_signed
from extnet.host.api.http import JsonRpcApp
from extnet.host.capabilities import unique_id
from extnet.host.heartbeat import HeartbeatService
from extnet.host.networks import ProviderNetworks
from extnet.host.pairing import Pairing
from extnet.host.runtime import make_runtime
from extnet.host.service import HostAgent
from extnet.host.settings import HostSettings

GRACEFUL_SHUTDOWN = 2  # seconds a stopping agent waits for requests in flight


class ProviderAccess:
    """Reads from the providers the engine handed the agent (through the heartbeat's sessions, made later)."""

    heartbeat: HeartbeatService | None = None

    def get_json(self, provider_id: str, path: str) -> Any:
        if self.heartbeat is None:
            raise LookupError("the agent has no providers yet")
        return self.heartbeat.get_json(provider_id, path)


@dataclass
class HostAgentServer:
    settings: HostSettings
    agent: HostAgent
    app: Any  # ASGI
    generated_password: str | None
    certificate: KeyPair  # what the agent serves HTTPS with; the engine pins it when it pairs


def build_host_agent(settings: HostSettings) -> HostAgentServer:
    """Raises RuntimeUnavailable when the runtime cannot run here, ValueError for a broken data dir."""
    private_directory(settings.data_dir)
    host_id = unique_id(settings.data_dir)
    certificate = agent_certificate(settings)
    providers = ProviderAccess()
    runtime = make_runtime(settings, host_id, ProviderNetworks(providers.get_json))
    pairing = Pairing(settings.data_dir, settings.pairing_password)
    agent = HostAgent(settings, runtime, pairing, host_id)
    providers.heartbeat = agent.heartbeat
    endpoint = JsonRpcApp(agent, settings.max_body_bytes)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        agent.heartbeat.start()
        try:
            yield
        finally:
            await run_in_threadpool(agent.heartbeat.stop)
            runtime.close()

    app = _Asgi(Starlette(lifespan=lifespan), endpoint)
    return HostAgentServer(settings, agent, app, pairing.generated_password, certificate)


def agent_certificate(settings: HostSettings) -> KeyPair:
    """The agent's own key and self-signed certificate (``agent.key``, ``agent.crt`` in the data dir), made at its
    first start; the engine pins the certificate when it pairs, so a new one means pairing again."""
    name = settings.hostname or socket.gethostname()
    listen_host = settings.listen.rpartition(":")[0].strip("[]")
    names = [name, "localhost", "127.0.0.1", "::1"] + ([listen_host] if listen_host not in ("0.0.0.0", "::") else [])
    return ensure_self_signed(settings.data_dir, "agent", name, names)


class _Asgi:
    """Every HTTP request, whatever its path or method, goes to the JSON-RPC endpoint (which answers 401 to a
    caller without the secret); the lifespan (and anything else) to Starlette."""

    def __init__(self, lifespan_app: Starlette, endpoint: JsonRpcApp) -> None:
        self.lifespan_app = lifespan_app
        self.endpoint = endpoint

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            response = await self.endpoint(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.lifespan_app(scope, receive, send)


def serve(server: HostAgentServer) -> None:
    settings = server.settings
    config = uvicorn.Config(server.app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=settings.log_level == "debug", lifespan="on", proxy_headers=False,
                            server_header=False, date_header=False,
                            ssl_certfile=str(server.certificate.cert_path),
                            ssl_keyfile=str(server.certificate.key_path),
                            # the engine's idle kept-alive TLS connections never answer a close: do not wait for them
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)  # fmt: skip
    with suppress(KeyboardInterrupt):  # uvicorn has shut down gracefully; it re-raises the Ctrl-C it caught
        uvicorn.Server(config).run()
