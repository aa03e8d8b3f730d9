"""Plain values for the engine's unit tests: port plans, ports as a provider answers them, scheduling candidates,
and a stand-in for the engine's services whose providers answer ``list_agents`` from a table (no process, no
socket, no database)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, cast

from extnet.common.capabilities import HostCapabilities
from extnet.engine.hosts.client import HostEndpoint
from extnet.engine.operations.ports import PortPlan, ProviderRef
from extnet.engine.operations.scheduling import Candidate
from extnet.engine.providers.client import ProviderConfig
from extnet.engine.providers.neutron import ProviderAgent, agent_from
from extnet.engine.services import EngineServices

VNIC_ID, PORT_ID = "5f0c2a64-3b1e-4c52-9d0e-1a2b3c4d5e01", "5f0c2a64-3b1e-4c52-9d0e-1a2b3c4d5e02"
NETWORK_ID, EXTERNAL_ID = "5f0c2a64-3b1e-4c52-9d0e-1a2b3c4d5e03", "5f0c2a64-3b1e-4c52-9d0e-1a2b3c4d5e04"


def provider_ref(provider_id: str = "prov-1", plugin_type: str = "open_vswitch", name: str = "") -> ProviderRef:
    name = name or f"{provider_id}-name"
    config = ProviderConfig(provider_id=provider_id, name=name, url=f"http://{provider_id}.test:9696",
                            requires_authentication=False)  # fmt: skip
    return ProviderRef(provider_id, name, "external", plugin_type, config)


def plan(**changes: Any) -> PortPlan:
    """The plan of vNIC ``nic1`` on network ``red`` of provider ``prov-1`` (Open vSwitch), with ``changes``."""
    base = PortPlan(
        vnic_id=VNIC_ID, vnic_name="nic1", mac="56:6f:00:00:00:01", model="virtio", plugged=True, linked=True,
        network_id=NETWORK_ID, network_name="red", external_id=EXTERNAL_ID, mtu=1450, provider=provider_ref(),
        security_groups=None, port_id=None, port_provider_id=None,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def wanted_port(of: PortPlan, binding_host: str, **changes: Any) -> dict[str, Any]:
    """The provider's answer for a port exactly as ``of`` wants it, bound to ``binding_host``, with ``changes``."""
    raw: dict[str, Any] = {
        "id": PORT_ID, "network_id": of.external_id, "mac_address": of.mac, "device_id": of.vnic_id,
        "device_owner": "oVirt", "name": of.vnic_name, "binding:host_id": binding_host, "status": "DOWN",
        "binding:vif_type": "ovs", "admin_state_up": True, "security_groups": list(of.security_groups or ()),
    }  # fmt: skip
    raw.update(changes)
    return raw


def host(name: str, vms: int = 0, heartbeats: tuple[dict[str, Any], ...] = (), **capabilities: Any) -> Candidate:
    """A scheduling candidate named ``name`` (its id ``id-<name>``) reporting ``capabilities``."""
    return Candidate(f"id-{name}", name, HostEndpoint(name, f"{name}.test", 54321),
                     HostCapabilities(hostname=name, **capabilities), heartbeats, vms)  # fmt: skip


@dataclass
class AgentTable:
    """A provider's ``list_agents``: the binding host ids with an alive agent (None: it lists no agents)."""

    alive: list[str] | None
    down: list[str] = field(default_factory=list)  # not alive
    disabled: list[str] = field(default_factory=list)  # alive, administratively down
    asked: list[list[str]] = field(default_factory=list)

    def list_agents(self, hosts: list[str], what: str) -> list[ProviderAgent] | None:
        """The agents as the provider's answer (``GET /agents``) parses."""
        self.asked.append(list(hosts))
        if self.alive is None:
            return None
        raw = [{"host": h, "alive": True, "admin_state_up": True} for h in self.alive]
        raw += [{"host": h, "alive": False, "admin_state_up": True} for h in self.down]
        raw += [{"host": h, "alive": True, "admin_state_up": False} for h in self.disabled]
        return [agent for agent in map(agent_from, raw) if agent is not None]


@dataclass
class _Providers:
    tables: dict[str, AgentTable]

    def get(self, config: ProviderConfig) -> AgentTable:
        return self.tables[config.provider_id]


@dataclass
class _Services:
    providers: _Providers
    lifecycle: Any = None  # no AgentCache: every choice asks the provider


def services(**tables: AgentTable) -> EngineServices:
    """Services whose provider ``<id>`` (keyword, dashes as underscores) answers from its table."""
    by_id = {provider_id.replace("_", "-"): table for provider_id, table in tables.items()}
    return cast(EngineServices, _Services(_Providers(by_id)))
