"""The agent heartbeat (extnet's stand-in for Neutron's agent RPC): registration, liveness, port binding on live
agents only, and port status following what the data plane reports."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from openstack.connection import Connection

from extnet.common.host_accounts import account_name
from tests.provider.process import ProviderProcess, run_provider

OVS = {
    "bridge_mappings": {"physnet1": "br-ex"},
    "integration_bridge": "br-int",
    "tunnel_types": ["vxlan"],
    "datapath_type": "system",
    "ovs_hybrid_plug": False,
}


def beat(api: httpx.Client, host: str, **extra: Any) -> httpx.Response:
    report = {
        "host": host,
        "agent_type": "Open vSwitch agent",
        "binary": "neutron-openvswitch-agent",
        "configurations": OVS,
        **extra,
    }
    return api.post("/agents/heartbeat", json={"agent": report})


def test_heartbeat_creates_then_refreshes(admin: Connection, api: httpx.Client) -> None:
    host = f"hb-{uuid.uuid4().hex[:8]}"
    first = beat(api, host)
    assert first.status_code == 201, first.text
    agent = first.json()["agent"]
    assert (agent["host"], agent["agent_type"], agent["alive"], agent["topic"]) == (
        host,
        "Open vSwitch agent",
        True,
        "N/A",
    )
    assert agent["configurations"] == OVS
    again = beat(api, host, configurations={**OVS, "devices": 3})
    assert again.status_code == 200 and again.json()["agent"]["id"] == agent["id"]
    assert again.json()["agent"]["heartbeat_timestamp"] >= agent["heartbeat_timestamp"]
    assert admin.network.get_agent(agent["id"]).configuration["devices"] == 3
    assert [a.id for a in admin.network.agents(host=host)] == [agent["id"]]
    admin.network.delete_agent(agent["id"])
    assert list(admin.network.agents(host=host)) == []


def test_heartbeat_validation(api: httpx.Client) -> None:
    assert api.post("/agents/heartbeat", json={"agent": {"host": "h"}}).status_code == 400
    assert api.post("/agents/heartbeat", json={"nope": {}}).status_code == 400
    unknown = beat(api, "h-unknown", color="blue")
    assert unknown.status_code == 400 and "color" in unknown.json()["NeutronError"]["message"]
    assert beat(api, "h-bad", configurations=[1]).status_code == 400
    assert beat(api, "h-bad", devices_up="x").status_code == 400


def test_heartbeat_is_admin_only(provider: ProviderProcess, admin: Connection) -> None:
    name = f"hbm-{uuid.uuid4().hex[:8]}"
    project = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(name=name, password="pw", domain_id="default")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    token = provider.token(name, "pw", name)
    with httpx.Client(base_url=f"{provider.network_url}/v2.0", headers={"X-Auth-Token": token}) as member:
        response = beat(member, "h-member")
    assert response.status_code == 403
    assert response.json()["NeutronError"]["type"] == "PolicyNotAuthorized"


def test_port_status_follows_the_data_plane(admin: Connection, api: httpx.Client) -> None:
    host = f"dp-{uuid.uuid4().hex[:8]}"
    beat(api, host)
    network = admin.network.create_network(name=f"dp-{host}")
    admin.network.create_subnet(network_id=network.id, cidr="10.140.0.0/24", ip_version=4)
    port = admin.network.create_port(network_id=network.id, binding_host_id=host)
    other = admin.network.create_port(network_id=network.id, binding_host_id="elsewhere")
    assert port.binding_vif_type == "ovs" and port.status == "DOWN"

    answer = beat(api, host, devices_up=[port.id, other.id])
    assert answer.status_code == 200
    assert answer.json()["device_status"] == {port.id: "ACTIVE"}  # what the agent's report did, port by port
    assert admin.network.get_port(port.id).status == "ACTIVE"
    assert admin.network.get_port(other.id).status == "DOWN"  # bound elsewhere: not this host's to report

    moved = admin.network.update_port(port, binding_host_id=f"{host}-2")
    assert moved.status == "DOWN" and moved.binding_vif_type == "binding_failed"
    admin.network.update_port(port, binding_host_id=host)
    beat(api, host, devices_up=[port.id])
    assert admin.network.get_port(port.id).status == "ACTIVE"
    beat(api, host, devices_down=[port.id])
    assert admin.network.get_port(port.id).status == "DOWN"
    admin.network.update_port(port, is_admin_state_up=False)
    assert beat(api, host, devices_up=[port.id]).json()["device_status"] == {port.id: "DOWN"}
    assert admin.network.get_port(port.id).status == "DOWN"  # administratively down stays down

    for p in (port, other):
        admin.network.delete_port(p)
    admin.network.delete_network(network)


def test_an_agent_without_heartbeat_dies(tmp_path: Path) -> None:
    with run_provider(tmp_path / "p", env={"EXTNET_PROVIDER_AGENT_DOWN_TIME": "2"}) as process:
        admin = process.connect()
        with httpx.Client(
            base_url=f"{process.network_url}/v2.0", headers={"X-Auth-Token": admin.session.get_token()}
        ) as api:
            beat(api, "mortal")
            network = admin.network.create_network(name="mortal-net")
            assert admin.network.create_port(network_id=network.id, binding_host_id="mortal").binding_vif_type == "ovs"
            deadline = time.monotonic() + 15
            while next(iter(admin.network.agents(host="mortal"))).is_alive:
                assert time.monotonic() < deadline, "the agent stayed alive"
                time.sleep(0.2)
            assert [a.host for a in admin.network.agents(is_alive=False)] == ["mortal"]
            assert list(admin.network.agents(is_alive=True)) == []
            late = admin.network.create_port(network_id=network.id, binding_host_id="mortal")
            assert late.binding_vif_type == "binding_failed"
            beat(api, "mortal")
            # as in Neutron's ML2, any update of a port whose binding failed binds it again
            assert admin.network.update_port(late, name="retry").binding_vif_type == "ovs"
        admin.close()


def test_a_host_agent_account_may_beat_and_read_what_it_plugs_and_nothing_else(
    admin: Connection, provider: ProviderProcess
) -> None:
    own_host = f"hb-{uuid.uuid4().hex[:8]}"
    name, password = account_name("registration", own_host), uuid.uuid4().hex
    user = admin.identity.create_user(name=name, password=password, domain_id="default")
    project = admin.identity.find_project("admin")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("host_agent"))
    other = admin.network.create_network(name=f"other-{uuid.uuid4().hex[:6]}", project_id=uuid.uuid4().hex)
    token = provider.token(name, password)
    with httpx.Client(base_url=f"{provider.network_url}/v2.0", headers={"X-Auth-Token": token}, timeout=30) as own:
        assert beat(own, own_host).status_code == 201
        other_host = beat(own, f"hb-{uuid.uuid4().hex[:8]}")  # it may not report another host's agent
        assert other_host.status_code == 403 and f"may report agent host {own_host} only" in other_host.text
        assert own.get(f"/networks/{other.id}").json()["network"]["id"] == other.id  # any project's: it plugs them
        assert own.get("/subnets", params={"network_id": other.id}).status_code == 200
        assert own.get("/agents").status_code == 200
        refused = [
            own.get("/networks"), own.get("/ports"), own.get(f"/agents/{uuid.uuid4()}"),
            own.post("/networks", json={"network": {"name": "mine"}}),
            own.put(f"/networks/{other.id}", json={"network": {"name": "taken"}}),
            own.delete(f"/networks/{other.id}"), own.post("/ports", json={"port": {"network_id": other.id}}),
            own.get("/security-groups"), own.get("/routers"),
        ]  # fmt: skip
        for response in refused:
            assert response.status_code == 403, (response.request.url, response.text)
            assert response.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
            assert "the host_agent role may send heartbeats" in response.json()["NeutronError"]["message"]
    assert admin.network.get_network(other.id).name == other.name
    admin.network.delete_network(other)
    admin.identity.delete_user(user)
