"""VM vNICs through the real ovirtsdk4 (XML) and through JSON: CRUD, MAC allocation and rules, profiles,
plugging, and concurrent adds that must never share a MAC."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from sqlalchemy import update

from extnet.engine.store.db import Database
from extnet.engine.store.models import Network
from tests.servers import EngineProcess, HostAgentProcess

Unique = Callable[[str], str]
POOL_START = "0a:{:02x}:00:00:00:00"


@dataclass
class Env:
    """A data center of its own with a cluster that takes MACs from a small pool, and a VM there."""

    dc: t.DataCenter
    cluster: t.Cluster
    pool: t.MacPool
    management: t.VnicProfile  # the ovirtmgmt profile of the data center, usable in the cluster
    vm: t.Vm
    first_mac: str


_pools = iter(range(1, 256))


@pytest.fixture
def env(system: sdk.services.SystemService, unique: Unique) -> Iterator[Env]:
    start = POOL_START.format(next(_pools))
    end = start[:-2] + "0f"  # 16 addresses
    pool = system.mac_pools_service().add(t.MacPool(name=unique("npool"), ranges=[t.Range(from_=start, to=end)]))
    dc = system.data_centers_service().add(t.DataCenter(name=unique("ndc")))
    cluster = system.clusters_service().add(
        t.Cluster(name=unique("ncl"), data_center=t.DataCenter(id=dc.id), cpu=t.Cpu(type="Intel Nehalem Family"),
                  mac_pool=t.MacPool(id=pool.id))
    )  # fmt: skip
    network = system.data_centers_service().data_center_service(dc.id).networks_service().list()[0]
    management = system.networks_service().network_service(network.id).vnic_profiles_service().list()[0]
    vm = system.vms_service().add(t.Vm(name=unique("nvm"), cluster=t.Cluster(id=cluster.id)))
    yield Env(dc, cluster, pool, management, vm, start)
    system.data_centers_service().data_center_service(dc.id).remove(force=True)
    system.mac_pools_service().mac_pool_service(pool.id).remove()


def nics_of(system: sdk.services.SystemService, vm: t.Vm) -> sdk.services.VmNicsService:
    return system.vms_service().vm_service(vm.id).nics_service()


def mac_at(env: Env, offset: int) -> str:
    return env.first_mac[:-2] + f"{offset:02x}"


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def add_network(system: sdk.services.SystemService, env: Env, unique: Unique, attach: bool) -> t.VnicProfile:
    """A VM network of the environment's data center; returns its own vNIC profile."""
    network = system.networks_service().add(t.Network(name=unique("net")[:15], data_center=t.DataCenter(id=env.dc.id)))
    if attach:
        cluster_networks = system.clusters_service().cluster_service(env.cluster.id).networks_service()
        cluster_networks.add(t.Network(id=network.id, required=False))
    return system.networks_service().network_service(network.id).vnic_profiles_service().list()[0]


def test_add_with_defaults(connection: sdk.Connection, system: sdk.services.SystemService, env: Env) -> None:
    nics = nics_of(system, env.vm)
    nic = nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=env.management.id)))
    assert nic.mac.address == env.first_mac  # the first address of the cluster's pool
    assert nic.interface == t.NicInterface.VIRTIO and nic.plugged is True and nic.linked is True
    assert nic.vm.id == env.vm.id and nic.vnic_profile.id == env.management.id
    assert nic.href == f"/ovirt-engine/api/vms/{env.vm.id}/nics/{nic.id}"
    assert connection.follow_link(nic.vnic_profile).name == "ovirtmgmt"
    vm = system.vms_service().vm_service(env.vm.id).get()
    assert [n.id for n in connection.follow_link(vm.nics)] == [nic.id]
    assert connection.follow_link(nic.network_filter_parameters) == []
    assert connection.follow_link(nic.statistics) == []
    assert connection.follow_link(nic.reported_devices) == []
    second = nics.add(t.Nic(name="nic2"))  # no profile: an empty vNIC
    assert second.vnic_profile is None and second.mac.address == mac_at(env, 1)
    assert sorted(n.name for n in nics.list()) == ["nic1", "nic2"]
    assert nics.nic_service(nic.id).get().mac.address == env.first_mac


def test_network_filter_parameters_xml(engine: EngineProcess, token: str, system: sdk.services.SystemService,
                                       env: Env) -> None:  # fmt: skip
    nic = nics_of(system, env.vm).add(t.Nic(name="nic1"))
    response = httpx.get(f"{engine.url}/vms/{env.vm.id}/nics/{nic.id}/networkfilterparameters",
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/xml"})  # fmt: skip
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "network_filter_parameters" and list(root) == []


def test_other_default_pool_and_explicit_mac(system: sdk.services.SystemService, unique: Unique, env: Env) -> None:
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(name="Default")))
    nics = nics_of(system, vm)
    allocated = nics.add(t.Nic(name="nic1"))
    assert allocated.mac.address.startswith("56:6f:00:")  # the Default cluster uses the default pool
    explicit = nics.add(t.Nic(name="nic2", interface=t.NicInterface.E1000, mac=t.Mac(address="02:AB:CD:00:00:01")))
    assert explicit.mac.address == "02:ab:cd:00:00:01" and explicit.interface == t.NicInterface.E1000
    err = fault(lambda: nics_of(system, env.vm).add(t.Nic(name="nic9", mac=t.Mac(address="02:ab:cd:00:00:01"))))
    assert err.code == 409 and "Cannot add Interface." in str(err)
    assert f"MAC address 02:ab:cd:00:00:01 is already in use by vNIC 'nic2' of VM '{vm.name}'" in str(err)
    system.vms_service().vm_service(vm.id).remove()


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("02:ab:cd:00:00", "is not valid"),
        ("02-ab-cd-00-00-01", "is not valid"),
        ("00:00:00:00:00:00", "all zeros"),
        ("03:00:00:00:00:01", "is a multicast address"),
    ],
)
def test_invalid_mac(system: sdk.services.SystemService, env: Env, address: str, fragment: str) -> None:
    err = fault(lambda: nics_of(system, env.vm).add(t.Nic(name="nic1", mac=t.Mac(address=address))))
    assert err.code == 400 and fragment in str(err) and address in str(err), str(err)


def test_name_rules(system: sdk.services.SystemService, env: Env) -> None:
    nics = nics_of(system, env.vm)
    first = nics.add(t.Nic(name="nic1"))
    err = fault(lambda: nics.add(t.Nic(name="nic1")))
    assert err.code == 409 and f"vNIC name 'nic1' is already used by VM '{env.vm.name}'" in str(err)
    second = nics.add(t.Nic(name="nic2"))
    err = fault(lambda: nics.nic_service(second.id).update(t.Nic(name="nic1")))
    assert err.code == 409 and "Cannot edit Interface." in str(err) and "is already used by VM" in str(err)
    err = fault(lambda: nics.add(t.Nic(interface=t.NicInterface.VIRTIO)))
    assert err.code == 400 and "The vNIC name is required" in str(err)
    assert nics.nic_service(first.id).update(t.Nic(name="eth0")).name == "eth0"


def test_profile_rules(system: sdk.services.SystemService, unique: Unique, env: Env, store: Database) -> None:
    nics = nics_of(system, env.vm)
    detached = add_network(system, env, unique, attach=False)
    err = fault(lambda: nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=detached.id))))
    assert (
        err.code == 409
        and f"of vNIC profile '{detached.name}' is not attached to cluster '{env.cluster.name}'" in str(err)
    )

    other_dc = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    other_network = system.data_centers_service().data_center_service(other_dc.id).networks_service().list()[0]
    foreign = system.networks_service().network_service(other_network.id).vnic_profiles_service().list()[0]
    err = fault(lambda: nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=foreign.id))))
    assert err.code == 409 and "belongs to network 'ovirtmgmt' of another data center than VM" in str(err)
    system.data_centers_service().data_center_service(other_dc.id).remove(force=True)

    err = fault(
        lambda: nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id="6c6d3e2a-0000-4000-8000-0000000000aa")))
    )
    assert err.code == 400 and "The vNIC profile with id '6c6d3e2a-0000-4000-8000-0000000000aa' does not exist" in str(
        err
    )

    attached = add_network(system, env, unique, attach=True)
    nic = nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=attached.id)))
    assert nic.vnic_profile.id == attached.id
    service = nics.nic_service(nic.id)
    assert service.update(t.Nic(vnic_profile=t.VnicProfile())).vnic_profile is None  # emptied
    assert service.update(t.Nic(vnic_profile=t.VnicProfile(id=env.management.id))).vnic_profile.id == env.management.id

    with store.transaction() as session:  # a state the API cannot reach: a profile on a non-VM network
        network_id = system.vnic_profiles_service().profile_service(attached.id).get().network.id
        session.execute(update(Network).where(Network.id == network_id).values(vm_network=False))
    err = fault(lambda: service.update(t.Nic(vnic_profile=t.VnicProfile(id=attached.id))))
    assert err.code == 409 and "is not a VM network" in str(err)


def test_profile_by_name_is_looked_up_in_the_vms_data_center(system: sdk.services.SystemService, env: Env) -> None:
    # every data center has an ovirtmgmt profile; the VM's own one is meant
    nic = nics_of(system, env.vm).add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(name="ovirtmgmt")))
    assert nic.vnic_profile.id == env.management.id
    err = fault(lambda: nics_of(system, env.vm).add(t.Nic(name="nic2", vnic_profile=t.VnicProfile(name="nope"))))
    assert err.code == 400 and "The vNIC profile named 'nope' does not exist" in str(err)


def test_network_field_is_refused(system: sdk.services.SystemService, env: Env) -> None:
    err = fault(lambda: nics_of(system, env.vm).add(t.Nic(name="nic1", network=t.Network(name="ovirtmgmt"))))
    assert err.code == 400 and "A vNIC is connected through its vnic_profile" in str(err)


def test_update_and_plugging(system: sdk.services.SystemService, env: Env) -> None:
    nics = nics_of(system, env.vm)
    nic = nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=env.management.id)))
    service = nics.nic_service(nic.id)
    updated = service.update(t.Nic(interface=t.NicInterface.E1000, linked=False, mac=t.Mac(address=mac_at(env, 9)),
                                   description="d"))  # fmt: skip
    assert (updated.interface, updated.linked, updated.mac.address, updated.description) == (
        t.NicInterface.E1000, False, mac_at(env, 9), "d",
    )  # fmt: skip
    service.deactivate()
    assert service.get().plugged is False
    service.deactivate()  # idempotent
    service.activate()
    assert service.get().plugged is True


def test_running_vm_rules(
    system: sdk.services.SystemService, unique: Unique, env: Env, host_agent: Callable[..., HostAgentProcess]
) -> None:
    agent = host_agent()
    system.hosts_service().add(t.Host(name=unique("host"), address=agent.address, port=agent.port,
                                      root_password=agent.password, cluster=t.Cluster(id=env.cluster.id)))  # fmt: skip
    nics = nics_of(system, env.vm)
    nic = nics.add(t.Nic(name="nic1"))
    vm_service = system.vms_service().vm_service(env.vm.id)
    vm_service.start()
    service = nics.nic_service(nic.id)
    err = fault(lambda: service.update(t.Nic(mac=t.Mac(address=mac_at(env, 9)))))
    assert err.code == 409 and "unplug it to change its MAC address" in str(err)
    err = fault(lambda: service.update(t.Nic(interface=t.NicInterface.E1000)))
    assert err.code == 409 and "unplug it to change its interface type" in str(err)
    err = fault(service.remove)
    assert err.code == 409 and "Cannot remove Interface." in str(err) and "deactivate it before removing it" in str(err)
    assert service.update(t.Nic(linked=False)).linked is False  # other changes are fine on a running VM
    hot = nics.add(t.Nic(name="nic2"))  # hot plug
    assert hot.plugged is True
    service.deactivate()
    assert service.update(t.Nic(mac=t.Mac(address=mac_at(env, 9)))).mac.address == mac_at(env, 9)
    service.remove()
    vm_service.stop()


def test_pool_exhaustion_reuse_and_snapshot_reservation(system: sdk.services.SystemService, env: Env) -> None:
    nics = nics_of(system, env.vm)
    made = [nics.add(t.Nic(name=f"nic{i}")) for i in range(16)]
    assert sorted(n.mac.address for n in made) == [mac_at(env, i) for i in range(16)]
    err = fault(lambda: nics.add(t.Nic(name="nic99")))
    assert err.code == 409 and f"MAC pool '{env.pool.name}' has no free MAC address left" in str(err)

    nics.nic_service(made[3].id).remove()  # a removed vNIC's address is free again
    assert nics.add(t.Nic(name="again")).mac.address == mac_at(env, 3)

    snapshots = system.vms_service().vm_service(env.vm.id).snapshots_service()
    snapshot = snapshots.add(t.Snapshot(description="keeps the MACs"))
    nics.nic_service(made[5].id).remove()
    err = fault(lambda: nics.add(t.Nic(name="nic99")))  # the snapshot still remembers made[5]'s address
    assert err.code == 409 and "has no free MAC address left" in str(err)
    snapshots.snapshot_service(snapshot.id).remove()
    assert nics.add(t.Nic(name="nic99")).mac.address == mac_at(env, 5)


def _concurrently(count: int, work: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(count)
    results: list[httpx.Response | None] = [None] * count

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(r is not None for r in results), "a request did not finish"
    return [r for r in results if r is not None]


def test_concurrent_adds_on_one_vm_never_share_a_mac(engine: EngineProcess, token: str, env: Env) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}

    def add(i: int) -> httpx.Response:
        with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
            return client.post(f"vms/{env.vm.id}/nics", json={"name": f"c{i}"})

    responses = _concurrently(10, add)
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses if r.status_code != 201]
    addresses = [r.json()["mac"]["address"] for r in responses]
    assert sorted(addresses) == [mac_at(env, i) for i in range(10)]


def test_concurrent_adds_on_many_vms_never_share_a_mac(
    engine: EngineProcess, token: str, system: sdk.services.SystemService, unique: Unique, env: Env
) -> None:
    """vNICs of different VMs are added in parallel transactions that race for the same free address."""
    vms = [system.vms_service().add(t.Vm(name=unique("cvm"), cluster=t.Cluster(id=env.cluster.id))) for _ in range(8)]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}

    def add(i: int) -> httpx.Response:
        with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
            return client.post(f"vms/{vms[i].id}/nics", json={"name": "nic1"})

    responses = _concurrently(len(vms), add)
    assert [r.status_code for r in responses] == [201] * len(vms), [r.text for r in responses if r.status_code != 201]
    assert sorted(r.json()["mac"]["address"] for r in responses) == [mac_at(env, i) for i in range(len(vms))]


def test_concurrent_explicit_mac_goes_to_one(
    engine: EngineProcess, token: str, system: sdk.services.SystemService, unique: Unique, env: Env
) -> None:
    vms = [system.vms_service().add(t.Vm(name=unique("xvm"), cluster=t.Cluster(id=env.cluster.id))) for _ in range(6)]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}

    def add(i: int) -> httpx.Response:
        with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
            return client.post(f"vms/{vms[i].id}/nics", json={"name": "nic1", "mac": {"address": "02:00:00:aa:bb:cc"}})

    responses = _concurrently(len(vms), add)
    assert sorted(r.status_code for r in responses) == [201] + [409] * (len(vms) - 1)
    assert all("02:00:00:aa:bb:cc" in r.json()["detail"] for r in responses if r.status_code == 409)


def test_unknown_nic(system: sdk.services.SystemService, unique: Unique, env: Env) -> None:
    nic = nics_of(system, env.vm).add(t.Nic(name="nic1"))
    other = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=env.cluster.id)))
    with pytest.raises(sdk.NotFoundError) as err:
        nics_of(system, other).nic_service(nic.id).get()  # a vNIC of another VM
    assert f"of VM '{other.name}'" in str(err.value)


def test_json_flow(rest: httpx.Client, env: Env) -> None:
    created = rest.post(f"vms/{env.vm.id}/nics", json={"name": "j1", "interface": "e1000",
                                                       "vnic_profile": {"id": env.management.id}})  # fmt: skip
    assert created.status_code == 201, created.text
    nic = created.json()
    assert nic["mac"]["address"] == env.first_mac and nic["interface"] == "e1000" and nic["plugged"] == "true"
    assert {link["rel"] for link in nic["link"]} == {"networkfilterparameters", "reporteddevices", "statistics",
                                                     "openstackports"}
    filters = rest.get(f"vms/{env.vm.id}/nics/{nic['id']}/networkfilterparameters")
    assert filters.status_code == 200 and filters.json() == {"network_filter_parameter": []}
    assert rest.post(f"vms/{env.vm.id}/nics/{nic['id']}/deactivate", json={}).json()["status"] == "complete"
    assert rest.get(f"vms/{env.vm.id}/nics/{nic['id']}").json()["plugged"] == "false"
    emptied = rest.put(f"vms/{env.vm.id}/nics/{nic['id']}", json={"vnic_profile": {}})
    assert emptied.status_code == 200 and "vnic_profile" not in emptied.json()
    assert rest.delete(f"vms/{env.vm.id}/nics/{nic['id']}").status_code == 200
    assert rest.get(f"vms/{env.vm.id}/nics").json() == {"nic": []}
