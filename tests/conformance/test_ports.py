"""Ports: MAC and fixed IP allocation, security groups, port security, address pairs, binding, errors."""

from __future__ import annotations

import ipaddress
import re

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error

MAC = re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$")


def test_crud_cycle_with_defaults(admin: Connection, lab: Lab, target: Target) -> None:
    network = lab.network()
    subnet = lab.subnet(network, "10.100.0.0/24")
    port = lab.port(network, name="p1", device_id="vm-1", device_owner="compute:nova")
    assert port.network_id == network.id and port.name == "p1"
    assert MAC.match(port.mac_address)
    assert port.status == "DOWN" and port.is_admin_state_up is True
    assert (port.device_id, port.device_owner) == ("vm-1", "compute:nova")
    [fixed] = port.fixed_ips
    assert fixed["subnet_id"] == subnet.id
    assert ipaddress.ip_address(fixed["ip_address"]) in ipaddress.ip_network("10.100.0.0/24")
    assert fixed["ip_address"] not in ("10.100.0.0", "10.100.0.1", "10.100.0.255")
    default = admin.network.find_security_group("default", project_id=port.project_id)
    assert port.security_group_ids == [default.id]
    assert port.is_port_security_enabled is True and port.allowed_address_pairs == []
    assert port.binding_host_id == "" and port.binding_vif_type == "unbound" and port.binding_vif_details == {}
    assert port.binding_vnic_type == "normal" and port.binding_profile == {}
    assert port.project_id == (target.project_id or network.project_id) and port.tags == []

    revision = port.revision_number
    updated = admin.network.update_port(port, name="p2", device_id="vm-2", is_admin_state_up=False)
    assert (updated.name, updated.device_id, updated.is_admin_state_up) == ("p2", "vm-2", False)
    assert updated.revision_number > revision
    assert [p.id for p in admin.network.ports(device_id="vm-2")] == [port.id]

    admin.network.delete_port(port)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_port(port.id)


def test_binding_follows_the_agents(admin: Connection, lab: Lab, target: Target) -> None:
    if not target.agent_hosts:
        pytest.skip("the target names no host with a live agent")
    host = target.agent_hosts[0]
    network = lab.network()
    lab.subnet(network, "10.101.0.0/24")
    port = lab.port(network, binding_host_id=host)
    assert port.binding_host_id == host and port.binding_vif_type == "ovs"
    details = port.binding_vif_details
    assert details["port_filter"] is True and details["datapath_type"] == "system" and details["connectivity"] == "l2"
    if target.driver == "ovn":  # Neutron's OVN driver names no bridge: the host plugs into its integration bridge
        assert "bridge_name" not in details and details["bound_drivers"] == {"0": "ovn"}
    else:
        assert details["bridge_name"] == "br-int"
    assert port.status == "DOWN"  # until the data plane reports it up

    moved = admin.network.update_port(port, binding_host_id="no-such-host")
    assert moved.binding_vif_type == "binding_failed" and moved.binding_vif_details == {}
    back = admin.network.update_port(port, binding_host_id=host)
    assert back.binding_vif_type == "ovs"
    unbound = admin.network.update_port(port, binding_host_id="")
    assert unbound.binding_vif_type == "unbound"


def test_binding_needs_a_reachable_segment(lab: Lab, target: Target, name: object) -> None:
    if not target.agent_hosts:
        pytest.skip("the target names no host with a live agent")
    host = target.agent_hosts[0]
    vlan = lab.network(provider_network_type="vlan", provider_physical_network="physnet1")
    assert lab.port(vlan, binding_host_id=host).binding_vif_type == "ovs"
    flat = lab.network(provider_network_type="flat", provider_physical_network=f"unmapped{id(vlan) % 100000}")
    assert lab.port(flat, binding_host_id=host).binding_vif_type == "binding_failed"


def test_requested_fixed_ips(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    first = lab.subnet(network, "10.102.0.0/24")
    second = lab.subnet(network, "10.103.0.0/24")
    by_subnet = lab.port(network, fixed_ips=[{"subnet_id": second.id}])
    assert [ip["subnet_id"] for ip in by_subnet.fixed_ips] == [second.id]
    by_address = lab.port(network, fixed_ips=[{"ip_address": "10.102.0.77"}])
    assert by_address.fixed_ips == [{"subnet_id": first.id, "ip_address": "10.102.0.77"}]
    both = lab.port(network, fixed_ips=[{"subnet_id": second.id, "ip_address": "10.103.0.88"}])
    assert both.fixed_ips == [{"subnet_id": second.id, "ip_address": "10.103.0.88"}]
    gateway = lab.port(network, fixed_ips=[{"ip_address": "10.102.0.1"}])
    assert gateway.fixed_ips[0]["ip_address"] == "10.102.0.1"
    none = lab.port(network, fixed_ips=[])
    assert none.fixed_ips == []

    def post(fixed_ips: list[dict[str, str]]) -> httpx.Response:
        return raw.post("/ports", json={"port": {"network_id": network.id, "fixed_ips": fixed_ips}})

    assert neutron_error(post([{"ip_address": "10.102.0.77"}]), 409, "IpAddressAlreadyAllocated") == (
        f"IP address 10.102.0.77 already allocated in subnet {first.id}"
    )
    assert neutron_error(post([{"ip_address": "10.199.0.5"}]), 400, "InvalidIpForNetwork") == (
        "IP address 10.199.0.5 is not a valid IP for any of the subnets on the specified network."
    )
    assert neutron_error(post([{"subnet_id": first.id, "ip_address": "10.103.0.5"}]), 400, "InvalidIpForSubnet") == (
        "IP address 10.103.0.5 is not a valid IP for the specified subnet."
    )
    for reserved in ("10.102.0.0", "10.102.0.255"):
        neutron_error(post([{"ip_address": reserved}]), 400, "InvalidIpForNetwork")

    moved = admin.network.update_port(by_address, fixed_ips=[{"ip_address": "10.102.0.78"}, {"subnet_id": second.id}])
    assert moved.fixed_ips[0] == {"subnet_id": first.id, "ip_address": "10.102.0.78"}
    assert moved.fixed_ips[1]["subnet_id"] == second.id
    again = lab.port(network, fixed_ips=[{"ip_address": "10.102.0.77"}])  # freed by the update
    assert again.fixed_ips[0]["ip_address"] == "10.102.0.77"


def test_exhausted_subnet(lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    lab.subnet(network, "10.104.0.0/29")  # pool .2 - .6
    addresses = {lab.port(network).fixed_ips[0]["ip_address"] for _ in range(5)}
    assert addresses == {f"10.104.0.{n}" for n in range(2, 7)}
    response = raw.post("/ports", json={"port": {"network_id": network.id}})
    assert neutron_error(response, 409, "IpAddressGenerationFailure") == (
        f"No more IP addresses available on network {network.id}."
    )


def test_mac_address(lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    lab.subnet(network, "10.105.0.0/24")
    chosen = lab.port(network, mac_address="FA:16:3E:00:AB:CD")
    assert chosen.mac_address == "fa:16:3e:00:ab:cd"
    taken = raw.post("/ports", json={"port": {"network_id": network.id, "mac_address": "fa:16:3e:00:ab:cd"}})
    assert neutron_error(taken, 409, "MacAddressInUse") == (
        f"Unable to complete operation for network {network.id}. The mac address fa:16:3e:00:ab:cd is in use."
    )
    invalid = raw.post("/ports", json={"port": {"network_id": network.id, "mac_address": "zz"}})
    assert neutron_error(invalid, 400, "HTTPBadRequest") == (
        "Invalid input for mac_address. Reason: 'zz' is not a valid MAC address."
    )
    other = lab.network()
    assert lab.port(other, mac_address="fa:16:3e:00:ab:cd").mac_address == "fa:16:3e:00:ab:cd"


def test_security_groups_and_port_security(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    lab.subnet(network, "10.106.0.0/24")
    group = lab.security_group()
    port = lab.port(network, security_group_ids=[group.id])
    assert port.security_group_ids == [group.id]
    assert lab.port(network, security_group_ids=[]).security_group_ids == []

    disabled = raw.put(f"/ports/{port.id}", json={"port": {"port_security_enabled": False}})
    assert neutron_error(disabled, 409, "PortSecurityPortHasSecurityGroup") == (
        "Port has security group associated. Cannot disable port security or IP address until security group is "
        "removed."
    )
    paired = admin.network.update_port(
        port,
        allowed_address_pairs=[
            {"ip_address": "10.106.0.200"},
            {"ip_address": "10.107.0.0/24", "mac_address": "fa:16:3e:00:00:01"},
        ],
    )
    assert sorted(paired.allowed_address_pairs, key=lambda p: p["ip_address"]) == [
        {"ip_address": "10.106.0.200", "mac_address": port.mac_address},
        {"ip_address": "10.107.0.0/24", "mac_address": "fa:16:3e:00:00:01"},
    ]
    no_groups = raw.put(f"/ports/{port.id}", json={"port": {"port_security_enabled": False, "security_groups": []}})
    assert neutron_error(no_groups, 409, "AddressPairAndPortSecurityRequired") == (
        "Port Security must be enabled in order to have allowed address pairs on a port."
    )
    open_port = admin.network.update_port(
        port, is_port_security_enabled=False, security_group_ids=[], allowed_address_pairs=[]
    )
    assert open_port.is_port_security_enabled is False and open_port.security_group_ids == []

    insecure = lab.port(network, is_port_security_enabled=False)
    assert insecure.security_group_ids == []
    missing = "00000000-0000-0000-0000-000000000000"
    unknown = raw.post("/ports", json={"port": {"network_id": network.id, "security_groups": [missing]}})
    assert neutron_error(unknown, 404, "SecurityGroupNotFound") == f"Security group {missing} does not exist"


def test_errors(lab: Lab, raw: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = raw.post("/ports", json={"port": {"network_id": missing}})
    assert neutron_error(response, 404, "NetworkNotFound") == f"Network {missing} could not be found."
    assert neutron_error(raw.get("/ports/nope"), 404, "PortNotFound") == "Port nope could not be found."
    network = lab.network()
    port = lab.port(network)
    read_only = raw.put(f"/ports/{port.id}", json={"port": {"network_id": network.id}})
    assert neutron_error(read_only, 400, "HTTPBadRequest") == "Cannot update read-only attribute network_id"
    status = raw.put(f"/ports/{port.id}", json={"port": {"status": "ACTIVE"}})
    assert neutron_error(status, 400, "HTTPBadRequest") == "Cannot update read-only attribute status"
    no_network = raw.post("/ports", json={"port": {"name": "x"}})
    assert neutron_error(no_network, 400, "HTTPBadRequest") == (
        "Failed to parse request. Required attribute 'network_id' not specified"
    )


def test_ipv6_addresses_follow_mac_and_subnets(admin: Connection, lab: Lab, raw: httpx.Client, target: Target) -> None:
    network = lab.network()
    v4 = lab.subnet(network, "10.107.0.0/24")
    slaac = lab.subnet(network, "fd00:107::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    stateful = lab.subnet(network, "fd00:108::/64")
    port = lab.port(network)
    assert sorted(ip["subnet_id"] for ip in port.fixed_ips) == sorted([v4.id, slaac.id, stateful.id])
    moved = admin.network.update_port(port, mac_address="fa:16:3e:aa:bb:cc")
    assert {"subnet_id": slaac.id, "ip_address": "fd00:107::f816:3eff:feaa:bbcc"} in moved.fixed_ips
    many = lab.port(network, fixed_ips=[{"subnet_id": v4.id}] * 6)
    assert len({ip["ip_address"] for ip in many.fixed_ips if ip["subnet_id"] == v4.id}) == 6
    assert [ip["subnet_id"] for ip in many.fixed_ips].count(slaac.id) == 1  # SLAAC addresses come anyway
    assert [ip["subnet_id"] for ip in lab.port(network, fixed_ips=[]).fixed_ips] == [slaac.id]
    kept = admin.network.update_port(many, fixed_ips=[{"ip_address": "10.107.0.50"}])
    assert sorted(ip["subnet_id"] for ip in kept.fixed_ips) == sorted([v4.id, slaac.id])

    admin.network.delete_subnet(slaac)  # SLAAC addresses go with their subnet
    assert [ip["subnet_id"] for ip in admin.network.get_port(port.id).fixed_ips if ip["subnet_id"] == slaac.id] == []
    neutron_error(raw.delete(f"/subnets/{stateful.id}"), 409, "SubnetInUse")

    if target.agent_hosts:
        bound = lab.port(network, binding_host_id=target.agent_hosts[0])
        response = raw.put(f"/ports/{bound.id}", json={"port": {"mac_address": "fa:16:3e:aa:bb:cd"}})
        assert neutron_error(response, 409, "PortBound") == (
            f"Unable to complete operation on port {bound.id}, port is already bound, port type: ovs, "
            f"old_mac {bound.mac_address}, new_mac fa:16:3e:aa:bb:cd."
        )
