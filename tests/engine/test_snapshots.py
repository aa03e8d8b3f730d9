"""VM snapshots as far as the vNIC set goes: add/list/remove, preview, commit, undo and restore, checking the
VM's vNICs (ids, names, MACs, profiles, interface, plugged, linked) after each step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.servers import HostAgentProcess

Unique = Callable[[str], str]
NicState = tuple[str, str, str, str | None, str, bool, bool]


@dataclass
class Env:
    dc: t.DataCenter
    cluster: t.Cluster
    management: t.VnicProfile
    other: t.VnicProfile  # the profile of a second network attached to the cluster
    other_network: t.Network
    vm: t.Vm


@pytest.fixture
def env(system: sdk.services.SystemService, unique: Unique) -> Iterator[Env]:
    dc = system.data_centers_service().add(t.DataCenter(name=unique("sdc")))
    cluster = system.clusters_service().add(
        t.Cluster(name=unique("scl"), data_center=t.DataCenter(id=dc.id), cpu=t.Cpu(type="Intel Nehalem Family"))
    )
    management_network = system.data_centers_service().data_center_service(dc.id).networks_service().list()[0]
    management = system.networks_service().network_service(management_network.id).vnic_profiles_service().list()[0]
    network = system.networks_service().add(t.Network(name=unique("snet")[:15], data_center=t.DataCenter(id=dc.id)))
    system.clusters_service().cluster_service(cluster.id).networks_service().add(t.Network(id=network.id))
    other = system.networks_service().network_service(network.id).vnic_profiles_service().list()[0]
    vm = system.vms_service().add(t.Vm(name=unique("svm"), cluster=t.Cluster(id=cluster.id)))
    yield Env(dc, cluster, management, other, network, vm)
    system.data_centers_service().data_center_service(dc.id).remove(force=True)


def vm_service(system: sdk.services.SystemService, env: Env) -> sdk.services.VmService:
    return system.vms_service().vm_service(env.vm.id)


def state(nics: list[t.Nic]) -> list[NicState]:
    return sorted(
        (n.id, n.name, n.mac.address, n.vnic_profile.id if n.vnic_profile else None, str(n.interface), n.plugged,
         n.linked)
        for n in nics
    )  # fmt: skip


def current(system: sdk.services.SystemService, env: Env) -> list[NicState]:
    return state(vm_service(system, env).nics_service().list())


def by_type(system: sdk.services.SystemService, env: Env) -> dict[str, list[t.Snapshot]]:
    found: dict[str, list[t.Snapshot]] = {}
    for snapshot in vm_service(system, env).snapshots_service().list():
        found.setdefault(str(snapshot.snapshot_type), []).append(snapshot)
    return found


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def make_set_a(system: sdk.services.SystemService, env: Env) -> list[NicState]:
    nics = vm_service(system, env).nics_service()
    nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=env.management.id)))
    nics.add(t.Nic(name="nic2", interface=t.NicInterface.E1000, mac=t.Mac(address="02:5a:00:00:00:02"), plugged=False,
                   linked=False))  # fmt: skip
    return current(system, env)


def make_set_b(system: sdk.services.SystemService, env: Env) -> list[NicState]:
    """From set A: nic2 removed, nic1 renamed onto the other network, nic3 added."""
    nics = vm_service(system, env).nics_service()
    by_name = {nic.name: nic for nic in nics.list()}
    nics.nic_service(by_name["nic2"].id).remove()
    nics.nic_service(by_name["nic1"].id).update(t.Nic(name="eth0", vnic_profile=t.VnicProfile(id=env.other.id)))
    nics.add(t.Nic(name="nic3", interface=t.NicInterface.RTL8139))
    return current(system, env)


def test_new_vm_has_the_active_snapshot(system: sdk.services.SystemService, env: Env) -> None:
    snapshots = vm_service(system, env).snapshots_service().list()
    assert [(s.description, s.snapshot_type, s.snapshot_status) for s in snapshots] == [
        ("Active VM", t.SnapshotType.ACTIVE, t.SnapshotStatus.OK),
    ]  # fmt: skip
    assert snapshots[0].vm.id == env.vm.id and snapshots[0].date is not None


def test_preview_undo_commit_restore(system: sdk.services.SystemService, env: Env) -> None:
    service = vm_service(system, env)
    snapshots = service.snapshots_service()
    set_a = make_set_a(system, env)
    assert len(set_a) == 2
    s1 = snapshots.add(t.Snapshot(description="set A"))
    assert (s1.snapshot_type, s1.snapshot_status, s1.description) == (t.SnapshotType.REGULAR, t.SnapshotStatus.OK,
                                                                      "set A")  # fmt: skip
    assert state(snapshots.snapshot_service(s1.id).nics_service().list()) == set_a
    set_b = make_set_b(system, env)
    assert set_b != set_a and len(set_b) == 2
    s2 = snapshots.add(t.Snapshot(description="set B"))
    active = by_type(system, env)["active"][0]
    assert state(snapshots.snapshot_service(active.id).nics_service().list()) == set_b

    service.preview_snapshot(snapshot=t.Snapshot(id=s1.id))
    assert current(system, env) == set_a
    kinds = by_type(system, env)
    assert [s.description for s in kinds["preview"]] == ["Active VM before the preview"]
    assert state(snapshots.snapshot_service(kinds["preview"][0].id).nics_service().list()) == set_b
    assert snapshots.snapshot_service(s1.id).get().snapshot_status == t.SnapshotStatus.IN_PREVIEW

    service.undo_snapshot()
    assert current(system, env) == set_b
    assert "preview" not in by_type(system, env)
    assert snapshots.snapshot_service(s1.id).get().snapshot_status == t.SnapshotStatus.OK

    service.preview_snapshot(snapshot=t.Snapshot(id=s1.id))
    assert current(system, env) == set_a
    service.commit_snapshot()
    assert current(system, env) == set_a
    kinds = by_type(system, env)
    assert "preview" not in kinds and {s.id for s in kinds["regular"]} == {s1.id, s2.id}
    assert all(s.snapshot_status == t.SnapshotStatus.OK for s in kinds["regular"])

    snapshots.snapshot_service(s2.id).restore()
    assert current(system, env) == set_b
    assert "preview" not in by_type(system, env)
    snapshots.snapshot_service(s1.id).restore()
    assert current(system, env) == set_a


def test_rules(
    system: sdk.services.SystemService, unique: Unique, env: Env, host_agent: Callable[..., HostAgentProcess]
) -> None:
    service = vm_service(system, env)
    snapshots = service.snapshots_service()
    make_set_a(system, env)
    s1 = snapshots.add(t.Snapshot(description="one"))
    active = by_type(system, env)["active"][0]

    err = fault(lambda: snapshots.add(t.Snapshot()))
    assert err.code == 400 and "Cannot create Snapshot." in str(err) and "needs a description" in str(err)
    err = fault(snapshots.snapshot_service(active.id).remove)
    assert err.code == 409 and "The active snapshot of VM" in str(err)
    err = fault(service.commit_snapshot)
    assert err.code == 409 and "Cannot commit Snapshot." in str(err) and "is not previewing a snapshot" in str(err)
    err = fault(service.undo_snapshot)
    assert err.code == 409 and "Cannot undo Snapshot." in str(err)
    err = fault(lambda: service.preview_snapshot(snapshot=t.Snapshot(id=active.id)))
    assert err.code == 409 and "is the VM's current state" in str(err)
    err = fault(lambda: service.preview_snapshot())
    assert err.code == 400 and "Say which snapshot" in str(err)
    with pytest.raises(sdk.NotFoundError):
        service.preview_snapshot(snapshot=t.Snapshot(id="6c6d3e2a-0000-4000-8000-0000000000bb"))

    agent = host_agent()
    system.hosts_service().add(t.Host(name=unique("host"), address=agent.address, port=agent.port,
                                      root_password=agent.password, cluster=t.Cluster(id=env.cluster.id)))  # fmt: skip
    service.start()
    err = fault(lambda: service.preview_snapshot(snapshot=t.Snapshot(id=s1.id)))
    assert err.code == 409 and "Cannot preview Snapshot." in str(err) and "it must be down" in str(err)
    err = fault(snapshots.snapshot_service(s1.id).restore)
    assert err.code == 409 and "Cannot revert to Snapshot." in str(err) and "it must be down" in str(err)
    live = snapshots.add(t.Snapshot(description="while running", persist_memorystate=True))
    assert live.persist_memorystate is True
    service.stop()

    service.preview_snapshot(snapshot=t.Snapshot(id=s1.id))
    previewing = "is previewing snapshot 'one'"
    for call in (
        lambda: snapshots.add(t.Snapshot(description="two")),
        snapshots.snapshot_service(live.id).remove,
        lambda: service.preview_snapshot(snapshot=t.Snapshot(id=live.id)),
        snapshots.snapshot_service(live.id).restore,
        service.remove,
    ):
        err = fault(call)
        assert err.code == 409 and previewing in str(err), str(err)
    preview = by_type(system, env)["preview"][0]
    err = fault(lambda: snapshots.snapshot_service(preview.id).restore())
    assert err.code == 409 and "pre-preview state" in str(err)
    service.undo_snapshot()
    snapshots.snapshot_service(live.id).remove()
    assert {s.id for s in snapshots.list()} == {active.id, s1.id}


def test_restore_gives_a_new_mac_when_another_vm_took_it(
    system: sdk.services.SystemService, unique: Unique, env: Env
) -> None:
    service = vm_service(system, env)
    nics = service.nics_service()
    nic = nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=env.other.id), interface=t.NicInterface.E1000))
    snapshot = service.snapshots_service().add(t.Snapshot(description="before"))
    nics.nic_service(nic.id).remove()
    thief = system.vms_service().add(t.Vm(name=unique("thief"), cluster=t.Cluster(id=env.cluster.id)))
    system.vms_service().vm_service(thief.id).nics_service().add(t.Nic(name="n", mac=t.Mac(address=nic.mac.address)))

    service.snapshots_service().snapshot_service(snapshot.id).restore()
    [restored] = nics.list()
    assert (restored.id, restored.name, restored.vnic_profile.id, restored.interface) == (
        nic.id, "nic1", env.other.id, t.NicInterface.E1000,
    )  # fmt: skip
    assert restored.mac.address != nic.mac.address


def test_restore_drops_a_profile_the_cluster_lost(system: sdk.services.SystemService, env: Env) -> None:
    service = vm_service(system, env)
    nics = service.nics_service()
    nic = nics.add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=env.other.id)))
    snapshot = service.snapshots_service().add(t.Snapshot(description="on the other network"))
    nics.nic_service(nic.id).update(t.Nic(vnic_profile=t.VnicProfile()))
    cluster_networks = system.clusters_service().cluster_service(env.cluster.id).networks_service()
    cluster_networks.network_service(env.other_network.id).remove()

    service.snapshots_service().snapshot_service(snapshot.id).restore()
    [restored] = nics.list()
    assert restored.id == nic.id and restored.mac.address == nic.mac.address and restored.vnic_profile is None


def test_json_flow(rest: httpx.Client, env: Env) -> None:
    nic = rest.post(f"vms/{env.vm.id}/nics", json={"name": "j1"}).json()
    created = rest.post(f"vms/{env.vm.id}/snapshots", json={"description": "json"})
    assert created.status_code == 201, created.text
    snapshot = created.json()
    assert snapshot["snapshot_type"] == "regular" and snapshot["vm"]["id"] == env.vm.id
    assert rest.delete(f"vms/{env.vm.id}/nics/{nic['id']}").status_code == 200
    restored = rest.post(f"vms/{env.vm.id}/snapshots/{snapshot['id']}/restore", json={})
    assert restored.status_code == 200 and restored.json()["status"] == "complete"
    assert [n["mac"]["address"] for n in rest.get(f"vms/{env.vm.id}/nics").json()["nic"]] == [nic["mac"]["address"]]
    listed = rest.get(f"vms/{env.vm.id}/snapshots").json()["snapshot"]
    assert [s["snapshot_type"] for s in listed] == ["active", "regular"]
    assert rest.delete(f"vms/{env.vm.id}/snapshots/{snapshot['id']}").status_code == 200
    assert rest.get(f"vms/{env.vm.id}/snapshots/{snapshot['id']}").status_code == 404
