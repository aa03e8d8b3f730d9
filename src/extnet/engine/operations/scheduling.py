"""Where a VM runs: an up host of its cluster that can serve every external network of the VM.

A host can serve an external network when its agent reports a binding host id for the plugin type of the
network's provider (``Host.getCapabilities``: ``binding_host_ids``, or the plugin type among ``plugin_types``, bound
by host name), and, where the provider lists agents, the provider has an alive agent on that binding host. Hosts
are asked nothing here (the host monitor keeps what they report); each provider is asked once, outside any
transaction. Among the hosts that qualify, the one running the fewest VMs wins (then by name). External networks
never make a host non-operational: they only narrow where a VM can run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from extnet.common.capabilities import HostCapabilities
from extnet.common.hostrpc import OPEN_VSWITCH
from extnet.engine.hosts.client import HostEndpoint
from extnet.engine.operations.pairing import endpoint_of
from extnet.engine.providers.client import ProviderConfig
from extnet.engine.services import EngineServices
from extnet.engine.store.models import Host, Provider, Vm


def plugin_type_of(provider: Provider) -> str:
    """The plugin type hosts must bind for the provider (a provider without one is served as Open vSwitch)."""
    return (provider.plugin_type or OPEN_VSWITCH).strip().lower()


@dataclass(frozen=True)
class Need:
    """An external network a VM needs where it runs."""

    network_name: str
    provider_id: str
    provider_name: str
    plugin_type: str
    config: ProviderConfig


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    endpoint: HostEndpoint
    capabilities: HostCapabilities = field(hash=False)
    heartbeats: tuple[dict[str, Any], ...] = ()
    vms: int = 0  # the VMs the database has on it when the candidates were read (``candidates``)

    def binding(self, plugin_type: str) -> str | None:
        return self.capabilities.binding(plugin_type)

    @property
    def runtime(self) -> str:
        return self.capabilities.runtime

    def heartbeat_alive(self, provider_id: str) -> bool:
        return any(b.get("provider_id") == provider_id and b.get("state") == "alive" for b in self.heartbeats)


def candidate(host: Host, services: EngineServices, vms: int = 0) -> Candidate:
    stored = host.agent_capabilities or {}
    beats = tuple(b for b in stored.get("heartbeats") or () if isinstance(b, dict))
    return Candidate(host.id, host.name, endpoint_of(host, services), HostCapabilities.read(stored.get("capabilities")),
                     beats, vms)  # fmt: skip


_UP_HOSTS = select(Host).where(Host.cluster_id == bindparam("cluster_id"), Host.status == "up")  # built once


def candidates(
    session: Session, services: EngineServices, cluster_id: str, exclude: Iterable[str] = ()
) -> list[Candidate]:
    """The up hosts of the cluster, the least loaded first (a start orders them again with the starts in flight:
    ``PendingStarts.starting``)."""
    skipped = set(exclude)
    hosts = [host for host in session.scalars(_UP_HOSTS, {"cluster_id": cluster_id}) if host.id not in skipped]
    counts: dict[str | None, int] = {}
    if len(hosts) > 1:
        load = select(Vm.host_id, func.count(Vm.id)).where(Vm.host_id.in_([h.id for h in hosts])).group_by(Vm.host_id)
        counts = {host_id: count for host_id, count in session.execute(load)}
        hosts.sort(key=lambda host: (counts.get(host.id, 0), host.name))
    return [candidate(host, services, counts.get(host.id, 0)) for host in hosts]


def load_key(host: Candidate) -> tuple[str, int, str]:
    """What PendingStarts orders a candidate by: its id, its VMs in the database, its name."""
    return host.id, host.vms, host.name


def hosts_not_up(session: Session, cluster_id: str, shown: int = 5) -> str:
    """Which hosts the cluster has and why they are not up (for the refusal when none is)."""
    hosts = list(session.scalars(select(Host).where(Host.cluster_id == cluster_id).order_by(Host.name)
                                 .limit(shown + 1)))  # fmt: skip
    if not hosts:
        return "the cluster has no host"
    said = [f"host '{h.name}' is {h.status}" + (f" ({h.status_detail})" if h.status_detail else "")
            for h in hosts[:shown]]  # fmt: skip
    return "; ".join(said) + ("; ..." if len(hosts) > shown else "")


class NoHost(Exception):
    """No host qualifies; the message names the network and why."""


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in sorted(set(names)))


@dataclass(frozen=True)
class Scope:
    """Which hosts were considered, for the messages: the up hosts of a cluster, or one given host."""

    hosts: str  # "up host of cluster 'c'" or "host 'h'"
    single: bool = False

    def none_reports(self) -> str:
        return f"{self.hosts} reports no" if self.single else f"no {self.hosts} reports a"

    def on(self) -> str:
        return self.hosts if self.single else f"any {self.hosts}"


@dataclass(frozen=True)
class Choice:
    """The host chosen, and the providers that listed an alive agent on it: those hear of the ports it plugs (their
    agent there reports them), so their ports' status is worth waiting for."""

    host: Candidate
    reporting: frozenset[str]


def choose(services: EngineServices, hosts: list[Candidate], needs: list[Need], vm_name: str, where: Scope) -> Choice:
    """The first of ``hosts`` that can serve every need. Raises NoHost, or ProviderError when a provider cannot be
    asked about its agents."""
    remaining = list(hosts)
    by_provider: dict[str, list[Need]] = {}
    for need in needs:
        by_provider.setdefault(need.provider_id, []).append(need)
    for group in by_provider.values():
        first = group[0]
        remaining = [h for h in remaining if h.binding(first.plugin_type)]
        if not remaining:
            raise NoHost(f"{_networks(group)} of VM '{vm_name}' cannot be served: {where.none_reports()} binding for "
                         f"plugin type '{first.plugin_type}' of provider '{first.provider_name}'")  # fmt: skip
    reporting: set[str] = set()
    for provider_id, group in by_provider.items():
        remaining, listed = _with_alive_agents(services, remaining, group, vm_name, where)
        if listed:
            reporting.add(provider_id)
    return Choice(remaining[0], frozenset(reporting))


def reporting_providers(services: EngineServices, host: Candidate, needs: list[Need], vm_name: str) -> frozenset[str]:
    """The providers among ``needs`` with an alive agent listed on ``host`` (for operations on a VM that already
    runs there). Raises ProviderError."""
    try:
        return choose(services, [host], needs, vm_name, Scope(f"host '{host.name}'", True)).reporting
    except NoHost:
        return frozenset()


def _networks(group: list[Need]) -> str:
    names = [need.network_name for need in group]
    return f"External network{'s' if len(set(names)) > 1 else ''} {_quoted(names)}"


def _with_alive_agents(services: EngineServices, hosts: list[Candidate], group: list[Need], vm_name: str,
                       where: Scope) -> tuple[list[Candidate], bool]:  # fmt: skip
    first = group[0]
    bindings = {h.id: h.binding(first.plugin_type) or "" for h in hosts}
    what = f"list its agents on the hosts for {_networks(group).lower()} of VM '{vm_name}'"
    cache = getattr(services.lifecycle, "agents", None) or AgentCache(0)
    alive = cache.alive(services, first.config, sorted(set(bindings.values())), what)
    if alive is None:
        return hosts, False  # the provider does not list agents: the binding alone decides
    keep = [h for h in hosts if bindings[h.id] in alive]
    if not keep:
        raise NoHost(f"{_networks(group)} of VM '{vm_name}' cannot be served: provider '{first.provider_name}' has "
                     f"no alive agent on {where.on()} (binding host ids {_quoted(bindings.values())})")  # fmt: skip
    return keep, True


class AgentCache:
    """The binding hosts where each provider last said it has an alive agent, kept ``ttl`` seconds: starting many
    VMs asks a provider once in a while, not once per VM. Only good news is kept (a host without an alive agent is
    asked about again every time), so a host whose agent comes back is used at once; one whose agent dies keeps being
    chosen for at most ``ttl`` seconds, and the provider's binding then fails with a clear fault."""

    def __init__(self, ttl: float = 3.0) -> None:
        self.ttl = ttl
        self._alive: dict[tuple[str, str], float] = {}  # (provider fingerprint, binding host) -> until when
        self._unlisted: dict[str, float] = {}  # providers that list no agents -> until when
        self._lock = threading.Lock()

    def alive(self, services: EngineServices, config: ProviderConfig, hosts: list[str], what: str) -> set[str] | None:
        """Those of ``hosts`` with an alive agent; None if the provider lists no agents. Raises ProviderError."""
        key, now = config.fingerprint(), time.monotonic()
        with self._lock:
            if self._unlisted.get(key, 0.0) > now:
                return None
            known = {host for host in hosts if self._alive.get((key, host), 0.0) > now}
        if len(known) == len(hosts):
            return known
        agents = services.providers.get(config).list_agents([h for h in hosts if h not in known], what)
        with self._lock:
            if agents is None:
                if self.ttl > 0:
                    self._unlisted[key] = now + self.ttl
                return None
            found = {agent.host for agent in agents if agent.serving}
            fresh = {host for host in hosts if host in found}
            if self.ttl > 0:
                self._alive.update({(key, host): now + self.ttl for host in fresh})
        return known | fresh
