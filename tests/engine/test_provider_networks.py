"""Provider networks: discovery (live, with where each is imported), import into data centers, creating and removing
networks on the provider through /networks, and providers that are down, slow or broken. Driven by ovirtsdk4 (XML)
and JSON; the provider's side is checked with openstacksdk."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

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
    misbehaving_provider,
    provider_networks,
    subnets_of,
    url_of,
)
from tests.provider.process import run_provider
from tests.servers import ADMIN_PASSWORD, EngineProcess, run_engine, scratch_database

Names = Callable[[str], str]
System = sdk.services.SystemService

IMPORTED, IMPORT_FAILED, ADDED_ON_PROVIDER, REMOVED_FROM_PROVIDER = 9600, 9601, 9602, 9603
ADD_ON_PROVIDER_FAILED, REMOVE_FROM_PROVIDER_FAILED = 9620, 9621
SUBNET_ADDED, SUBNET_ADDITION_FAILED, SUBNET_REMOVAL_FAILED = 1100, 1101, 1103


def new_dc(system: System, unique: Names, clusters: int = 0) -> t.DataCenter:
    """A data center with ``clusters`` clusters (each managed through a local network of the data center)."""
    dc = system.data_centers_service().add(t.DataCenter(name=unique("pdc")))
    if clusters:
        mgmt = system.networks_service().add(t.Network(name=unique("mg"), data_center=t.DataCenter(id=dc.id)))
        for _ in range(clusters):
            system.clusters_service().add(t.Cluster(name=unique("pcl"), data_center=t.DataCenter(id=dc.id),
                                                    management_network=t.Network(id=mgmt.id)))  # fmt: skip
    return dc


@pytest.fixture
def dc(system: System, unique: Names) -> t.DataCenter:
    return new_dc(system, unique)


def neutron_named(neutron: Connection, name: str) -> list[Any]:
    return list(neutron.network.networks(name=name))


# --- discovery ----------------------------------------------------------------------------------------------------


def test_discovery_is_live_and_says_where_networks_are_imported(
    system: System, rest: httpx.Client, engine: EngineProcess, neutron: Connection, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    red, blue = make_net(unique("red"), description="from the provider"), make_net(unique("blue"))
    service = provider_networks(system, provider.id)
    listed = {n.id: n for n in service.list()}
    assert {red.id, blue.id} <= set(listed)
    assert listed[red.id].name == red.name and listed[red.id].description == "from the provider"
    assert listed[red.id].openstack_network_provider.id == provider.id
    assert listed[red.id].href.endswith(f"/openstacknetworkproviders/{provider.id}/networks/{red.id}")

    import_network(system, provider.id, red, dc)
    body = rest.get(f"openstacknetworkproviders/{provider.id}/networks").json()["openstack_network"]
    where = {n["id"]: [d["id"] for d in n["data_centers"].get("data_center", [])] for n in body}
    assert where[red.id] == [dc.id] and where[blue.id] == []
    raw = httpx.get(f"{engine.url}/openstacknetworkproviders/{provider.id}/networks/{red.id}",
                    auth=("admin@internal", ADMIN_PASSWORD))  # fmt: skip
    centers = ElementTree.fromstring(raw.content).find("data_centers")
    assert centers is not None and [d.get("id") for d in centers] == [dc.id]

    renamed = unique("renamed")
    neutron.network.update_network(blue, name=renamed)
    assert service.network_service(blue.id).get().name == renamed  # never cached
    neutron.network.delete_network(blue)
    assert blue.id not in {n.id for n in service.list()}
    err = fault(lambda: service.network_service(blue.id).get())
    assert err.code == 404 and blue.id in str(err) and provider.name in str(err)


def test_discovery_max_and_unknown_provider(
    system: System, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider, unique: Names
) -> None:
    make_net(unique("m1"))
    make_net(unique("m2"))
    assert len(provider_networks(system, provider.id).list(max=1)) == 1
    err = fault(lambda: provider_networks(system, "6a1c4c34-5e3f-4bb0-a7d4-8c7fb1f0a0aa").list())
    assert err.code == 404 and "provider" in str(err)


# --- import -------------------------------------------------------------------------------------------------------


def test_import_takes_the_providers_details(
    system: System, connection: sdk.Connection, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    source = make_net(unique("vl"), description="tagged", mtu=1400, provider_network_type="vlan",
                      provider_physical_network="physnet1")  # fmt: skip
    network = import_network(system, provider.id, source, dc)
    assert network.id != source.id
    assert network.external_provider.id == provider.id
    assert connection.follow_link(network.external_provider).name == provider.name
    assert network.usages == [t.NetworkUsage.VM]
    assert network.mtu == 1400 and network.vlan.id == source.provider_segmentation_id
    assert network.external_provider_physical_network.name == "physnet1"
    assert network.description == "tagged" and network.data_center.id == dc.id
    profiles = system.networks_service().network_service(network.id).vnic_profiles_service().list()
    assert [p.name for p in profiles] == [source.name]
    events = [e for e in events_of(system, provider.id) if e.code == IMPORTED]
    assert any(source.name in e.description and dc.name in e.description for e in events)


def test_import_by_data_center_name_as_ansible_sends_it(
    system: System, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider, dc: t.DataCenter,
    unique: Names,
) -> None:  # fmt: skip
    source = make_net(unique("byname"))
    service = provider_networks(system, provider.id).network_service(source.id)
    service.import_(data_center=t.DataCenter(name=dc.name))
    imported = find_network(system, source.name, dc.name)
    assert imported is not None and imported.external_provider.id == provider.id
    vxlan = system.networks_service().network_service(imported.id).get()
    assert vxlan.vlan is None and vxlan.external_provider_physical_network is None  # no VLAN on a vxlan segment


def test_same_network_once_per_data_center(
    system: System, rest: httpx.Client, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    unique: Names,
) -> None:  # fmt: skip
    first, second = new_dc(system, unique), new_dc(system, unique)
    source = make_net(unique("twice"))
    import_network(system, provider.id, source, first)
    err = fault(lambda: import_network(system, provider.id, source, first))
    assert err.code == 409
    assert f"network '{source.name}' is already imported into data center '{first.name}' as '{source.name}'" in str(err)
    import_network(system, provider.id, source, second)
    listed = rest.get(f"openstacknetworkproviders/{provider.id}/networks/{source.id}").json()
    assert sorted(d["id"] for d in listed["data_centers"]["data_center"]) == sorted([first.id, second.id])


def test_import_clashing_with_an_engine_network_name(
    system: System, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider, dc: t.DataCenter,
    unique: Names,
) -> None:  # fmt: skip
    source = make_net(unique("clash"))
    system.networks_service().add(t.Network(name=source.name, data_center=t.DataCenter(id=dc.id)))
    err = fault(lambda: import_network(system, provider.id, source, dc))
    assert err.code == 409 and f"data center '{dc.name}' already has a network named '{source.name}'" in str(err)


def test_concurrent_imports_exactly_one_wins(
    engine: EngineProcess, system: System, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    source = make_net(unique("race"))
    barrier = threading.Barrier(6)
    outcomes: list[int | str] = []

    def attempt() -> None:
        conn = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=60)
        try:
            conn.test(raise_exception=True)
            service = provider_networks(conn.system_service(), provider.id).network_service(source.id)
            barrier.wait(timeout=30)
            service.import_(data_center=t.DataCenter(id=dc.id))
            outcomes.append(200)
        except sdk.Error as err:
            outcomes.append(err.code if err.code == 409 and "already imported" in str(err) else str(err))
        finally:
            conn.close()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes, key=str) == [200, 409, 409, 409, 409, 409]
    copies = system.data_centers_service().data_center_service(dc.id).networks_service().list()
    assert [n.name for n in copies if n.external_provider] == [source.name]


def test_import_options_attach_to_all_clusters(
    system: System, rest: httpx.Client, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    unique: Names,
) -> None:  # fmt: skip
    dc = new_dc(system, unique, clusters=2)
    everywhere, nowhere = make_net(unique("all")), make_net(unique("none"))
    url = f"openstacknetworkproviders/{provider.id}/networks"
    options = {"data_center": {"name": dc.name}, "attach_to_all_clusters": True, "public_use": True}
    answer = rest.post(f"{url}/{everywhere.id}/import", json=options)
    assert answer.status_code == 200, answer.text
    rest.post(f"{url}/{nowhere.id}/import", json={"data_center": {"id": dc.id}}).raise_for_status()
    clusters = system.clusters_service().list(search=f"datacenter={dc.name}")
    assert len(clusters) == 2
    for cluster in clusters:
        attached = {n.name: n for n in system.clusters_service().cluster_service(cluster.id).networks_service().list()}
        assert everywhere.name in attached and nowhere.name not in attached
        assert attached[everywhere.name].required is False
        assert attached[everywhere.name].usages == [t.NetworkUsage.VM]  # no role


def test_import_of_unknown_things(
    system: System, neutron: Connection, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    service = provider_networks(system, provider.id)
    err = fault(lambda: service.network_service("0a4d5bd8-cc35-4a3e-8d3e-3f7d6bde0f77").import_(
        data_center=t.DataCenter(id=dc.id)))  # fmt: skip
    assert err.code == 404 and "0a4d5bd8-cc35-4a3e-8d3e-3f7d6bde0f77" in str(err) and provider.name in str(err)
    source = make_net(unique("lost"))
    err = fault(lambda: service.network_service(source.id).import_(data_center=t.DataCenter(name=unique("nodc"))))
    assert err.code == 400 and "does not exist" in str(err)
    err = fault(lambda: service.network_service(source.id).import_())
    assert err.code == 400 and "Give the data center" in str(err)


# --- create and remove on the provider ----------------------------------------------------------------------------


def test_create_on_provider_then_import(
    system: System, rest: httpx.Client, neutron: Connection, provider: t.OpenStackNetworkProvider,
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    name = unique("made")
    network = system.networks_service().add(t.Network(
        name=name, description="mine", mtu=1400, data_center=t.DataCenter(id=dc.id),
        external_provider=t.OpenStackNetworkProvider(id=provider.id)))  # fmt: skip
    [remote] = neutron_named(neutron, name)
    try:
        assert remote.mtu == 1400 and remote.is_admin_state_up
        assert network.external_provider.id == provider.id and network.mtu == 1400
        assert network.description == "mine" and network.usages == [t.NetworkUsage.VM]
        assert find_network(system, name, dc.name) is not None
        listed = rest.get(f"openstacknetworkproviders/{provider.id}/networks/{remote.id}").json()
        assert [d["id"] for d in listed["data_centers"]["data_center"]] == [dc.id]
        assert any(e.code == ADDED_ON_PROVIDER and name in e.description for e in events_of(system, provider.id))
    finally:
        neutron.network.delete_network(remote, ignore_missing=True)


def test_create_on_provider_with_first_subnet_by_provider_name(
    system: System, rest: httpx.Client, neutron: Connection, provider: t.OpenStackNetworkProvider,
    unique: Names,
) -> None:  # fmt: skip
    name = unique("withsub")
    answer = rest.post(f"datacenters/{new_dc(system, unique).id}/networks", json={
        "name": name, "external_provider": {"name": provider.name},
        "openstack_subnet": {"name": "first", "cidr": "10.20.0.0/24", "gateway": "10.20.0.254",
                             "dns_servers": {"dns_server": ["10.20.0.53"]}},
    })  # fmt: skip
    assert answer.status_code == 201, answer.text
    [remote] = neutron_named(neutron, name)
    try:
        [subnet] = neutron.network.subnets(network_id=remote.id)
        assert (subnet.name, subnet.cidr, subnet.gateway_ip) == ("first", "10.20.0.0/24", "10.20.0.254")
        assert subnet.dns_nameservers == ["10.20.0.53"] and subnet.is_dhcp_enabled
        listed = subnets_of(system, provider.id, remote.id).list()
        assert [s.cidr for s in listed] == ["10.20.0.0/24"]
        assert any(e.code == SUBNET_ADDED and name in e.description for e in events_of(system, provider.id))
    finally:
        neutron.network.delete_network(remote, ignore_missing=True)


def test_create_on_provider_is_undone_when_the_first_subnet_is_refused(
    system: System, engine: EngineProcess, neutron: Connection, provider: t.OpenStackNetworkProvider,
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    name = unique("undone")
    dns = "".join(f"<dns_server>10.30.0.{i}</dns_server>" for i in range(1, 7))  # Neutron allows 5 by default
    body = (f"<network><name>{name}</name><data_center id='{dc.id}'/><external_provider id='{provider.id}'/>"
            f"<openstack_subnet><name>s</name><cidr>10.30.0.0/24</cidr><dns_servers>{dns}</dns_servers>"
            "</openstack_subnet></network>")  # fmt: skip
    answer = httpx.post(f"{engine.url}/networks", content=body, headers={"Content-Type": "application/xml"},
                        auth=("admin@internal", ADMIN_PASSWORD))  # fmt: skip
    assert answer.status_code == 400 and "the provider refused it" in answer.text, answer.text
    assert neutron_named(neutron, name) == []
    assert find_network(system, name, dc.name) is None
    assert any(e.code == SUBNET_ADDITION_FAILED and name in e.description for e in events_of(system, provider.id))


def test_concurrent_creates_leave_one_network_on_the_provider(
    engine: EngineProcess, token: str, neutron: Connection, provider: t.OpenStackNetworkProvider,
    dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    name = unique("dup")
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}
    body = {"name": name, "data_center": {"id": dc.id}, "external_provider": {"id": provider.id}}

    def attempt() -> None:
        with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
            barrier.wait(timeout=30)
            statuses.append(client.post("networks", json=body).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    remotes = neutron_named(neutron, name)
    try:
        assert sorted(statuses) == [201, 409, 409, 409]
        assert len(remotes) == 1  # the losers removed what they had created on the provider
    finally:
        for remote in remotes:
            neutron.network.delete_network(remote, ignore_missing=True)


def test_remove_from_provider(
    system: System, neutron: Connection, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    unique: Names,
) -> None:  # fmt: skip
    first, second = new_dc(system, unique), new_dc(system, unique)
    source = make_net(unique("gone"))
    here = import_network(system, provider.id, source, first)
    there = import_network(system, provider.id, source, second)
    networks = system.networks_service()
    err = fault(lambda: networks.network_service(here.id).remove(query={"remove_from_provider": "true"}))
    assert err.code == 409 and f"also imported into data center(s) '{second.name}'" in str(err)
    assert neutron.network.find_network(source.id) is not None

    networks.network_service(there.id).remove()  # only from the engine
    assert neutron.network.find_network(source.id) is not None
    networks.network_service(here.id).remove(query={"remove_from_provider": "true"})
    assert neutron.network.find_network(source.id) is None
    assert find_network(system, source.name, first.name) is None
    assert any(e.code == REMOVED_FROM_PROVIDER and source.name in e.description for e in events_of(system, provider.id))

    local = networks.add(t.Network(name=unique("loc"), data_center=t.DataCenter(id=first.id)))
    err = fault(lambda: networks.network_service(local.id).remove(query={"remove_from_provider": "true"}))
    assert err.code == 400 and "is not an external network" in str(err)


def test_update_accepts_the_unchanged_provider_as_ansible_sends_it(
    system: System, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    add_provider: Callable[..., Any], dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    source = make_net(unique("put"))
    network = import_network(system, provider.id, source, dc)
    service = system.networks_service().network_service(network.id)
    updated = service.update(t.Network(
        name=network.name, description="edited", data_center=t.DataCenter(name=dc.name), usages=[t.NetworkUsage.VM],
        mtu=network.mtu, external_provider=t.OpenStackNetworkProvider(id=provider.id)))  # fmt: skip
    assert updated.description == "edited" and updated.external_provider.id == provider.id
    other = add_provider()
    err = fault(lambda: service.update(t.Network(external_provider=t.OpenStackNetworkProvider(id=other.id))))
    assert err.code == 409 and f"The provider of external network '{network.name}' cannot be changed" in str(err)


# --- providers that are down, slow or broken: a clear fault, nothing half-imported ----------------------------------


def assert_nothing_imported(system: System, provider_id: str) -> None:
    networks = system.networks_service().list()
    assert not [n for n in networks if n.external_provider and n.external_provider.id == provider_id]


@pytest.mark.builtin_provider_only("it starts a provider of its own and stops it")
def test_provider_down(
    system: System, add_provider: Callable[..., Any], tmp_path: Path, dc: t.DataCenter, unique: Names
) -> None:
    with run_provider(tmp_path / "down") as second:
        provider = add_provider(url=second.network_url, authentication_url=second.auth_url)
        neutron = second.connect()
        kept = neutron.network.create_network(name=unique("kept"))
        doomed = neutron.network.create_network(name=unique("doomed"))
        imported = import_network(system, provider.id, kept, dc)
    # the provider process has stopped
    service = provider_networks(system, provider.id)
    err = fault(lambda: service.network_service(doomed.id).import_(data_center=t.DataCenter(id=dc.id)))
    assert err.code == 400 and "unreachable" in str(err) and provider.name in str(err)
    err = fault(lambda: service.list())
    assert err.code == 400 and "unreachable" in str(err)
    err = fault(lambda: system.networks_service().add(t.Network(
        name=unique("nd"), data_center=t.DataCenter(id=dc.id),
        external_provider=t.OpenStackNetworkProvider(id=provider.id))))  # fmt: skip
    assert err.code == 400 and "unreachable" in str(err)
    removal = system.networks_service().network_service(imported.id)
    err = fault(lambda: removal.remove(query={"remove_from_provider": "true"}))
    assert err.code == 400 and "unreachable" in str(err)
    assert removal.get().name == kept.name  # nothing removed in the engine either
    networks = system.networks_service().list()
    assert [n.id for n in networks if n.external_provider and n.external_provider.id == provider.id] == [imported.id]
    codes = {e.code for e in events_of(system, provider.id) if e.severity == t.LogSeverity.ERROR}
    assert {IMPORT_FAILED, ADD_ON_PROVIDER_FAILED, REMOVE_FROM_PROVIDER_FAILED} <= codes


@pytest.fixture(scope="module")
def impatient_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine that waits one second for providers (the shared engine waits 30)."""
    env = {"EXTNET_PROVIDER_READ_TIMEOUT": "1", "EXTNET_PROVIDER_CONNECT_TIMEOUT": "1"}
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_engine(tmp_path_factory.mktemp("impatient"), url, env=env) as process,
    ):
        yield process


@pytest.fixture
def impatient(impatient_engine: EngineProcess, system_of: Callable[[EngineProcess], System]) -> System:
    return system_of(impatient_engine)


@pytest.mark.parametrize(("mode", "fragment"), [("slow", "did not answer in time"), ("error", "HTTP 500")])
def test_slow_or_broken_provider(impatient: System, unique: Names, mode: str, fragment: str) -> None:
    with misbehaving_provider(mode) as server:
        provider = impatient.openstack_network_providers_service().add(t.OpenStackNetworkProvider(
            name=unique(mode), type=t.OpenStackNetworkProviderType.EXTERNAL, url=url_of(server),
            requires_authentication=False))  # fmt: skip
        default = impatient.data_centers_service().list(search="name=Default")[0]
        service = provider_networks(impatient, provider.id)
        err = fault(lambda: service.network_service("5b4e4c3f-0c5e-4f8a-9d5c-2a4f7f0f1e11").import_(
            data_center=t.DataCenter(id=default.id)))  # fmt: skip
        assert err.code == 400 and fragment in str(err) and provider.name in str(err)
        err = fault(lambda: impatient.networks_service().add(t.Network(
            name=unique("nn"), data_center=t.DataCenter(id=default.id),
            external_provider=t.OpenStackNetworkProvider(id=provider.id))))  # fmt: skip
        assert err.code == 400 and fragment in str(err)
        subnets = subnets_of(impatient, provider.id, "5b4e4c3f-0c5e-4f8a-9d5c-2a4f7f0f1e11")
        err = fault(lambda: subnets.add(t.OpenStackSubnet(name="s", cidr="10.9.0.0/24", ip_version="v4")))
        assert err.code == 400 and fragment in str(err)
        err = fault(lambda: subnets.subnet_service("0d3c1f44-7a51-4cbe-8f2b-6c1a9e7d2b10").remove())
        assert err.code == 400 and fragment in str(err)
        assert server.requests >= 4
    assert_nothing_imported(impatient, provider.id)
    codes = {e.code for e in events_of(impatient, provider.id) if e.severity == t.LogSeverity.ERROR}
    assert {IMPORT_FAILED, ADD_ON_PROVIDER_FAILED, SUBNET_ADDITION_FAILED, SUBNET_REMOVAL_FAILED} <= codes
