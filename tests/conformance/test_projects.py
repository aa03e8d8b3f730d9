"""Per-project visibility and Neutron's policy for non-admin users (needs Keystone)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error


@pytest.fixture(scope="module")
def member(target: Target) -> Any:
    connection, project_id = target.member("member")
    yield connection, project_id
    connection.close()


def _raw(target: Target, connection: Connection) -> httpx.Client:
    return target.raw(token=connection.session.get_token())


def test_visibility(admin: Connection, lab: Lab, member: Any, target: Target) -> None:
    conn, project_id = member
    mine = lab.network(conn=conn)
    assert mine.project_id == project_id
    private = lab.network()
    shared = lab.network(is_shared=True)
    external = lab.network(is_router_external=True)
    lab.subnet(shared, "10.130.0.0/24")
    visible = {n.id: n for n in conn.network.networks()}
    assert {mine.id, shared.id, external.id} <= set(visible) and private.id not in visible
    assert visible[shared.id].is_shared is True and visible[external.id].is_router_external is True
    with _raw(target, conn) as raw:
        assert neutron_error(raw.get(f"/networks/{private.id}"), 404, "NetworkNotFound") == (
            f"Network {private.id} could not be found."
        )
        document = raw.get(f"/networks/{mine.id}").json()["network"]
        assert not any(key.startswith("provider:") for key in document)
    assert {n.id for n in admin.network.networks(project_id=project_id)} == {mine.id}


def test_policy(admin: Connection, lab: Lab, member: Any, target: Target, name: Any) -> None:
    conn, project_id = member
    shared = lab.network(is_shared=True)
    lab.subnet(shared, "10.131.0.0/24")
    private = lab.network()
    with _raw(target, conn) as raw:
        shared_create = raw.post("/networks", json={"network": {"name": name("x"), "shared": True}})
        assert neutron_error(shared_create, 403, "PolicyNotAuthorized") == (
            "(rule:create_network and rule:create_network:shared) is disallowed by policy"
        )
        provider = raw.post("/networks", json={"network": {"name": name("x"), "provider:network_type": "vxlan"}})
        assert neutron_error(provider, 403, "PolicyNotAuthorized") == (
            "(rule:create_network and rule:create_network:provider:network_type) is disallowed by policy"
        )
        other = raw.post("/networks", json={"network": {"name": name("x"), "project_id": "someone-else"}})
        assert neutron_error(other, 400, "HTTPBadRequest") == (
            "Specifying 'project_id' other than the authenticated project in request is not allowed for the current "
            "user."
        )
        bound = raw.post("/ports", json={"port": {"network_id": shared.id, "binding:host_id": "h"}})
        assert neutron_error(bound, 403, "PolicyNotAuthorized") == (
            "(rule:create_port and rule:create_port:binding:host_id) is disallowed by policy"
        )
        subnet = raw.post(
            "/subnets", json={"subnet": {"network_id": shared.id, "cidr": "10.132.0.0/24", "ip_version": 4}}
        )
        assert neutron_error(subnet, 403, "PolicyNotAuthorized") == "rule:create_subnet is disallowed by policy"
        update = raw.put(f"/networks/{shared.id}", json={"network": {"name": "hijack"}})
        assert neutron_error(update, 403, "PolicyNotAuthorized") == "rule:update_network is disallowed by policy"
        delete = raw.delete(f"/networks/{shared.id}")
        assert neutron_error(delete, 403, "PolicyNotAuthorized") == "rule:delete_network is disallowed by policy"
        neutron_error(raw.post("/ports", json={"port": {"network_id": private.id}}), 404, "NetworkNotFound")
        assert raw.get("/agents").json() == {"agents": []}

    port = conn.network.create_port(network_id=shared.id)
    lab.later(lambda: admin.network.delete_port(port.id, ignore_missing=True))
    assert port.project_id == project_id and len(port.fixed_ips) == 1
    with _raw(target, conn) as raw:
        document = raw.get(f"/ports/{port.id}").json()["port"]
    assert document["binding:vnic_type"] == "normal"
    assert "binding:host_id" not in document and "binding:vif_type" not in document
    [group] = list(conn.network.security_groups())
    assert group.name == "default" and port.security_group_ids == [group.id]
    assert {p.id for p in conn.network.ports()} == {port.id}


def test_network_owner_sees_the_ports_on_its_network(admin: Connection, lab: Lab, member: Any) -> None:
    conn, project_id = member
    network = lab.network(conn=conn)
    lab.subnet(network, "10.133.0.0/24", conn=conn)
    foreign = lab.port(network)  # the admin's port, in the admin's project
    assert foreign.project_id != project_id
    assert foreign.id in {p.id for p in conn.network.ports(network_id=network.id)}
