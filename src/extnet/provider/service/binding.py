"""Port binding as Neutron's ML2 mechanism drivers decide it, from the agents hosts report: ``ovs`` when the host
has a live Open vSwitch agent (or OVN controller) that can reach the network's segment, ``bridge`` for a live Linux
bridge agent, ``binding_failed`` when it has none, ``unbound`` without a host."""

from __future__ import annotations

import time
from typing import Any

from extnet.provider.service.common import Ctx
from extnet.provider.store.backend import AllOf, In, Kind, Not, Query, Record

OVS_AGENT = "Open vSwitch agent"
OVN_AGENT = "OVN Controller agent"
LB_AGENT = "Linux bridge agent"
UNBOUND: tuple[str, dict[str, Any]] = ("unbound", {})
FAILED: tuple[str, dict[str, Any]] = ("binding_failed", {})


def alive(agent: Record, down_time: int, now: float | None = None) -> bool:
    return ((now or time.time()) - float(agent["heartbeat_epoch"])) <= down_time


def bind(ctx: Ctx, network: Record, host: str, vnic_type: str) -> tuple[str, dict[str, Any]]:
    if not host:
        return UNBOUND
    if vnic_type != "normal":
        return FAILED
    agents = ctx.cache.get(("agents", host))
    if agents is None:
        where = AllOf((In("host", (host,)), In("agent_type", ctx.config.binding_agents), In("admin_state_up", (True,))))
        agents = ctx.tx.find(Kind.AGENT, Query(where=where)).records
        ctx.cache[("agents", host)] = agents
    now = time.time()
    for agent in agents:
        if alive(agent, ctx.config.agent_down_time, now) and _reaches(agent, network):
            if agent["agent_type"] == LB_AGENT:
                return "bridge", {"connectivity": "l2", "port_filter": True, "bound_drivers": {"0": "linuxbridge"}}
            return "ovs", _details(agent)
    return FAILED


def forget_reports(ctx: Ctx, host: str) -> None:
    """Drop the device digests held for the agents on ``host``: their next beat is answered ``devices_resync`` and
    they report every device again."""
    where = AllOf((In("host", (host,)), Not(In("devices_digest", (None,)))))
    agents = ctx.tx.find(Kind.AGENT, Query(where=where, want=frozenset())).records
    ctx.tx.update_many(Kind.AGENT, [agent["id"] for agent in agents], {"devices_digest": None})


def _reaches(agent: Record, network: Record) -> bool:
    conf = agent.get("configurations") or {}
    network_type = network["network_type"]
    if network_type in ("vxlan", "geneve"):
        tunnels = conf.get("tunnel_types")
        if agent["agent_type"] == OVN_AGENT and tunnels is None:
            return network_type == "geneve"
        return network_type in (tunnels or [])
    return network["physical_network"] in _bridge_mappings(conf)


def _bridge_mappings(conf: dict[str, Any]) -> dict[str, str]:
    mappings = conf.get("bridge_mappings") or conf.get("interface_mappings")
    if isinstance(mappings, dict):
        return {str(k): str(v) for k, v in mappings.items()}
    text = conf.get("bridge-mappings") or ""
    pairs = [part.split(":", 1) for part in str(text).split(",") if ":" in part]
    return {name.strip(): bridge.strip() for name, bridge in pairs}


def _details(agent: Record) -> dict[str, Any]:
    conf = agent.get("configurations") or {}
    driver = "ovn" if agent["agent_type"] == OVN_AGENT else "openvswitch"
    hybrid = bool(conf.get("ovs_hybrid_plug", False))
    datapath = conf.get("datapath_type") or conf.get("datapath-type") or "system"
    details: dict[str, Any] = {"connectivity": "l2", "port_filter": True, "ovs_hybrid_plug": hybrid}
    if datapath == "system" and not hybrid:
        details["ovs_create_tap"] = True  # os-vif may create the TAP itself (Neutron's default since 2025)
    details.update(datapath_type=datapath, bound_drivers={"0": driver})
    if agent["agent_type"] != OVN_AGENT:  # as Neutron's OVN driver, no bridge: the host plugs into its own
        details["bridge_name"] = conf.get("integration_bridge") or "br-int"
    return details
