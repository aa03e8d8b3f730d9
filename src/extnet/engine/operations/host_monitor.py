"""The host monitor: a background thread that asks every paired host's agent, each interval, whether it is there.

A host's status follows its agent: ``up`` when it answers (``initializing`` until the providers took its first
heartbeats: ``readiness``), ``non_responsive`` (with ``status_detail`` saying why) when it does not or no longer
accepts this engine's secret; a host in maintenance stays in maintenance. Each round
also keeps what the agent reports current (capabilities, when their digest changed; its heartbeats to providers),
and hands every agent the engine's providers when what it holds differs (a keyed digest of them): after a host or
a provider is added or changed, or after the agent restarted. The agents are asked in parallel, outside any
transaction; each host's changes are written in its own short transaction, only if nobody changed the host
meanwhile (its status, address or pairing: an administrator's maintenance or re-pairing wins over a round that read
the host before).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from extnet.common.worker import Worker
from extnet.engine.hosts.client import HostAgentError, HostEndpoint
from extnet.engine.hosts.readiness import INITIALIZING, readiness
from extnet.engine.operations.pairing import (
    endpoint_of,
    handout,
    providers_digest,
    providers_payload,
    stored_capabilities,
)  # fmt: skip
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Host

log = logging.getLogger("extnet.engine.hosts")
MAX_PARALLEL = 8


@dataclass(frozen=True)
class _Seen:
    """A host as a round read it."""

    id: str
    status: str
    endpoint: HostEndpoint
    stored: dict[str, Any] | None
    secret_encrypted: str

    def changed(self, host: Host) -> bool:
        """Whether someone changed the host since the round read it (its status, where it is, its pairing)."""
        now = (host.status, host.address, host.port, host.agent_secret_encrypted, host.agent_certificate_sha256)
        return now != (self.status, self.endpoint.address, self.endpoint.port, self.secret_encrypted,
                       self.endpoint.pin)  # fmt: skip


@dataclass
class _Observation:
    problem: str | None = None  # None: the agent answered
    untrusted: bool = False  # what answered is not the agent the host was paired with
    capabilities: dict[str, Any] | None = None  # new capabilities, when they changed
    heartbeats: list[Any] = field(default_factory=list)


class HostMonitor:
    def __init__(self, database: Database, services: EngineServices, interval: float) -> None:
        self.database = database
        self.services = services
        self.interval = interval
        self._initializing = False  # the last round left a host initializing
        self._round = threading.Lock()
        self._worker = Worker("extnet-host-monitor", self._poll_round, log=log, failure="host monitoring round failed",
                              backoff=lambda _failures: self._delay(), join_timeout=self._join_timeout)  # fmt: skip

    def start(self) -> None:
        if self.interval > 0:
            self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def wake(self) -> None:
        """Run a round now (hosts or providers changed)."""
        self._worker.wake()

    def _join_timeout(self) -> float:
        client = self.services.host_agents
        return client.connect_timeout + client.read_timeout + 5

    def _poll_round(self) -> float:
        self.poll_all()
        return self._delay()

    def _delay(self) -> float:
        # soon again while a host waits for its providers' first answers
        return min(self.interval, 1.0) if self._initializing else self.interval

    # --- one round ---------------------------------------------------------------------------------------------

    def poll_all(self) -> None:
        with self._round:
            self._initializing = False
            with self.database.transaction(write=False) as session:
                hosts = list(session.scalars(select(Host).where(Host.agent_secret_encrypted.is_not(None))))
                seen = [_Seen(h.id, h.status, endpoint_of(h, self.services), h.agent_capabilities,
                              h.agent_secret_encrypted or "") for h in hosts]  # fmt: skip
                providers = providers_payload(session, self.services)
            if not seen:
                return
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(seen)), thread_name_prefix="extnet-poll") as pool:
                observations = list(pool.map(lambda host: self._observe(host, providers), seen))
            for host, observation in zip(seen, observations, strict=True):
                self._apply(host, observation)

    def _observe(self, host: _Seen, providers: list[dict[str, Any]]) -> _Observation:
        client = self.services.host_agents
        endpoint = host.endpoint
        assert endpoint.secret is not None
        try:
            ping = client.ping(endpoint, read_timeout=max(min(client.read_timeout, self.interval), 2.0))
            observation = _Observation(heartbeats=list(ping.get("heartbeats") or []))
            if ping.get("capabilities_digest") != (host.stored or {}).get("digest"):
                observation.capabilities = client.capabilities(endpoint)
            capabilities = observation.capabilities or (host.stored or {}).get("capabilities") or {}
            given = handout(self.services, host.id, capabilities, providers)
            expected = providers_digest(endpoint.secret, given.payload)
            if ping.get("providers_digest") != expected:
                observation.heartbeats = client.set_providers(endpoint, given.payload, expected)
            observation.heartbeats += given.failing
            return observation
        except HostAgentError as err:
            return _Observation(problem=err.message, untrusted=err.kind == "untrusted")
        except Exception as err:  # noqa: BLE001 - an agent answering nonsense is a host problem, not a monitor crash
            log.exception("monitoring host %s", endpoint.name)
            return _Observation(problem=f"Host '{endpoint.name}': its agent's answer could not be read ({err})")

    def _apply(self, seen: _Seen, observation: _Observation) -> None:
        with self.database.transaction() as session:
            # Locked: on PostgreSQL an administrator's maintenance committed after this read would otherwise be
            # overwritten by the status this round computed.
            host = session.get(Host, seen.id, with_for_update=True)
            if host is None or seen.changed(host):
                return  # removed, or changed by someone else since this round read it: the next round tells
            stored = host.agent_capabilities or {}
            capabilities = observation.capabilities or stored.get("capabilities") or {}
            new_stored = stored_capabilities(capabilities, observation.heartbeats if observation.problem is None
                                             else stored.get("heartbeats"))  # fmt: skip
            if new_stored != stored:
                host.agent_capabilities = new_stored
            if host.status == "maintenance":
                return
            if observation.problem is None:
                status, detail = readiness(observation.heartbeats).status(host.status)
            else:
                status, detail = "non_responsive", observation.problem
            self._initializing |= status == INITIALIZING
            if (status, detail) == (host.status, host.status_detail):
                return
            if observation.untrusted:
                record(session, Code.HOST_CERTIFICATE_REFUSED, f"Host {host.name}: the engine refused what answers "
                       f"at its address and sent it nothing. {observation.problem}", "error",
                       host_id=host.id)  # fmt: skip
            previous = host.status
            host.status, host.status_detail = status, detail
            if status in (previous, INITIALIZING):
                return
            if status == "up":
                record(session, Code.HOST_STATUS_DETECTED, f"Status of host {host.name} was set to up.",
                       host_id=host.id)  # fmt: skip
            else:
                record(session, Code.HOST_NON_RESPONSIVE, f"Host {host.name} is not responding: "
                       f"{observation.problem}", "error", host_id=host.id)  # fmt: skip
