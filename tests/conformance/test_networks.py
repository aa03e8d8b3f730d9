"""Networks: the create/read/update/delete cycle, defaults, provider segments, MTU, and Neutron's errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MTU = {"vxlan": 1450, "geneve": 1450, "vlan": 1500, "flat": 1500}


def test_crud_cycle(admin: Connection, lab: Lab, name: Callable[[str], str], target: Target) -> None:
    network = lab.network(description="first")
    assert network.status == "ACTIVE" and network.is_admin_state_up is True
    assert network.is_shared is False and network.is_router_external is False
    assert network.is_port_security_enabled is True
    assert network.subnet_ids == [] and network.tags == []
    assert network.project_id == (target.project_id or network.project_id)
    assert network.provider_network_type in MTU
    assert network.mtu == MTU[network.provider_network_type]
    assert network.revision_number >= 1
    assert TIMESTAMP.match(network.created_at) and TIMESTAMP.match(network.updated_at)

    fetched = admin.network.get_network(network.id)
    assert fetched.name == network.name and fetched.description == "first"
    assert admin.network.find_network(network.name).id == network.id

    new_name, revision = name("renamed"), network.revision_number
    updated = admin.network.update_network(
        network, name=new_name, description="second", mtu=1400, is_admin_state_up=False
    )
    assert (updated.name, updated.description, updated.mtu, updated.is_admin_state_up) == (
        new_name,
        "second",
        1400,
        False,
    )
    assert updated.revision_number > revision
    assert admin.network.get_network(network.id).name == new_name

    admin.network.delete_network(network)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_network(network.id)


def test_tenant_segment_is_allocated(lab: Lab) -> None:
    first, second = lab.network(), lab.network()
    for network in (first, second):
        assert network.provider_network_type in ("vxlan", "geneve")
        assert network.provider_physical_network is None
        assert isinstance(network.provider_segmentation_id, int) and network.provider_segmentation_id > 0
    assert first.provider_segmentation_id != second.provider_segmentation_id


def test_vlan_provider_network(lab: Lab, raw: httpx.Client, name: Callable[[str], str]) -> None:
    allocated = lab.network(provider_network_type="vlan", provider_physical_network="physnet1")
    assert 100 <= allocated.provider_segmentation_id <= 200 and allocated.mtu == 1500
    segment = 201 + (allocated.provider_segmentation_id % 50)
    explicit = lab.network(
        provider_network_type="vlan", provider_physical_network="physnet1", provider_segmentation_id=segment
    )
    assert explicit.provider_segmentation_id == segment

    body = {
        "network": {
            "name": name("dup"),
            "provider:network_type": "vlan",
            "provider:physical_network": "physnet1",
            "provider:segmentation_id": segment,
        }
    }
    message = neutron_error(raw.post("/networks", json=body), 409, "VlanIdInUse")
    assert message == f"Unable to create the network. The VLAN {segment} on physical network physnet1 is in use."

    body["network"]["provider:segmentation_id"] = 5000
    message = neutron_error(raw.post("/networks", json=body), 400, "InvalidInput")
    assert message == "Invalid input for operation: segmentation_id out of range (1 through 4094)."

    body["network"].update({"provider:physical_network": "nosuchnet", "provider:segmentation_id": 300})
    message = neutron_error(raw.post("/networks", json=body), 400, "InvalidInput")
    assert message == "Invalid input for operation: physical_network 'nosuchnet' unknown for VLAN provider network."


def test_flat_provider_network(lab: Lab, raw: httpx.Client, name: Callable[[str], str]) -> None:
    physnet = name("phys")[-30:]
    flat = lab.network(provider_network_type="flat", provider_physical_network=physnet)
    assert flat.provider_segmentation_id is None and flat.mtu == 1500
    body = {"network": {"name": name("dup"), "provider:network_type": "flat", "provider:physical_network": physnet}}
    message = neutron_error(raw.post("/networks", json=body), 409, "FlatNetworkInUse")
    assert message == f"Unable to create the flat network. Physical network {physnet} is in use."
    body["network"]["provider:segmentation_id"] = 3
    message = neutron_error(raw.post("/networks", json=body), 400, "InvalidInput")
    assert message == "Invalid input for operation: segmentation_id prohibited for flat provider network."
    del body["network"]["provider:segmentation_id"], body["network"]["provider:physical_network"]
    message = neutron_error(raw.post("/networks", json=body), 400, "InvalidInput")
    assert message == "Invalid input for operation: physical_network required for flat provider network."


def test_tunnel_provider_networks(lab: Lab, raw: httpx.Client, name: Callable[[str], str]) -> None:
    vxlan = lab.network(provider_network_type="vxlan")
    geneve = lab.network(provider_network_type="geneve")
    assert vxlan.mtu == 1450 and geneve.mtu == 1450
    body = {"network": {"name": name("x"), "provider:network_type": "vxlan", "provider:physical_network": "physnet1"}}
    message = neutron_error(raw.post("/networks", json=body), 400, "InvalidInput")
    assert message == "Invalid input for operation: provider:physical_network specified for vxlan network."
    body = {
        "network": {
            "name": name("x"),
            "provider:network_type": "vxlan",
            "provider:segmentation_id": vxlan.provider_segmentation_id,
        }
    }
    message = neutron_error(raw.post("/networks", json=body), 409, "TunnelIdInUse")
    assert message == f"Unable to create the network. The tunnel ID {vxlan.provider_segmentation_id} is in use."
    body = {"network": {"name": name("x"), "provider:network_type": "gre"}}
    message = neutron_error(raw.post("/networks", json=body), 400, "InvalidInput")
    assert message == "Invalid input for operation: network_type value 'gre' not supported."


def test_mtu_rules(lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    too_big = raw.put(f"/networks/{network.id}", json={"network": {"mtu": 9000}})
    assert neutron_error(too_big, 400, "InvalidInput") == (
        f"Invalid input for operation: Requested MTU is too big, maximum is {network.mtu}."
    )
    lab.subnet(network, "10.61.0.0/24")
    too_small = raw.put(f"/networks/{network.id}", json={"network": {"mtu": 60}})
    assert neutron_error(too_small, 409, "NetworkMTUSubnetConflict") == (
        f"MTU of {network.id} is not valid, subnet requires a minimum of 68"
    )


def test_subnets_are_listed_and_deleted_with_the_network(admin: Connection, lab: Lab) -> None:
    network = lab.network()
    revision = network.revision_number
    first = lab.subnet(network, "10.62.0.0/24")
    second = lab.subnet(network, "fd00:62::/64")
    fetched = admin.network.get_network(network.id)
    assert sorted(fetched.subnet_ids) == sorted([first.id, second.id])
    assert fetched.revision_number > revision
    admin.network.delete_network(network)
    assert admin.network.find_subnet(first.id) is None and admin.network.find_subnet(second.id) is None


def test_delete_with_ports_is_a_conflict(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    port = lab.port(network)
    message = neutron_error(raw.delete(f"/networks/{network.id}"), 409, "NetworkInUse")
    assert message.startswith(
        f"Unable to complete operation on network {network.id}. There are one or more ports still in use on the network"
    )
    assert port.id in message
    admin.network.delete_port(port)
    admin.network.delete_network(network)


def test_body_errors(raw: httpx.Client, name: Callable[[str], str]) -> None:
    unknown = raw.post("/networks", json={"network": {"name": name("x"), "foo": 1}})
    assert neutron_error(unknown, 400, "HTTPBadRequest") == "Unrecognized attribute(s) 'foo'"
    read_only = raw.post("/networks", json={"network": {"name": name("x"), "status": "DOWN"}})
    assert neutron_error(read_only, 400, "HTTPBadRequest") == "Attribute 'status' not allowed in POST"
    not_bool = raw.post("/networks", json={"network": {"name": name("x"), "admin_state_up": "maybe"}})
    assert neutron_error(not_bool, 400, "InvalidInput") == (
        "Invalid input for operation: 'maybe' cannot be converted to boolean."
    )
    not_string = raw.post("/networks", json={"network": {"name": 5}})
    assert (
        neutron_error(not_string, 400, "HTTPBadRequest") == "Invalid input for name. Reason: '5' is not a valid string."
    )
    too_long = raw.post("/networks", json={"network": {"name": "x" * 256}})
    assert neutron_error(too_long, 400, "HTTPBadRequest").endswith("exceeds maximum length of 255.")
    wrong_key = raw.post("/networks", json={"net": {}})
    assert neutron_error(wrong_key, 400, "HTTPBadRequest") == "Unable to find 'network' in request body"
    not_json = raw.post("/networks", content=b"{bad", headers={"Content-Type": "application/json"})
    assert neutron_error(not_json, 400, "HTTPBadRequest") == "Body contains invalid data"


def test_update_errors(lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    status = raw.put(f"/networks/{network.id}", json={"network": {"status": "DOWN"}})
    assert neutron_error(status, 400, "HTTPBadRequest") == "Cannot update read-only attribute status"
    unknown = raw.put(f"/networks/{network.id}", json={"network": {"bogus": 1}})
    assert neutron_error(unknown, 400, "HTTPBadRequest") == "Unrecognized attribute(s) 'bogus'"
    null_name = raw.put(f"/networks/{network.id}", json={"network": {"name": None}})
    assert neutron_error(null_name, 400, "HTTPBadRequest") == (
        "Invalid input for name. Reason: 'None' is not a valid string."
    )


def test_not_found(raw: httpx.Client, target: Target) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for response in (
        raw.get(f"/networks/{missing}"),
        raw.put(f"/networks/{missing}", json={"network": {}}),
        raw.delete(f"/networks/{missing}"),
    ):
        assert neutron_error(response, 404, "NetworkNotFound") == f"Network {missing} could not be found."
    assert neutron_error(raw.get("/bogus"), 404, "HTTPNotFound") == "The resource could not be found."
