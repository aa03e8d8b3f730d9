"""Pairing hosts with their agents, outside any transaction: adding a host, pairing it again (``install``),
refreshing what its agent reports, activating it, and the local host of ``extnet up``.

Adding a host (as oVirt's host deploy with ``root_password``): validate the request, ask the agent who it is (with
the pairing password, changing nothing), refuse an agent that already is another host, pair (the agent makes a new
secret and keeps its digest), read its capabilities with the secret, hand it the engine's providers and wait
(briefly) until they took its first heartbeats, then record the host with the secret encrypted: up, or initializing
while a provider has not answered yet (``readiness``). Any failure adds nothing; the fault names the host and what
to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from extnet.common.host_accounts import heartbeat_host
from extnet.common.hostrpc import digest_of, keyed_digest
from extnet.engine.commands.base import run
from extnet.engine.commands.hosts import (
    ActivateHost,
    AddHost,
    AgentPairing,
    HostInput,
    PairHost,
    RemoveHost,
    UpdateHost,
    agent_violations,
    check,
)
from extnet.engine.commands.inputs import Ref
from extnet.engine.errors import BadRequest, Conflict, Fault
from extnet.engine.hosts.accounts import Handout, accounts_of
from extnet.engine.hosts.client import HostAgentError, HostEndpoint, is_pairing_refused
from extnet.engine.hosts.readiness import readiness
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Host, HostProviderAccount, Provider, new_id
from extnet.engine.store.queries import load

log = logging.getLogger("extnet.engine.hosts")


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed (not at all if it rolls back)."""
    event.listen(session, "after_commit", lambda _session: action(), once=True)


def endpoint_of(host: Host, services: EngineServices) -> HostEndpoint:
    secret = services.secrets.decrypt(host.agent_secret_encrypted) if host.agent_secret_encrypted else None
    return HostEndpoint(host.name, host.address, host.port, secret, host.agent_certificate_sha256)


def stored_capabilities(capabilities: dict[str, Any], heartbeats: list[Any] | None = None) -> dict[str, Any]:
    return {"capabilities": capabilities, "digest": digest_of(capabilities), "heartbeats": heartbeats or []}


# --- providers handed to hosts ---------------------------------------------------------------------------------


def providers_payload(session: Session, services: EngineServices) -> list[dict[str, Any]]:
    """What a host agent needs to heartbeat to each provider the engine calls (every managed provider)."""
    stmt = select(Provider).where(Provider.unmanaged.is_(False), Provider.url.is_not(None)).order_by(Provider.name)
    payload = []
    for provider in session.scalars(stmt):
        config = services.provider_config(provider)
        payload.append({
            "id": provider.id, "name": provider.name, "url": config.url,
            "requires_authentication": config.requires_authentication,
            "authentication_url": config.authentication_url, "username": config.username,
            "password": config.password, "tenant_name": config.tenant_name, "project_name": config.project_name,
            "user_domain_name": config.user_domain_name, "project_domain_name": config.project_domain_name,
            "certificates": list(config.certificates),
        })  # fmt: skip
    return payload


def forget_accounts(services: EngineServices, made: list[HostProviderAccount]) -> None:
    if made and services.host_accounts is not None:
        services.host_accounts.forget([(a.provider_id, a.user_id, a.username) for a in made])


def providers_digest(secret: str, payload: list[dict[str, Any]]) -> str:
    return keyed_digest(secret, payload)


def handout(services: EngineServices, host_id: str, capabilities: dict[str, Any], providers: list[dict[str, Any]],
            new_host: bool = False) -> Handout:  # fmt: skip
    """What the host's agent gets of ``providers``: its own accounts in place of the providers' credentials (for the
    agent host its ``capabilities`` say its heartbeats carry)."""
    if services.host_accounts is None:
        return Handout(providers, [])
    return services.host_accounts.payload_for(host_id, heartbeat_host(capabilities), providers, new_host)


# --- pairing -----------------------------------------------------------------------------------------------------


@dataclass
class _Pairing:
    verb: str  # "add" or "install": the fault reads "Cannot add Host." / "Cannot install Host."
    name: str
    address: str
    port: int
    password: str
    host_id: str | None = None  # the host pairing again (install)


def _fault(pairing: _Pairing, err: HostAgentError) -> Fault:
    where = HostEndpoint(pairing.name, pairing.address, pairing.port).where
    if is_pairing_refused(err) and err.data.get("kind") == "pairing_refused":
        message = (f"Host '{pairing.name}': the agent at {where} refused the root_password. Give the agent's "
                   "pairing password as root_password: it is printed at the agent's first start, or set it on the "
                   "host with EXTNET_HOST_PAIRING_PASSWORD and restart the agent")  # fmt: skip
    else:
        message = err.message
    tail = " Nothing was added." if pairing.verb == "add" else ""
    return Fault(f"[Cannot {pairing.verb} Host. {message}.{tail}]", status=400)


def _pair(database: Database, services: EngineServices, pairing: _Pairing) -> AgentPairing:
    """Identify, refuse a duplicate agent, pair and read the capabilities; every failure a fault (and an event)."""
    client = services.host_agents
    anonymous = HostEndpoint(pairing.name, pairing.address, pairing.port)
    try:
        identity = client.identify(anonymous, pairing.password)
        unique_id = str(identity.get("unique_id") or "")
        with database.transaction(write=False) as session:
            duplicate = next(iter(agent_violations(session, pairing.name, unique_id, pairing.host_id)), None)
        if duplicate is not None:
            raise Conflict(f"[Cannot {pairing.verb} Host. {duplicate.message}.]")
        paired = client.pair(anonymous, pairing.password)
        endpoint = HostEndpoint(pairing.name, pairing.address, pairing.port, paired.secret, paired.pin)
        capabilities = client.capabilities(endpoint)
        with database.transaction(write=False) as session:
            providers = providers_payload(session, services)
        host_id = pairing.host_id or new_id()  # a new host's id now: its accounts refer to it
        given = handout(services, host_id, capabilities, providers, new_host=pairing.host_id is None)
        try:
            beats = client.set_providers(endpoint, given.payload, providers_digest(paired.secret, given.payload))
        except HostAgentError:
            forget_accounts(services, list(given.made))  # the host is not added: nor are its accounts
            raise
        beats += given.failing
    except HostAgentError as err:
        fault = _fault(pairing, err)
        _event(database, Code.HOST_PAIRING_FAILED, f"Pairing host {pairing.name} with its agent failed: "
               f"{fault.detail}", "error", pairing.host_id)  # fmt: skip
        raise fault from None
    return AgentPairing(services.secrets.encrypt(paired.secret), paired.unique_id or unique_id,
                        stored_capabilities(capabilities, beats), readiness(beats), paired.pin, host_id,
                        tuple(given.made))  # fmt: skip


def _event(database: Database, code: Code, text: str, severity: str = "normal", host_id: str | None = None) -> None:
    with database.transaction() as session:
        record(session, code, text, severity, host_id=host_id)


def add_host(database: Database, services: EngineServices, given: HostInput) -> str:
    """Add a host paired with its agent; its id. Raises a Fault (nothing added) when anything fails."""
    with database.transaction(write=False) as session:
        check(AddHost(session, given))
    # the check found name, address and root_password given
    pairing = _Pairing("add", str(given.name), str(given.address), given.port_or_default(), str(given.root_password))
    agent = _pair(database, services, pairing)
    try:
        with database.transaction() as session:
            host = run(AddHost(session, given, agent))
            record(session, Code.HOST_ADDED, f"Host {host.name} was added, paired with its agent at "
                   f"{HostEndpoint(host.name, host.address, host.port).where}.", host_id=host.id)  # fmt: skip
            host_id = host.id
    except Exception:
        forget_accounts(services, list(agent.accounts))
        raise
    services.hosts_changed()
    return host_id


def pair_again(database: Database, services: EngineServices, host_id: str, password: str | None) -> None:
    """oVirt's reinstall: pair an existing host with its agent again (a new secret)."""
    with database.transaction(write=False) as session:
        host = _load(session, host_id)
        pairing = _Pairing("install", host.name, host.address, host.port, password or "", host.id)
    if not password:
        raise BadRequest(f"[Cannot install Host. Give root_password: the pairing password of the agent of host "
                         f"'{pairing.name}'.]")  # fmt: skip
    agent = _pair(database, services, pairing)
    with database.transaction() as session:
        host = _load(session, host_id)
        run(PairHost(session, host, agent))  # its accounts were stored as they were made: it exists
        record(session, Code.HOST_PAIRED, f"Host {host.name} was paired with its agent again.", host_id=host.id)
    services.hosts_changed()


def refresh(database: Database, services: EngineServices, host_id: str) -> None:
    """Read the agent's capabilities now (oVirt's refresh capabilities)."""
    with database.transaction(write=False) as session:
        endpoint = endpoint_of(_load(session, host_id), services)
    try:
        capabilities = services.host_agents.capabilities(endpoint)
    except HostAgentError as err:
        raise Fault(f"[Cannot refresh Host capabilities. {err.message}.]", status=400) from None
    with database.transaction() as session:
        host = _load(session, host_id)
        heartbeats = (host.agent_capabilities or {}).get("heartbeats")
        host.agent_capabilities = stored_capabilities(capabilities, heartbeats)


def activate(database: Database, services: EngineServices, host_id: str) -> None:
    """Leave maintenance: up if the agent answers now, else non_responsive (saying why)."""
    with database.transaction(write=False) as session:
        host = _load(session, host_id)
        check(ActivateHost(session, host))
        endpoint = endpoint_of(host, services)
    problem: str | None = None
    beats: list[Any] = []
    try:
        if endpoint.secret is None:
            problem = f"Host '{endpoint.name}' is not paired with its agent; pair it: the install action"
        else:
            beats = services.host_agents.ping(endpoint).get("heartbeats") or []
    except HostAgentError as err:
        problem = err.message
    with database.transaction() as session:
        host = _load(session, host_id)
        run(ActivateHost(session, host, problem, readiness(beats)))
        if problem:
            record(session, Code.HOST_NON_RESPONSIVE, f"Host {host.name} is not responding: {problem}", "error",
                   host_id=host.id)  # fmt: skip
    services.hosts_changed()


def unpair_in_background(services: EngineServices, endpoint: HostEndpoint) -> None:
    """Tell a removed host's agent to forget this engine (its secret and providers: no more heartbeats)."""

    def unpair() -> None:
        try:
            services.host_agents.unpair(endpoint)
        except HostAgentError as err:
            log.warning("removed host %s keeps its pairing: %s", endpoint.name, err.message)

    if endpoint.secret:
        threading.Thread(target=unpair, name="extnet-host-unpair", daemon=True).start()


def update_host(session: Session, services: EngineServices, host: Host, given: HostInput) -> Host:
    """Update the host in the caller's transaction; a new address or port is handed to the monitor once it commits."""
    moved = any(value is not None and value != getattr(host, field)
                for field, value in (("address", given.address), ("port", given.port)))  # fmt: skip
    updated: Host = run(UpdateHost(session, given, host))
    if moved:
        after_commit(session, services.hosts_changed)
    return updated


def remove_host(session: Session, services: EngineServices, host: Host) -> None:
    """Remove the host in the caller's transaction; once it commits, its agent is told to forget this engine and
    the host's own provider accounts are removed, both in the background."""
    endpoint = endpoint_of(host, services)
    accounts = accounts_of(session, host.id)
    run(RemoveHost(session, host))
    record(session, Code.HOST_REMOVED, f"Host {host.name} was removed.", host_id=host.id)
    after_commit(session, lambda: unpair_in_background(services, endpoint))
    keeper = services.host_accounts
    if keeper is not None:
        after_commit(session, lambda: keeper.forget(accounts))


def _load(session: Session, host_id: str) -> Host:
    host: Host = load(session, Host, host_id, "host")
    return host


# --- the local host of ``extnet up`` -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalHost:
    name: str
    address: str
    port: int
    password: str
    cluster: str = "Default"


def ensure_local_host(database: Database, services: EngineServices, local: LocalHost) -> bool:
    """Make ``local`` a paired host: add it, or pair it again if its agent no longer knows this engine. True when
    done (or when another host already has the name: nothing to do); raises HostAgentError or Fault to retry."""
    with database.transaction(write=False) as session:
        host = session.scalars(select(Host).where(Host.name == local.name)).first()
        endpoint = endpoint_of(host, services) if host else None
        host_id = host.id if host else None
    if host_id is None or endpoint is None:
        given = HostInput(name=local.name, address=local.address, port=local.port, root_password=local.password,
                          cluster=Ref(name=local.cluster))  # fmt: skip
        add_host(database, services, given)
        return True
    if (endpoint.address, endpoint.port) != (local.address, local.port):
        log.warning("host %s exists at %s, not at %s:%s: the local host agent is not added", local.name,
                    endpoint.where, local.address, local.port)  # fmt: skip
        return True
    try:
        if endpoint.secret:
            services.host_agents.ping(endpoint)
            return True
    except HostAgentError as err:
        # paired before pins existed, or the agent lost its pairing: pair it again (a pin that differs is not undone:
        # something else may have taken the local agent's port; install pairs it again deliberately)
        if not (err.kind == "unauthorized" or (err.kind == "untrusted" and endpoint.pin is None)):
            raise
    pair_again(database, services, host_id, local.password)
    return True
