"""The rules of external networks, each with its own fault: always a VM network; never display, migration,
management or default route, nor required, in a cluster; only name, description and comment editable; no port
mirroring on their profiles; read-only providers refuse writes; unmanaged providers are never called."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from tests.engine.external_helpers import (
    events_of,
    fault,
    find_network,
    import_network,
    provider_networks,
    subnets_of,
)
from tests.servers import free_port

Names = Callable[[str], str]
System = sdk.services.SystemService


@pytest.fixture
def dc(system: System, unique: Names) -> t.DataCenter:
    return system.data_centers_service().add(t.DataCenter(name=unique("rdc")))


@pytest.fixture
def cluster(system: System, dc: t.DataCenter, unique: Names) -> t.Cluster:
    mgmt = system.networks_service().add(t.Network(name=unique("mg"), data_center=t.DataCenter(id=dc.id)))
    return system.clusters_service().add(
        t.Cluster(name=unique("rcl"), data_center=t.DataCenter(id=dc.id), management_network=t.Network(id=mgmt.id))
    )


@pytest.fixture
def external(
    system: System, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider, dc: t.DataCenter,
    unique: Names,
) -> t.Network:  # fmt: skip
    return import_network(system, provider.id, make_net(unique("ext")), dc)


def test_always_a_vm_network(
    system: System, neutron: Connection, external: t.Network, provider: t.OpenStackNetworkProvider,
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    service = system.networks_service().network_service(external.id)
    err = fault(lambda: service.update(t.Network(usages=[])))
    assert err.code == 409 and "An external network cannot be a non-VM network" in str(err)
    assert service.get().usages == [t.NetworkUsage.VM]
    name = unique("novm")
    err = fault(lambda: system.networks_service().add(t.Network(
        name=name, usages=[], data_center=t.DataCenter(id=dc.id),
        external_provider=t.OpenStackNetworkProvider(id=provider.id))))  # fmt: skip
    assert err.code == 400 and "An external network cannot be a non-VM network" in str(err)
    assert list(neutron.network.networks(name=name)) == []  # refused before the provider was called


@pytest.mark.parametrize(
    ("usage", "label"),
    [
        (t.NetworkUsage.DISPLAY, "display network"),
        (t.NetworkUsage.MIGRATION, "migration network"),
        (t.NetworkUsage.MANAGEMENT, "management network"),
        (t.NetworkUsage.DEFAULT_ROUTE, "default route network"),
    ],
)
def test_no_cluster_role(
    system: System, external: t.Network, cluster: t.Cluster, usage: t.NetworkUsage, label: str
) -> None:
    networks = system.clusters_service().cluster_service(cluster.id).networks_service()
    err = fault(lambda: networks.add(t.Network(id=external.id, usages=[usage])))
    assert err.code == 409
    assert f"External network '{external.name}' cannot be the {label} of cluster '{cluster.name}'" in str(err)
    attached = networks.add(t.Network(id=external.id))
    assert attached.required is False and attached.usages == [t.NetworkUsage.VM]
    err = fault(lambda: networks.network_service(external.id).update(t.Network(usages=[usage])))
    assert err.code == 409 and f"cannot be the {label}" in str(err)
    assert networks.network_service(external.id).get().usages == [t.NetworkUsage.VM]


def test_never_required(system: System, external: t.Network, cluster: t.Cluster) -> None:
    networks = system.clusters_service().cluster_service(cluster.id).networks_service()
    err = fault(lambda: networks.add(t.Network(id=external.id, required=True)))
    assert err.code == 409
    assert f"External network '{external.name}' cannot be required in cluster '{cluster.name}'" in str(err)
    networks.add(t.Network(id=external.id, required=False))
    err = fault(lambda: networks.network_service(external.id).update(t.Network(required=True)))
    assert err.code == 409 and "cannot be required" in str(err)


def test_not_the_management_network_of_a_new_cluster(
    system: System, external: t.Network, dc: t.DataCenter, unique: Names
) -> None:
    name = unique("mcl")
    err = fault(lambda: system.clusters_service().add(t.Cluster(
        name=name, data_center=t.DataCenter(id=dc.id), management_network=t.Network(id=external.id))))  # fmt: skip
    assert err.code == 409
    assert f"External network '{external.name}' cannot be the management network of cluster '{name}'" in str(err)


def test_only_name_description_and_comment_change(
    system: System, external: t.Network, provider: t.OpenStackNetworkProvider, unique: Names
) -> None:
    service = system.networks_service().network_service(external.id)
    err = fault(lambda: service.update(t.Network(mtu=1300, vlan=t.Vlan(id=12), stp=True)))
    assert err.code == 409
    for label in ("MTU", "VLAN", "STP setting"):
        assert f"The {label} of external network '{external.name}' comes from provider '{provider.name}'" in str(err)
    renamed = unique("renamed")
    updated = service.update(t.Network(name=renamed, description="d", comment="c", mtu=external.mtu))
    assert (updated.name, updated.description, updated.comment, updated.mtu) == (renamed, "d", "c", external.mtu)
    assert [p.name for p in service.vnic_profiles_service().list()] == [renamed]


def test_no_port_mirroring_on_its_profiles(
    system: System, external: t.Network, dc: t.DataCenter, unique: Names
) -> None:
    profiles = system.vnic_profiles_service()
    name = unique("pm")
    err = fault(lambda: profiles.add(t.VnicProfile(name=name, network=t.Network(id=external.id), port_mirroring=True)))
    assert err.code == 409
    assert f"Port mirroring cannot be enabled on vNIC profile '{name}'" in str(err) and external.name in str(err)
    [default] = system.networks_service().network_service(external.id).vnic_profiles_service().list()
    err = fault(lambda: profiles.profile_service(default.id).update(t.VnicProfile(port_mirroring=True)))
    assert err.code == 409 and "Port mirroring cannot be enabled" in str(err)
    local = system.networks_service().add(t.Network(name=unique("loc"), data_center=t.DataCenter(id=dc.id)))
    mirrored = profiles.add(t.VnicProfile(name=unique("pm"), network=t.Network(id=local.id), port_mirroring=True))
    assert mirrored.port_mirroring is True  # the rule is about external networks only


def test_read_only_provider_refuses_network_and_subnet_writes(
    system: System, neutron: Connection, make_net: Callable[..., Any], add_provider: Callable[..., Any],
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    provider = add_provider(read_only=True)
    source = make_net(unique("ro"))
    subnet = neutron.network.create_subnet(network_id=source.id, cidr="10.70.0.0/24", ip_version=4, name="keep")
    network = import_network(system, provider.id, source, dc)  # reading is allowed
    refusal = f"Provider '{provider.name}' is read-only"
    name = unique("ronew")
    err = fault(lambda: system.networks_service().add(t.Network(
        name=name, data_center=t.DataCenter(id=dc.id),
        external_provider=t.OpenStackNetworkProvider(id=provider.id))))  # fmt: skip
    assert err.code == 409 and refusal in str(err)
    err = fault(lambda: system.networks_service().network_service(network.id).remove(
        query={"remove_from_provider": "true"}))  # fmt: skip
    assert err.code == 409 and refusal in str(err)
    subnets = subnets_of(system, provider.id, source.id)
    err = fault(lambda: subnets.add(t.OpenStackSubnet(name="more", cidr="10.71.0.0/24", ip_version="v4")))
    assert err.code == 409 and refusal in str(err)
    err = fault(lambda: subnets.subnet_service(subnet.id).remove())
    assert err.code == 409 and refusal in str(err)
    assert list(neutron.network.networks(name=name)) == []
    assert [s.id for s in neutron.network.subnets(network_id=source.id)] == [subnet.id]
    assert find_network(system, source.name, dc.name) is not None


def test_unmanaged_provider_is_never_called(
    system: System, rest: httpx.Client, add_provider: Callable[..., Any], dc: t.DataCenter, unique: Names
) -> None:
    # nothing listens at its url: any call would fail as "unreachable"
    provider = add_provider(unmanaged=True, url=f"http://127.0.0.1:{free_port()}")
    name = unique("unm")
    network = system.networks_service().add(t.Network(
        name=name, mtu=1400, data_center=t.DataCenter(id=dc.id),
        external_provider=t.OpenStackNetworkProvider(id=provider.id)))  # fmt: skip
    assert network.external_provider.id == provider.id and network.mtu == 1400
    [listed] = provider_networks(system, provider.id).list()
    assert listed.name == name
    other = system.data_centers_service().add(t.DataCenter(name=unique("udc")))
    provider_networks(system, provider.id).network_service(listed.id).import_(data_center=t.DataCenter(id=other.id))
    where = rest.get(f"openstacknetworkproviders/{provider.id}/networks/{listed.id}").json()["data_centers"]
    assert sorted(d["id"] for d in where["data_center"]) == sorted([dc.id, other.id])
    err = fault(lambda: subnets_of(system, provider.id, listed.id).list())
    assert err.code == 409 and "unmanaged" in str(err)
    err = fault(lambda: system.networks_service().network_service(network.id).remove(
        query={"remove_from_provider": "true"}))  # fmt: skip
    assert err.code == 409 and "unmanaged" in str(err)
    system.networks_service().network_service(network.id).remove()
    assert not [e for e in events_of(system, provider.id) if e.severity == t.LogSeverity.ERROR]
