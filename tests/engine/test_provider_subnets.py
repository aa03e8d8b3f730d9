"""Subnets of provider networks (…/openstacknetworkproviders/{id}/networks/{nid}/subnets): live on the provider,
validated before the provider is called, with events. Driven by ovirtsdk4 and JSON; checked with openstacksdk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from tests.engine.external_helpers import events_of, fault, subnets_of
from tests.servers import free_port

Names = Callable[[str], str]
System = sdk.services.SystemService
SUBNET_ADDED, SUBNET_ADDITION_FAILED, SUBNET_REMOVED = 1100, 1101, 1102


def test_add_list_get_remove(
    system: System, neutron: Connection, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    unique: Names,
) -> None:  # fmt: skip
    network = make_net(unique("sn"))
    subnets = subnets_of(system, provider.id, network.id)
    added = subnets.add(t.OpenStackSubnet(name="v4", cidr="10.40.0.0/24", ip_version="v4", gateway="10.40.0.254",
                                          dns_servers=["10.40.0.53", "10.40.0.54"]))  # fmt: skip
    assert (added.name, added.cidr, added.ip_version, added.gateway) == ("v4", "10.40.0.0/24", "v4", "10.40.0.254")
    assert added.dns_servers == ["10.40.0.53", "10.40.0.54"] and added.openstack_network.id == network.id
    remote = neutron.network.get_subnet(added.id)
    assert (remote.network_id, remote.cidr, remote.ip_version, remote.gateway_ip) == (
        network.id, "10.40.0.0/24", 4, "10.40.0.254")  # fmt: skip
    assert remote.dns_nameservers == ["10.40.0.53", "10.40.0.54"] and remote.is_dhcp_enabled

    v6 = subnets.add(t.OpenStackSubnet(name="v6", cidr="fd00:40::/64"))  # the version follows the cidr
    assert v6.ip_version == "v6" and neutron.network.get_subnet(v6.id).ip_version == 6
    assert sorted(s.name for s in subnets.list()) == ["v4", "v6"]
    got = subnets.subnet_service(added.id).get()
    assert (got.id, got.cidr, got.gateway) == (added.id, "10.40.0.0/24", "10.40.0.254")

    neutron.network.create_subnet(network_id=network.id, cidr="10.41.0.0/24", ip_version=4, name="outside")
    assert "outside" in {s.name for s in subnets.list()}  # live: made on the provider, seen at once

    subnets.subnet_service(added.id).remove()
    assert neutron.network.find_subnet(added.id) is None
    assert added.id not in {s.id for s in subnets.list()}
    events = events_of(system, provider.id)
    assert any(e.code == SUBNET_ADDED and "10.40.0.0/24" in e.description for e in events)
    assert any(e.code == SUBNET_REMOVED and "10.40.0.0/24" in e.description for e in events)


def test_each_network_lists_its_own_subnets(
    system: System, rest: httpx.Client, neutron: Connection, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, unique: Names,
) -> None:  # fmt: skip
    first, second = make_net(unique("a")), make_net(unique("b"))
    base = f"openstacknetworkproviders/{provider.id}/networks"
    added = rest.post(f"{base}/{first.id}/subnets", json={"name": "mine", "cidr": "10.50.0.0/24",
                                                           "dns_servers": {"dns_server": ["10.50.0.53"]}})  # fmt: skip
    assert added.status_code == 201, added.text
    assert added.json()["dns_servers"] == {"dns_server": ["10.50.0.53"]}
    theirs = neutron.network.create_subnet(network_id=second.id, cidr="10.51.0.0/24", ip_version=4, name="theirs")
    assert [s["name"] for s in rest.get(f"{base}/{first.id}/subnets").json()["openstack_subnet"]] == ["mine"]
    assert [s.name for s in subnets_of(system, provider.id, second.id).list()] == ["theirs"]
    err = fault(lambda: subnets_of(system, provider.id, first.id).subnet_service(theirs.id).get())
    assert err.code == 404 and theirs.id in str(err)
    err = fault(lambda: subnets_of(system, provider.id, first.id).subnet_service(theirs.id).remove())
    assert err.code == 404
    assert neutron.network.find_subnet(theirs.id) is not None
    err = fault(lambda: subnets_of(system, provider.id, "f2b4d2c0-3f0e-4d5c-9c44-0c1d7fb5a001").list())
    assert err.code == 404 and provider.name in str(err)


def test_provider_refusal_is_a_fault_and_an_event(
    system: System, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider, unique: Names
) -> None:
    network = make_net(unique("ov"))
    subnets = subnets_of(system, provider.id, network.id)
    subnets.add(t.OpenStackSubnet(name="one", cidr="10.60.0.0/24"))
    err = fault(
        lambda: subnets.add(t.OpenStackSubnet(name="two", cidr="10.60.0.0/25"))
    )  # overlaps: the provider's rule
    assert err.code == 400 and "the provider refused it" in str(err) and provider.name in str(err)
    assert [s.name for s in subnets.list()] == ["one"]
    failed = [e for e in events_of(system, provider.id) if e.code == SUBNET_ADDITION_FAILED]
    assert failed and "two" in failed[0].description and failed[0].severity == t.LogSeverity.ERROR


INVALID = [
    ({"name": None}, "The subnet name is required"),
    ({"name": "a b"}, "may contain only"),
    ({"cidr": None}, "needs a cidr"),
    ({"cidr": "10.0.0.0"}, "is not a network address with a prefix length"),
    ({"cidr": "10.0.0.300/24"}, "is not a network address with a prefix length"),
    ({"cidr": "10.0.0.1/24"}, "has host bits set; the network is 10.0.0.0/24"),
    ({"ip_version": "v6"}, "is an IPv4 network, but ip_version is v6"),
    ({"cidr": "10.0.0.0/31"}, "leaves no addresses for DHCP to hand out"),
    ({"cidr": "fd00::/127", "gateway": None}, "leaves no addresses for DHCP to hand out"),
    ({"gateway": "gw"}, "The gateway 'gw' of subnet 's' is not an IP address"),
    ({"gateway": "10.1.0.1"}, "is not inside its cidr 10.0.0.0/24"),
    ({"gateway": "fd00::1"}, "is not an IPv4 address like its cidr"),
    ({"gateway": "10.0.0.0"}, "is the address of the network itself"),
    ({"gateway": "10.0.0.255"}, "is the broadcast address of its cidr"),
    ({"dns_servers": ["8.8.8"]}, "The DNS server '8.8.8' of subnet 's' is not an IP address"),
    ({"dns_servers": ["2001:4860::8888"]}, "is not an IPv4 address like its cidr"),
    ({"dns_servers": ["10.0.0.53", "10.0.0.53"]}, "is given more than once"),
]


@pytest.fixture
def unreachable_provider(add_provider: Callable[..., Any]) -> t.OpenStackNetworkProvider:
    """A provider nothing listens for: a subnet that gets as far as a provider call fails as unreachable."""
    return add_provider(url=f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize(("fields", "fragment"), INVALID)
def test_invalid_subnet_is_refused_before_the_provider_is_called(
    system: System, unreachable_provider: t.OpenStackNetworkProvider, fields: dict[str, Any], fragment: str
) -> None:
    body = {"name": "s", "cidr": "10.0.0.0/24", "ip_version": "v4", "gateway": "10.0.0.1", **fields}
    subnets = subnets_of(system, unreachable_provider.id, "c3b6b1f9-4a5b-4c36-9a0e-5d2f3c1a7e01")
    err = fault(lambda: subnets.add(t.OpenStackSubnet(**body)))
    assert err.code == 400 and fragment in str(err), str(err)
    assert "unreachable" not in str(err)


def test_every_problem_at_once_and_valid_ones_reach_the_provider(
    system: System, unreachable_provider: t.OpenStackNetworkProvider
) -> None:
    subnets = subnets_of(system, unreachable_provider.id, "c3b6b1f9-4a5b-4c36-9a0e-5d2f3c1a7e01")
    err = fault(lambda: subnets.add(t.OpenStackSubnet(name="s", cidr="10.0.0.0/24", gateway="10.9.9.9",
                                                      dns_servers=["x"])))  # fmt: skip
    assert "not inside its cidr" in str(err) and "'x' of subnet 's' is not an IP address" in str(err)
    err = fault(lambda: subnets.add(t.OpenStackSubnet(name="s", cidr="10.0.0.0/24")))
    assert err.code == 400 and "unreachable" in str(err)
