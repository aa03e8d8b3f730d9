"""Provider behaviour the conformance suite cannot check against Neutron (Neutron answers 500 there, or the
behaviour is extnet's): rule descriptions, gateway addresses chosen by an admin, agent policy, tags on a missing
resource."""

from __future__ import annotations

import uuid

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.provider.process import ProviderProcess


def test_rule_description_update(admin: Connection, api: httpx.Client) -> None:
    group = admin.network.create_security_group(name=f"res-{uuid.uuid4().hex[:8]}")
    rule_id = group.security_group_rules[0]["id"]
    updated = api.put(f"/security-group-rules/{rule_id}", json={"security_group_rule": {"description": "egress"}})
    assert updated.status_code == 200 and updated.json()["security_group_rule"]["description"] == "egress"
    read_only = api.put(f"/security-group-rules/{rule_id}", json={"security_group_rule": {"protocol": "tcp"}})
    assert read_only.status_code == 400
    admin.network.delete_security_group(group)


def test_gateway_with_chosen_address(admin: Connection) -> None:
    external = admin.network.create_network(name=f"res-{uuid.uuid4().hex[:8]}", is_router_external=True)
    subnet = admin.network.create_subnet(network_id=external.id, cidr="172.25.0.0/24", ip_version=4)
    chosen = [{"subnet_id": subnet.id, "ip_address": "172.25.0.77"}]
    router = admin.network.create_router(
        name="res-gw",
        external_gateway_info={"network_id": external.id, "enable_snat": False, "external_fixed_ips": chosen},
    )
    info = router.external_gateway_info
    assert info["external_fixed_ips"] == chosen and info["enable_snat"] is False
    with pytest.raises(openstack.exceptions.ConflictException):
        admin.network.delete_network(external)  # the gateway port is on it
    snat = admin.network.update_router(router, external_gateway_info={"network_id": external.id, "enable_snat": True})
    assert snat.external_gateway_info["external_fixed_ips"] == chosen  # same gateway, SNAT switched on
    admin.network.delete_router(router)
    assert list(admin.network.ports(network_id=external.id)) == []
    admin.network.delete_network(external)


def test_agents_are_for_admins(provider: ProviderProcess, admin: Connection, api: httpx.Client) -> None:
    host = f"res-{uuid.uuid4().hex[:8]}"
    report = {"host": host, "agent_type": "Open vSwitch agent", "binary": "neutron-openvswitch-agent"}
    agent_id = api.post("/agents/heartbeat", json={"agent": report}).json()["agent"]["id"]
    name = f"res-{uuid.uuid4().hex[:8]}"
    project = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(name=name, password="pw", domain_id="default")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    headers = {"X-Auth-Token": provider.token(name, "pw", name)}
    with httpx.Client(base_url=f"{provider.network_url}/v2.0", headers=headers) as member:
        assert member.get("/agents").json() == {"agents": []}
        assert member.get(f"/agents/{agent_id}").status_code == 404
        assert member.put(f"/agents/{agent_id}", json={"agent": {"description": "x"}}).status_code == 403
        assert member.delete(f"/agents/{agent_id}").status_code == 403
    updated = api.put(f"/agents/{agent_id}", json={"agent": {"admin_state_up": False}})
    assert updated.status_code == 200 and updated.json()["agent"]["admin_state_up"] is False
    assert api.put(f"/agents/{agent_id}", json={"agent": {"host": "other"}}).status_code == 400
    assert api.delete(f"/agents/{agent_id}").status_code == 204


def test_tags_of_missing_resources(api: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = api.put(f"/networks/{missing}/tags", json={"tags": ["a"]})
    assert response.status_code == 404 and response.json()["NeutronError"]["type"] == "NetworkNotFound"
    assert api.put(f"/routers/{missing}/tags/a").status_code == 404
    assert api.get(f"/security-group-rules/{missing}/tags").status_code == 404  # rules have no tags
