"""Synchronizing providers: clusters name their providers (``external_network_providers``); ``POST
/openstacknetworkproviders/{id}/sync`` and the periodic sync of providers with auto_sync import networks new on the
provider into the data centers of those clusters and attach them there, apply renames and MTU changes, mark networks
gone from the provider (unplugging their vNICs), and turn auto_sync off when the provider refuses the credentials.
Driven by ovirtsdk4 (XML) and JSON against a provider process of this module; its side is changed with
openstacksdk."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from tests.engine.external_helpers import events_of, fault, find_network
from tests.provider.process import ProviderProcess, run_provider
from tests.real_neutron import REAL_NEUTRON, own_project, provider_fields, real_neutron
from tests.servers import EngineProcess, free_port, run_engine, scratch_database

Names = Callable[[str], str]
System = sdk.services.SystemService

IMPORTED, GONE, UPDATED, SKIPPED, ATTACHED = 9600, 9604, 9630, 9632, 9633
SYNCHRONIZED, SYNC_FAILED, SYNC_DISABLED = 1709, 1710, 1711


@pytest.fixture(scope="module")
def own_provider(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[Any]:
    """A provider process of this module: a sync brings in every network of a provider, so none of other tests'.
    Against a real Neutron: a project of its own, whose member sees only that project's networks."""
    if REAL_NEUTRON:
        with own_project(real_neutron(), "sync") as project:
            yield project
        return
    server = os.environ.get("EXTNET_TEST_DATABASE_URL") if database_url else None
    with (
        scratch_database(server) as provider_db,
        run_provider(tmp_path_factory.mktemp("sync-provider"), provider_db) as process,
    ):
        yield process


@pytest.fixture(scope="module")
def neutron(own_provider: ProviderProcess) -> Iterator[Connection]:
    connection = own_provider.connect()
    yield connection
    connection.close()


@pytest.fixture
def provider(add_provider: Callable[..., Any], own_provider: ProviderProcess) -> t.OpenStackNetworkProvider:
    return add_provider(**provider_fields(own_provider))


@dataclass
class Site:
    """A data center with clusters; ``naming`` name the provider, ``other`` does not."""

    dc: t.DataCenter
    naming: list[t.Cluster]
    other: t.Cluster


def make_site(system: System, unique: Names, provider: t.OpenStackNetworkProvider, naming: int = 1) -> Site:
    dc = system.data_centers_service().add(t.DataCenter(name=unique("sdc")))
    mgmt = system.networks_service().add(t.Network(name=unique("mg"), data_center=t.DataCenter(id=dc.id)))

    def cluster(providers: list[t.ExternalProvider]) -> t.Cluster:
        return system.clusters_service().add(t.Cluster(
            name=unique("scl"), data_center=t.DataCenter(id=dc.id), management_network=t.Network(id=mgmt.id),
            external_network_providers=providers))  # fmt: skip

    named = [cluster([t.ExternalProvider(name=provider.name)]) for _ in range(naming)]
    return Site(dc, named, cluster([]))


def sync(rest: httpx.Client, provider_id: str) -> httpx.Response:
    return rest.post(f"openstacknetworkproviders/{provider_id}/sync", json={})


def synced(rest: httpx.Client, provider_id: str) -> None:
    answer = sync(rest, provider_id)
    assert answer.status_code == 200 and answer.json()["status"] == "complete", answer.text


def cluster_networks(system: System, cluster: t.Cluster) -> dict[str, t.Network]:
    return {n.name: n for n in system.clusters_service().cluster_service(cluster.id).networks_service().list()}


def copies_of(system: System, provider_id: str) -> list[t.Network]:
    """The engine's networks from the provider."""
    return [
        n for n in system.networks_service().list() if n.external_provider and n.external_provider.id == provider_id
    ]


# --- clusters name their providers -------------------------------------------------------------------------------


def test_clusters_name_their_providers(
    system: System, connection: sdk.Connection, rest: httpx.Client, add_provider: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, unique: Names,
) -> None:  # fmt: skip
    other = add_provider()
    site = make_site(system, unique, provider)
    service = system.clusters_service().cluster_service(site.naming[0].id)
    cluster = service.get()
    listed = connection.follow_link(cluster.external_network_providers)
    assert [(p.id, p.name) for p in listed] == [(provider.id, provider.name)]
    assert listed[0].url == provider.url and listed[0].password is None
    assert service.external_network_providers_service().list()[0].id == provider.id

    service.update(t.Cluster(external_network_providers=[t.ExternalProvider(id=other.id),
                                                         t.ExternalProvider(name=provider.name)]))  # fmt: skip
    body = rest.get(f"clusters/{site.naming[0].id}").json()
    assert sorted(p["id"] for p in body["external_network_providers"]["external_provider"]) == sorted(
        [provider.id, other.id]
    )
    service.update(t.Cluster(description="kept"))  # not given: kept
    assert len(service.external_network_providers_service().list()) == 2
    answer = rest.put(f"clusters/{site.naming[0].id}", json={"external_network_providers": {"external_provider": []}})
    assert answer.status_code == 200 and "external_network_providers" not in answer.json()
    assert service.external_network_providers_service().list() == []

    err = fault(lambda: service.update(t.Cluster(external_network_providers=[t.ExternalProvider(name="nope-x")])))
    assert err.code == 400 and "The provider named 'nope-x' does not exist" in str(err)
    assert f"cluster '{site.naming[0].name}'" in str(err)


def test_a_provider_named_by_clusters_is_removed_only_with_force(
    system: System, add_provider: Callable[..., Any], unique: Names
) -> None:
    provider = add_provider()
    site = make_site(system, unique, provider, naming=2)
    service = system.openstack_network_providers_service().provider_service(provider.id)
    err = fault(lambda: service.remove())
    assert err.code == 409 and "is an external network provider of cluster(s)" in str(err)
    assert all(c.name in str(err) for c in site.naming)
    service.remove(query={"force": "true"})  # the SDK's remove has no force parameter
    remaining = system.clusters_service().cluster_service(site.naming[0].id).external_network_providers_service()
    assert remaining.list() == []


# --- on-demand sync ------------------------------------------------------------------------------------------------


def test_sync_imports_new_networks_and_attaches_them_to_the_naming_clusters(
    system: System, rest: httpx.Client, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    unique: Names,
) -> None:  # fmt: skip
    first, second = make_site(system, unique, provider, naming=2), make_site(system, unique, provider)
    bystander = system.data_centers_service().add(t.DataCenter(name=unique("sby")))
    source = make_net(unique("new"), mtu=1400)
    synced(rest, provider.id)

    for site in (first, second):
        network = find_network(system, source.name, site.dc.name)
        assert network is not None and network.external_provider.id == provider.id and network.mtu == 1400
        profiles = system.networks_service().network_service(network.id).vnic_profiles_service().list()
        assert [p.name for p in profiles] == [source.name]
        for cluster in site.naming:
            attached = cluster_networks(system, cluster)[source.name]
            assert attached.required is False and attached.usages == [t.NetworkUsage.VM]
        assert source.name not in cluster_networks(system, site.other)
    assert find_network(system, source.name, bystander.name) is None

    events = events_of(system, provider.id)
    imports = [e for e in events if e.code == IMPORTED and source.name in e.description]
    assert len(imports) == 2 and all("synchronization" in e.description for e in imports)
    assert any(e.code == ATTACHED and source.name in e.description for e in events)
    assert any(e.code == SYNCHRONIZED and "2 network(s) imported" in e.description for e in events)

    synced(rest, provider.id)  # nothing new: nothing twice
    assert len([n for n in copies_of(system, provider.id) if n.name == source.name]) == 2
    latest = events_of(system, provider.id)[0]
    assert latest.code == SYNCHRONIZED and "nothing changed" in latest.description


def test_a_cluster_naming_the_provider_later_gets_its_networks(
    system: System, rest: httpx.Client, make_net: Callable[..., Any], provider: t.OpenStackNetworkProvider,
    unique: Names,
) -> None:  # fmt: skip
    site = make_site(system, unique, provider)
    source = make_net(unique("late"))
    synced(rest, provider.id)
    system.clusters_service().cluster_service(site.other.id).update(
        t.Cluster(external_network_providers=[t.ExternalProvider(id=provider.id)]))  # fmt: skip
    synced(rest, provider.id)
    assert source.name in cluster_networks(system, site.other)
    assert len([n for n in copies_of(system, provider.id) if n.name == source.name]) == 1


def test_sync_applies_renames_mtu_and_description(
    system: System, rest: httpx.Client, neutron: Connection, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, unique: Names,
) -> None:  # fmt: skip
    site = make_site(system, unique, provider)
    old = unique("old")
    source = make_net(old, mtu=1450)
    synced(rest, provider.id)
    network = find_network(system, old, site.dc.name)
    assert network is not None
    renamed = unique("renamed")
    neutron.network.update_network(source, name=renamed, mtu=1300, description="from the provider")
    synced(rest, provider.id)
    updated = system.networks_service().network_service(network.id).get()
    assert (updated.name, updated.mtu, updated.description) == (renamed, 1300, "from the provider")
    profiles = system.networks_service().network_service(network.id).vnic_profiles_service().list()
    assert [p.name for p in profiles] == [renamed]  # its default profile follows the name
    event = next(e for e in events_of(system, provider.id) if e.code == UPDATED)
    assert f"name {old} -> {renamed}" in event.description and "MTU 1450 -> 1300" in event.description


def test_a_rename_that_would_clash_is_skipped_and_reported(
    system: System, rest: httpx.Client, neutron: Connection, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, unique: Names,
) -> None:  # fmt: skip
    site = make_site(system, unique, provider)
    name = unique("keep")
    source = make_net(name)
    synced(rest, provider.id)
    taken = system.networks_service().add(t.Network(name=unique("taken"), data_center=t.DataCenter(id=site.dc.id)))
    neutron.network.update_network(source, name=taken.name, mtu=1280)
    synced(rest, provider.id)
    kept = find_network(system, name, site.dc.name)
    assert kept is not None and kept.mtu == 1280  # the rest of the change is applied
    warning = next(e for e in events_of(system, provider.id) if e.code == SKIPPED)
    assert warning.severity == t.LogSeverity.WARNING
    assert f"was not renamed to {taken.name}" in warning.description and "already exists" in warning.description


def test_a_network_gone_from_the_provider_is_marked_and_its_vnics_unplugged(
    system: System, rest: httpx.Client, neutron: Connection, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, unique: Names,
) -> None:  # fmt: skip
    site = make_site(system, unique, provider)
    source, stays = make_net(unique("gone")), make_net(unique("stays"))
    synced(rest, provider.id)
    network = find_network(system, source.name, site.dc.name)
    assert network is not None and network.status is None
    profile = system.networks_service().network_service(network.id).vnic_profiles_service().list()[0]
    vm = system.vms_service().add(t.Vm(name=unique("svm"), cluster=t.Cluster(id=site.naming[0].id)))
    nics = system.vms_service().vm_service(vm.id).nics_service()
    nic = nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=profile.id)))
    assert nic.plugged is True

    neutron.network.delete_network(source)
    synced(rest, provider.id)
    marked = system.networks_service().network_service(network.id).get()
    assert marked.status == t.NetworkStatus.NON_OPERATIONAL
    attached = cluster_networks(system, site.naming[0])[source.name]
    assert attached.status == t.NetworkStatus.NON_OPERATIONAL
    assert cluster_networks(system, site.naming[0])[stays.name].status == t.NetworkStatus.OPERATIONAL
    unplugged = nics.nic_service(nic.id).get()
    assert unplugged.plugged is False and unplugged.vnic_profile.id == profile.id
    event = next(e for e in events_of(system, provider.id) if e.code == GONE)
    assert event.severity == t.LogSeverity.WARNING and source.name in event.description and vm.name in event.description

    synced(rest, provider.id)  # said once
    assert len([e for e in events_of(system, provider.id) if e.code == GONE]) == 1


def test_concurrent_syncs_import_once(
    engine: EngineProcess, token: str, system: System, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, unique: Names,
) -> None:  # fmt: skip
    site = make_site(system, unique, provider, naming=2)
    names = [make_net(unique("race")).name for _ in range(3)]
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}

    def attempt() -> None:
        with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=120) as client:
            barrier.wait(timeout=30)
            statuses.append(sync(client, provider.id).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert statuses == [200] * 4
    in_dc = system.data_centers_service().data_center_service(site.dc.id).networks_service().list()
    assert sorted(n.name for n in in_dc if n.name in names) == sorted(names)
    for cluster in site.naming:
        assert set(names) <= set(cluster_networks(system, cluster))
    imports = [e for e in events_of(system, provider.id) if e.code == IMPORTED]
    assert sorted(e.description.split()[1] for e in imports) == sorted(names)


def test_wrong_credentials_turn_auto_sync_off(
    system: System, rest: httpx.Client, add_provider: Callable[..., Any], own_provider: ProviderProcess,
) -> None:  # fmt: skip
    provider = add_provider(**provider_fields(own_provider), auto_sync=True)
    service = system.openstack_network_providers_service().provider_service(provider.id)
    service.update(t.OpenStackNetworkProvider(password="not-the-password"))
    answer = sync(rest, provider.id)
    assert answer.status_code == 400 and "authentication failed" in answer.text, answer.text
    assert service.get().auto_sync is False
    disabled = [e for e in events_of(system, provider.id) if e.code == SYNC_DISABLED]
    assert len(disabled) == 1 and "Auto-sync of provider" in disabled[0].description
    assert "authentication failed" in disabled[0].description

    answer = sync(rest, provider.id)  # on demand it still runs (and fails), auto_sync stays off
    assert answer.status_code == 400 and "authentication failed" in answer.text
    assert any(e.code == SYNC_FAILED for e in events_of(system, provider.id))


def test_down_unmanaged_read_only_and_unknown_providers(
    system: System, rest: httpx.Client, add_provider: Callable[..., Any], own_provider: ProviderProcess,
    make_net: Callable[..., Any], unique: Names,
) -> None:  # fmt: skip
    down = add_provider(url=f"http://127.0.0.1:{free_port()}", requires_authentication=False)
    answer = sync(rest, down.id)
    assert answer.status_code == 400 and "unreachable" in answer.text and down.name in answer.text
    assert any(e.code == SYNC_FAILED and e.severity == t.LogSeverity.ERROR for e in events_of(system, down.id))

    unmanaged = add_provider(unmanaged=True, url=None, requires_authentication=False, username=None, password=None,
                             authentication_url=None)  # fmt: skip
    make_site(system, unique, unmanaged)
    synced(rest, unmanaged.id)  # nothing to do, and no error
    assert SYNCHRONIZED not in {e.code for e in events_of(system, unmanaged.id)}

    read_only = add_provider(**provider_fields(own_provider), read_only=True)
    site = make_site(system, unique, read_only)
    source = make_net(unique("ro"))
    synced(rest, read_only.id)  # reading is allowed
    assert find_network(system, source.name, site.dc.name) is not None

    answer = sync(rest, "3f1f0b6e-8a43-4a36-9ad5-6d4cfa7ea0a1")
    assert answer.status_code == 404 and "provider" in answer.text


# --- the periodic sync -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def periodic_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine that synchronizes providers with auto_sync every second."""
    env = {"EXTNET_PROVIDER_SYNC_INTERVAL": "1"}
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_engine(tmp_path_factory.mktemp("periodic"), url, env=env) as process,
    ):
        yield process
    assert "Application shutdown complete" in process.log()  # the sync thread was stopped cleanly
    assert process.process.returncode is not None


@pytest.fixture
def periodic(periodic_engine: EngineProcess, system_of: Callable[[EngineProcess], System]) -> System:
    return system_of(periodic_engine)


def eventually(check: Callable[[], Any], what: str, deadline_s: float = 30) -> Any:
    """Poll ``check`` until it returns something truthy (a periodic sync runs every second)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {deadline_s}s: {what}")


def test_periodic_sync_imports_and_stops_on_wrong_credentials(
    periodic: System, own_provider: ProviderProcess, make_net: Callable[..., Any], unique: Names
) -> None:
    providers = periodic.openstack_network_providers_service()
    own = provider_fields(own_provider)

    def register(**overrides: Any) -> t.OpenStackNetworkProvider:
        fields: dict[str, Any] = {
            "name": unique("pp"), "type": t.OpenStackNetworkProviderType.EXTERNAL, "requires_authentication": True,
            **own, "user_domain_name": "Default", "project_domain_name": "Default", "auto_sync": True,
        }  # fmt: skip
        return providers.add(t.OpenStackNetworkProvider(**{**fields, **overrides}))

    control, failing = register(), register(password="wrong-password")
    watched, refused = make_site(periodic, unique, control), make_site(periodic, unique, failing)

    first = make_net(unique("tick"))
    eventually(lambda: find_network(periodic, first.name, watched.dc.name), "the periodic sync imports a network")
    eventually(lambda: first.name in cluster_networks(periodic, watched.naming[0]), "and attaches it")

    eventually(lambda: providers.provider_service(failing.id).get().auto_sync is False, "a 401 turns auto_sync off")
    disabled = [e for e in events_of(periodic, failing.id) if e.code == SYNC_DISABLED]
    assert len(disabled) == 1 and "authentication failed" in disabled[0].description
    assert find_network(periodic, first.name, refused.dc.name) is None

    # with the password fixed but auto_sync left off, the periodic sync leaves the provider alone
    providers.provider_service(failing.id).update(t.OpenStackNetworkProvider(password=own["password"]))
    later = make_net(unique("later"))
    for _ in range(2):  # two more rounds: the one that saw ``later`` has ended for every provider
        marker = make_net(unique("mark"))
        eventually(lambda m=marker: find_network(periodic, m.name, watched.dc.name), "another round")
    assert find_network(periodic, later.name, watched.dc.name) is not None
    assert find_network(periodic, later.name, refused.dc.name) is None
    assert len([e for e in events_of(periodic, failing.id) if e.code == SYNC_DISABLED]) == 1
    providers.provider_service(control.id).update(t.OpenStackNetworkProvider(auto_sync=False))
    for provider in (control, failing):
        providers.provider_service(provider.id).remove(query={"force": "true"})
