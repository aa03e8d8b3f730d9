"""Assembles the provider (store, identity, the two HTTP applications) and serves both ports from one process."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import uvicorn

from extnet.common.files import private_database, private_directory
from extnet.provider.api.http import NeutronApi
from extnet.provider.drivers.base import MechanismDriver
from extnet.provider.drivers.ovs_agent import OvsAgentDriver
from extnet.provider.identity.keystone import Keystone
from extnet.provider.identity.service import Bootstrap, Identity
from extnet.provider.settings import ProviderSettings
from extnet.provider.store.db import make_engine, migrate
from extnet.provider.store.sql import SqlBackend

log = logging.getLogger("extnet.provider")


@dataclass
class Provider:
    settings: ProviderSettings
    backend: SqlBackend
    identity: Identity
    app: Any  # ASGI: the networking API on one port, Keystone on the other
    generated_admin_password: str | None
    driver: MechanismDriver

    def dispose(self) -> None:
        self.driver.stop()
        self.backend.dispose()
        self.identity.engine.dispose()
        self.identity.reads.dispose()


class ByPort:
    """Routes each connection to the application of the port it arrived on."""

    def __init__(self, apps: dict[int, Any], default: Any) -> None:
        self.apps = apps
        self.default = default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        server = scope.get("server") or ("", 0)
        await self.apps.get(int(server[1] or 0), self.default)(scope, receive, send)


def prepare(settings: ProviderSettings) -> Bootstrap:
    """The provider's database migrated and its admin made (at the first start): what a first start did. ``extnet
    up`` calls it before it starts the provider, to know whether the provider's password is new."""
    private_directory(settings.data_dir)
    url = settings.effective_database_url()
    migrate(url)
    private_database(url)
    engine = make_engine(url)
    try:
        return Identity(engine, timedelta(seconds=settings.token_ttl_seconds)).bootstrap(settings.admin_password)
    finally:
        engine.dispose()


def build_provider(settings: ProviderSettings, prepared: bool = False) -> Provider:
    """``prepared``: ``prepare`` ran already (the parent of several workers did), so no migration or bootstrap."""
    if settings.port == settings.keystone_port and settings.host == settings.keystone_host:
        raise ValueError("--listen and --keystone-listen must differ")
    url = settings.effective_database_url()
    if not prepared:
        private_directory(settings.data_dir)
        migrate(url)
        private_database(url)
    backend = SqlBackend(url, settings.database_pool_size)
    read_engine = make_engine(url, immediate=False) if url.startswith("sqlite") else None
    identity = Identity(make_engine(url, pool_size=settings.database_pool_size),
                        timedelta(seconds=settings.token_ttl_seconds), read_engine,
                        settings.login_cooldown)  # fmt: skip
    generated = None if prepared else identity.bootstrap(settings.admin_password).generated_password
    driver = make_driver(settings, backend)
    driver.start()
    neutron = NeutronApi(backend, identity, settings, driver)
    keystone = Keystone(identity, settings).app()
    app = ByPort({settings.port: neutron, settings.keystone_port: keystone}, neutron)
    return Provider(settings, backend, identity, app, generated, driver)


def make_driver(settings: ProviderSettings, backend: SqlBackend) -> MechanismDriver:
    if settings.driver == "ovn":
        from extnet.provider.drivers.ovn.driver import OvnDriver

        return OvnDriver(backend, settings.ovn_nb, settings.ovn_sb, settings.ovn_maintenance_interval)
    return OvsAgentDriver()


def bind_sockets(settings: ProviderSettings) -> list[socket.socket]:
    """The networking API's and the identity API's listening sockets (workers inherit them)."""
    return [_bind(settings.host, settings.port), _bind(settings.keystone_host, settings.keystone_port)]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(settings: ProviderSettings, app: Any, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        lifespan="off",
        proxy_headers=False,  # the client address is the peer's: logins are throttled by it
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        **extra,
    )


def serve(provider: Provider) -> None:
    settings = provider.settings
    sockets = bind_sockets(settings)
    config = uvicorn_config(settings, provider.app)
    log.info(
        "networking API on %s, identity API on %s (backend %s, auth %s)",
        settings.network_url(),
        settings.identity_url(),
        provider.backend.name,
        settings.auth,
    )
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        provider.dispose()
