"""Agents: the hosts with a live agent are listed, alive, with their configuration; admins may edit them."""

from __future__ import annotations

import re

import httpx
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Target, neutron_error

AGENT_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$")  # Neutron on SQLite adds microseconds


def test_agents_of_the_hosts(admin: Connection, target: Target) -> None:
    if not target.agent_hosts:
        pytest.skip("the target names no host with a live agent")
    ovn = target.driver == "ovn"
    kind = "OVN Controller agent" if ovn else "Open vSwitch agent"
    agents = {agent.host: agent for agent in admin.network.agents(agent_type=kind)}
    for host in target.agent_hosts:
        agent = agents[host]
        assert agent.is_alive is True and agent.is_admin_state_up is True
        if ovn:  # as Neutron's OVN driver shows a chassis
            assert agent.binary == "ovn-controller" and agent.configuration["chassis_name"] == host
            assert agent.configuration["bridge-mappings"] == "physnet1:br-ex"
        else:
            assert agent.binary == "neutron-openvswitch-agent"
            assert agent.configuration["bridge_mappings"] == {"physnet1": "br-ex"}
            assert "vxlan" in agent.configuration["tunnel_types"]
        assert AGENT_TIME.match(agent.last_heartbeat_at) and AGENT_TIME.match(agent.created_at)
    fetched = admin.network.get_agent(agents[target.agent_hosts[0]].id)
    assert fetched.host == target.agent_hosts[0]
    alive = {agent.host for agent in admin.network.agents(is_alive=True)}
    assert set(target.agent_hosts) <= alive
    assert [a.agent_type for a in admin.network.agents(host=target.agent_hosts[1])].count(kind) == 1


def test_update_agent(admin: Connection, target: Target) -> None:
    if not target.agent_hosts:
        pytest.skip("the target names no host with a live agent")
    agent = next(iter(admin.network.agents(host=target.agent_hosts[1])))
    updated = admin.network.update_agent(agent, description="described")
    assert updated.description == "described"
    admin.network.update_agent(agent, description="")


def test_unknown_agent(raw: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert neutron_error(raw.get(f"/agents/{missing}"), 404, "AgentNotFound") == f"Agent {missing} could not be found."


def test_not_found_messages(raw: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    expected = {
        "routers": ("RouterNotFound", f"Router {missing} could not be found"),
        "security-groups": ("SecurityGroupNotFound", f"Security group {missing} does not exist"),
        "security-group-rules": ("SecurityGroupRuleNotFound", f"Security group rule {missing} does not exist"),
        "subnets": ("SubnetNotFound", f"Subnet {missing} could not be found."),
        "ports": ("PortNotFound", f"Port {missing} could not be found."),
    }
    for collection, (type_, message) in expected.items():
        assert neutron_error(raw.get(f"/{collection}/{missing}"), 404, type_) == message
