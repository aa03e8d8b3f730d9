"""What a first start sets up, in the background until it is done: the built-in provider registered as
``extnet-builtin`` and made the external network provider of cluster Default (as oVirt's engine-setup registers
ovirt-provider-ovn), then the local host of ``extnet up``.

The provider is registered once per database: the engine notes that it did (``EngineState``), so a later start
changes nothing, and a provider the administrator changed or removed stays as they left it. Its credentials are
checked against its Keystone first (a password that does not work is not stored), and kept like any provider's
(encrypted). The local host comes after the provider, so that pairing hands it the provider and the host is up
once the provider took its first heartbeat.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import requests
from sqlalchemy import select

from extnet.common.worker import Backoff, Delay, Worker
from extnet.engine.commands.base import run
from extnet.engine.commands.providers import AddProvider, ProviderInput
from extnet.engine.hosts.readiness import INITIALIZING
from extnet.engine.operations.pairing import LocalHost, ensure_local_host
from extnet.engine.providers.client import ProviderClient, ProviderConfig, ProviderError
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.models import Cluster, ClusterProvider, EngineState, Host, Provider

log = logging.getLogger("extnet.engine.bootstrap")

BUILTIN_NAME = "extnet-builtin"
REGISTERED = "builtin_provider"  # EngineState key: the built-in provider was registered once (its id)
RETRY_S = 1.0
STOP_WAIT_S = 30.0
_KEYSTONE_URI = re.compile(r'Keystone uri="([^"]+)"')


@dataclass(frozen=True)
class BuiltinProvider:
    """Where the built-in provider is and how the engine logs in to it (``password`` None: not known, so it is
    not registered)."""

    url: str  # the Networking API, without /v2.0
    password: str | None = field(repr=False)
    auth_url: str | None = None  # Keystone v3; None: the one the provider names in its 401 answers
    cluster: str = "Default"


class Retry(Exception):
    """Not done yet (the provider does not answer, the agent is not there): tried again a second later."""


class GiveUp(Exception):
    """Cannot be done (e.g. the provider refuses the password): said once, not tried again."""


def registered(database: Database) -> bool:
    with database.transaction(write=False) as session:
        return session.get(EngineState, REGISTERED) is not None


def registration(database: Database, password_known: bool, cluster: str = "Default") -> str:
    """What the engine holds of the built-in provider, for ``extnet up``'s banner."""
    with database.transaction(write=False) as session:
        marker = session.get(EngineState, REGISTERED)
        provider = session.get(Provider, marker.value) if marker is not None and marker.value else None
        if marker is None:
            if not password_known:
                return ("not registered in the engine: its admin password is not known to this start; register it as "
                        "an OpenStack network provider")  # fmt: skip
            return (f"being registered in the engine as '{BUILTIN_NAME}', the external network provider of cluster "
                    f"{cluster}")  # fmt: skip
        if not marker.value:
            return f"not registered in the engine: a provider named '{BUILTIN_NAME}' was there before it (left so)"
        if provider is None:
            return "registered in the engine at the first start, and removed since (left so)"
        return f"registered in the engine as '{provider.name}'"


def ensure_builtin_provider(database: Database, services: EngineServices, builtin: BuiltinProvider) -> str:
    """Register the built-in provider unless this database already did once; what happened, for the log. Raises
    Retry while the provider cannot be asked."""
    if registered(database):
        return f"the built-in provider was registered before (as '{BUILTIN_NAME}'); left as it is"
    if builtin.password is None:
        raise GiveUp(f"the built-in provider at {builtin.url} is not registered: its admin password is not known "
                     "here; register it as an OpenStack network provider with the password it printed at its first "
                     "start")  # fmt: skip
    config = _config(builtin, builtin.auth_url or _announced_auth_url(builtin.url))
    _check_credentials(config)
    with database.transaction() as session:
        if session.get(EngineState, REGISTERED) is not None:
            return "the built-in provider was registered meanwhile"
        if session.scalar(select(Provider.id).where(Provider.name == BUILTIN_NAME)) is not None:
            session.add(EngineState(key=REGISTERED, value=""))
            return f"a provider named '{BUILTIN_NAME}' exists already; left as it is"
        provider = run(AddProvider(session, services.secrets, _input(config)))
        cluster = session.scalars(select(Cluster).where(Cluster.name == builtin.cluster)).first()
        where = ""
        if cluster is not None:
            session.add(ClusterProvider(cluster_id=cluster.id, provider_id=provider.id))
            where = f" and made the external network provider of cluster {cluster.name}"
        session.add(EngineState(key=REGISTERED, value=provider.id))  # AddProvider recorded the event
    services.hosts_changed()  # the hosts' agents heartbeat to it from now on
    return f"the built-in provider at {builtin.url} is registered as '{BUILTIN_NAME}'{where}"


def _config(builtin: BuiltinProvider, auth_url: str | None) -> ProviderConfig:
    if auth_url is None:  # a provider running without authentication
        return ProviderConfig("", BUILTIN_NAME, builtin.url, False, connect_timeout=5, read_timeout=10)
    return ProviderConfig("", BUILTIN_NAME, builtin.url, True, username="admin", password=builtin.password,
                          authentication_url=auth_url, project_name="admin", user_domain_name="Default",
                          project_domain_name="Default", connect_timeout=5, read_timeout=10)  # fmt: skip


def _input(config: ProviderConfig) -> ProviderInput:
    """The provider as ``POST /openstacknetworkproviders`` would add it."""
    given = ProviderInput(
        name=config.name, description="extnet's built-in network provider (registered at the first start)",
        provider_type="external", plugin_type="open_vswitch", url=config.url, auto_sync=False,
        requires_authentication=config.requires_authentication,
    )  # fmt: skip
    if not config.requires_authentication:
        return given
    return replace(
        given,
        username=config.username,
        password=config.password,
        authentication_url=config.authentication_url,
        project_name=config.project_name,
        user_domain_name=config.user_domain_name,
        project_domain_name=config.project_domain_name,
    )


def _announced_auth_url(url: str) -> str | None:
    """The Keystone the provider names when it refuses an anonymous call (as keystonemiddleware does), as a v3 URL;
    None when it answers without authentication."""
    try:
        response = requests.get(f"{url.rstrip('/')}/v2.0/networks?limit=1", timeout=(5, 10))
    except requests.RequestException as err:
        raise Retry(f"the built-in provider at {url} does not answer yet ({type(err).__name__})") from None
    if response.status_code != 401:
        return None
    match = _KEYSTONE_URI.search(response.headers.get("WWW-Authenticate", ""))
    if match is None:
        raise GiveUp(f"the built-in provider at {url} asks for a token but names no Keystone; give its Keystone URL "
                     "in EXTNET_BUILTIN_PROVIDER_AUTH_URL")  # fmt: skip
    base = match.group(1).rstrip("/")
    return base if base.endswith(("/v3", "/v2.0")) else f"{base}/v3"


def _check_credentials(config: ProviderConfig) -> None:
    """The provider answers these credentials (a password that does not work is not stored); Retry while it cannot
    be reached."""
    client = ProviderClient(config)
    try:
        client.test()
    except ProviderError as err:
        if err.kind in ("unreachable", "timeout"):
            raise Retry(err.message) from None
        raise GiveUp(f"the built-in provider is not registered: {err.message}") from None
    finally:
        client.close()


class FirstStart:
    """Runs the first-start set-up on a worker of its own, one step a round, each tried again a second after it
    fails, until all are done (or the engine stops); ``on_ready`` is then told what the user can now use."""

    def __init__(self, database: Database, services: EngineServices, builtin: BuiltinProvider | None,
                 local: LocalHost | None, poll_hosts: Callable[[], None],
                 on_ready: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.database = database
        self.services = services
        self.builtin = builtin
        self.local = local
        self.poll_hosts = poll_hosts  # a host monitor round: the hosts' agents get the providers, statuses follow
        self.on_ready = on_ready
        self._steps: list[Callable[[], str]] = []
        if builtin is not None:
            self._steps.append(self._builtin_provider)
        if local is not None:
            self._steps.append(self._local_host)
        self._worker = Worker("extnet-first-start", self._next_step, log=log, failure="first start failed; retrying",
                              backoff=Backoff(RETRY_S, RETRY_S), join_timeout=lambda: STOP_WAIT_S)  # fmt: skip
        self._said: str | None = None

    def start(self) -> None:
        if self._steps:
            self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _next_step(self) -> Delay:
        """Try the first step not yet done: again a moment later when it fails (each distinct problem said once);
        when none is left, tell ``on_ready`` and end."""
        if self._steps:
            try:
                log.info("%s", self._steps[0]())
            except GiveUp as err:
                log.warning("first start: %s", err)
            except Exception as err:  # noqa: BLE001 - retried; each distinct problem said once
                self._say(err)
                return RETRY_S
            self._steps.pop(0)
            if self._steps:
                return 0.0
        if self.on_ready is not None and not self._worker.stopping:
            self.on_ready(self._ready())
        return None

    def _builtin_provider(self) -> str:
        assert self.builtin is not None
        return ensure_builtin_provider(self.database, self.services, self.builtin)

    def _local_host(self) -> str:
        assert self.local is not None
        if not _listening(self.local.address, self.local.port):  # started beside the engine: maybe not yet serving
            raise Retry(f"the local host agent does not answer yet at {self.local.address}:{self.local.port}")
        ensure_local_host(self.database, self.services, self.local)
        self.poll_hosts()  # an agent paired before (an earlier start) hears of the providers now, not a round later
        with self.database.transaction(write=False) as session:
            host = session.scalars(select(Host).where(Host.name == self.local.name)).first()
            if host is not None and host.status == INITIALIZING:  # ready means up: asked again a second later
                raise Retry(f"host '{host.name}' is {host.status}: {host.status_detail}")
        return f"the local host agent is host '{self.local.name}' of cluster {self.local.cluster}"

    def _say(self, err: Exception) -> None:
        problem = getattr(err, "detail", None) or getattr(err, "message", None) or str(err)
        if problem != self._said:
            level = logging.INFO if isinstance(err, Retry) else logging.WARNING
            log.log(level, "first start: %s (retrying)", problem)
            self._said = problem

    def _ready(self) -> str:
        with self.database.transaction(write=False) as session:
            host = session.scalars(select(Host).where(Host.name == self.local.name)).first() if self.local else None
            provider_id = session.get(EngineState, REGISTERED)
            provider = session.get(Provider, provider_id.value) if provider_id and provider_id.value else None
        parts = []
        if provider is not None:
            parts.append(f"network provider '{provider.name}'")
        if host is not None:
            state = host.status + (f" ({host.status_detail})" if host.status_detail else "")
            parts.append(f"host '{host.name}' {state}")
        return "extnet is ready: " + ", ".join(parts) if parts else "extnet is ready"


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False
