"""Subnets: defaults (gateway, pools), IPv6 modes, validation of CIDR, gateway and pools, updates, deletion."""

from __future__ import annotations

import ipaddress

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, neutron_error


def test_crud_cycle_with_defaults(admin: Connection, lab: Lab) -> None:
    network = lab.network()
    subnet = lab.subnet(network, "10.70.0.0/24", name="first")
    assert (subnet.network_id, subnet.ip_version, subnet.cidr) == (network.id, 4, "10.70.0.0/24")
    assert subnet.gateway_ip == "10.70.0.1"
    assert subnet.allocation_pools == [{"start": "10.70.0.2", "end": "10.70.0.254"}]
    assert subnet.is_dhcp_enabled is True and subnet.dns_nameservers == [] and subnet.host_routes == []
    assert subnet.ipv6_ra_mode is None and subnet.ipv6_address_mode is None
    assert subnet.project_id == network.project_id and subnet.tags == []

    updated = admin.network.update_subnet(
        subnet,
        name="second",
        dns_nameservers=["192.0.2.53", "192.0.2.54"],
        host_routes=[{"destination": "10.99.0.0/16", "nexthop": "10.70.0.9"}],
        allocation_pools=[{"start": "10.70.0.10", "end": "10.70.0.20"}],
    )
    assert updated.name == "second" and updated.dns_nameservers == ["192.0.2.53", "192.0.2.54"]
    assert updated.host_routes == [{"destination": "10.99.0.0/16", "nexthop": "10.70.0.9"}]
    assert updated.allocation_pools == [{"start": "10.70.0.10", "end": "10.70.0.20"}]
    assert admin.network.get_subnet(subnet.id).name == "second"

    admin.network.delete_subnet(subnet)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_subnet(subnet.id)


def test_gateway_shapes_the_default_pools(lab: Lab) -> None:
    network = lab.network()
    middle = lab.subnet(network, "10.71.0.0/24", gateway_ip="10.71.0.100")
    assert sorted(middle.allocation_pools, key=lambda p: ipaddress.ip_address(p["start"])) == [
        {"start": "10.71.0.1", "end": "10.71.0.99"},
        {"start": "10.71.0.101", "end": "10.71.0.254"},
    ]
    none = lab.subnet(network, "10.72.0.0/24", gateway_ip=None)
    assert none.gateway_ip is None and none.allocation_pools == [{"start": "10.72.0.1", "end": "10.72.0.254"}]
    tiny = lab.subnet(network, "10.73.0.0/30")
    assert tiny.gateway_ip == "10.73.0.1" and tiny.allocation_pools == [{"start": "10.73.0.2", "end": "10.73.0.2"}]
    outside = lab.subnet(network, "10.74.0.0/24", gateway_ip="10.9.9.9")
    assert outside.gateway_ip == "10.9.9.9"
    assert outside.allocation_pools == [{"start": "10.74.0.1", "end": "10.74.0.254"}]


def test_host_bits_are_dropped(lab: Lab) -> None:
    subnet = lab.subnet(lab.network(), "10.75.0.5/24")
    assert subnet.cidr == "10.75.0.0/24" and subnet.gateway_ip == "10.75.0.1"


def test_ipv6(lab: Lab) -> None:
    network = lab.network()
    stateful = lab.subnet(network, "fd00:76::/64")
    assert stateful.ip_version == 6 and stateful.gateway_ip == "fd00:76::"
    assert stateful.allocation_pools == [{"start": "fd00:76::1", "end": "fd00:76::ffff:ffff:ffff:ffff"}]
    slaac = lab.subnet(network, "fd00:77::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    assert (slaac.ipv6_ra_mode, slaac.ipv6_address_mode) == ("slaac", "slaac")


def test_ipv6_mode_rules(lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()

    def post(**attrs: object) -> httpx.Response:
        return raw.post("/subnets", json={"subnet": {"network_id": network.id, **attrs}})

    message = neutron_error(post(cidr="fd00:78::/80", ip_version=6, ipv6_address_mode="slaac"), 400, "InvalidInput")
    assert message == (
        "Invalid input for operation: Invalid CIDR fd00:78::/80 for IPv6 address mode. OpenStack uses "
        "the EUI-64 address format, which requires the prefix to be /64."
    )
    message = neutron_error(
        post(cidr="fd00:79::/64", ip_version=6, ipv6_address_mode="slaac", ipv6_ra_mode="dhcpv6-stateful"),
        400,
        "InvalidInput",
    )
    assert message == (
        "Invalid input for operation: ipv6_ra_mode set to 'dhcpv6-stateful' with ipv6_address_mode set "
        "to 'slaac' is not valid. If both attributes are set, they must be the same value."
    )
    message = neutron_error(post(cidr="10.79.0.0/24", ip_version=4, ipv6_address_mode="slaac"), 400, "InvalidInput")
    assert message == "Invalid input for operation: ipv6_address_mode is not valid when ip_version is 4."


def test_validation_errors(lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    lab.subnet(network, "10.80.0.0/24")

    def post(**attrs: object) -> httpx.Response:
        return raw.post("/subnets", json={"subnet": {"network_id": network.id, **attrs}})

    assert neutron_error(post(cidr="10.80.0.128/25", ip_version=4), 400, "InvalidInput") == (
        f"Invalid input for operation: Requested subnet with cidr: 10.80.0.128/25 for network: {network.id} overlaps "
        "with another subnet."
    )
    assert neutron_error(post(cidr="10.81.0.0/24", ip_version=6), 400, "InvalidInput") == (
        "Invalid input for operation: cidr '10.81.0.0/24' does not match the ip_version '6'."
    )
    assert neutron_error(post(cidr="10.81.0.0/24"), 400, "HTTPBadRequest") == (
        "Failed to parse request. Required attribute 'ip_version' not specified"
    )
    assert neutron_error(post(cidr="10.81.0.0/32", ip_version=4), 400, "InvalidInput") == (
        "Invalid input for operation: Subnet has a prefix length that is incompatible with DHCP service enabled."
    )
    pools = [{"start": "10.82.1.2", "end": "10.82.1.20"}]
    assert neutron_error(
        post(cidr="10.82.0.0/24", ip_version=4, allocation_pools=pools), 400, "OutOfBoundsAllocationPool"
    ) == ("The allocation pool 10.82.1.2-10.82.1.20 spans beyond the subnet cidr 10.82.0.0/24.")
    pools = [{"start": "10.83.0.10", "end": "10.83.0.5"}]
    neutron_error(post(cidr="10.83.0.0/24", ip_version=4, allocation_pools=pools), 400, "InvalidAllocationPool")
    pools = [{"start": "10.84.0.10", "end": "10.84.0.50"}, {"start": "10.84.0.40", "end": "10.84.0.60"}]
    assert neutron_error(
        post(cidr="10.84.0.0/24", ip_version=4, allocation_pools=pools), 409, "OverlappingAllocationPools"
    ) == ("Found overlapping allocation pools: 10.84.0.10-10.84.0.50 10.84.0.40-10.84.0.60 for subnet 10.84.0.0/24.")
    pools = [{"start": "10.85.0.2", "end": "10.85.0.20"}]
    assert neutron_error(
        post(cidr="10.85.0.0/24", ip_version=4, gateway_ip="10.85.0.5", allocation_pools=pools),
        409,
        "GatewayConflictWithAllocationPools",
    ) == ("Gateway ip 10.85.0.5 conflicts with allocation pool 10.85.0.2-10.85.0.20.")
    assert neutron_error(post(cidr="10.86.0.0/24", ip_version=4, gateway_ip="10.86.0.0"), 400, "InvalidInput") == (
        "Invalid input for operation: Gateway is not valid on subnet."
    )
    assert (
        neutron_error(
            post(cidr="10.87.0.0/24", ip_version=4, dns_nameservers=["1.1.1.1", "1.1.1.1"]), 400, "HTTPBadRequest"
        )
        == "Invalid input for dns_nameservers. Reason: Duplicate nameserver '1.1.1.1'."
    )
    missing = "00000000-0000-0000-0000-000000000000"
    response = raw.post("/subnets", json={"subnet": {"network_id": missing, "cidr": "10.88.0.0/24", "ip_version": 4}})
    assert neutron_error(response, 404, "NetworkNotFound") == f"Network {missing} could not be found."


def test_delete_in_use_is_a_conflict(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    subnet = lab.subnet(network, "10.89.0.0/24")
    port = lab.port(network)
    assert neutron_error(raw.delete(f"/subnets/{subnet.id}"), 409, "SubnetInUse") == (
        f"Unable to complete operation on subnet {subnet.id}: One or more ports have an IP allocation from this subnet."
    )
    admin.network.delete_port(port)
    admin.network.delete_subnet(subnet)


def test_slaac_subnet_gives_existing_ports_an_address(admin: Connection, lab: Lab) -> None:
    network = lab.network()
    lab.subnet(network, "10.90.0.0/24")
    port = lab.port(network)
    slaac = lab.subnet(network, "fd00:90::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    fixed = admin.network.get_port(port.id).fixed_ips
    mac = [int(octet, 16) for octet in port.mac_address.split(":")]
    groups = [(mac[0] ^ 2) << 8 | mac[1], mac[2] << 8 | 0xFF, 0xFE << 8 | mac[3], mac[4] << 8 | mac[5]]
    eui64 = "fd00:90::" + ":".join(f"{group:x}" for group in groups)
    assert {"subnet_id": slaac.id, "ip_address": eui64} in fixed
    new_port = lab.port(network)
    assert any(ip["subnet_id"] == slaac.id for ip in new_port.fixed_ips)
    assert len(new_port.fixed_ips) == 2
