"""Ports of a running VM: hot-plug (adding a plugged vNIC, ``activate``, ``plugged=true``) makes the port and plugs
it; hot-unplug unplugs it on the host and keeps the port; rewiring a plugged vNIC to another network makes a new
port, replugs the vNIC and removes the old port; snapshot preview, undo and restore remove the ports of the vNICs
they change."""

from __future__ import annotations

import ovirtsdk4.types as t
import pytest

from tests.e2e.conftest import World, fault
from tests.e2e.helpers import plugged_ports
from tests.polling import until

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


def test_hot_plug_and_unplug(world: World) -> None:
    host = world.host()
    agent = world.agents[host.id]
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    service.start()
    nics = service.nics_service()

    added = world.add_nic(vm.id, "nic2", "b")  # a plugged vNIC added to a running VM: hot-plugged
    port = world.port(added.id)
    assert port.network_id == world.networks["b"].id and port.status == "ACTIVE"
    assert plugged_ports(agent, vm.id)[added.id] == port.id and nics.nic_service(added.id).get().plugged is True

    nics.nic_service(added.id).deactivate()  # hot-unplug: off the host, the port stays
    assert added.id not in plugged_ports(agent, vm.id) and world.port(added.id).id == port.id
    assert nics.nic_service(added.id).get().plugged is False
    nics.nic_service(added.id).activate()
    assert plugged_ports(agent, vm.id)[added.id] == port.id and world.port(added.id).id == port.id

    nics.nic_service(added.id).update(t.Nic(plugged=False))  # the same through plugged=false / true
    assert added.id not in plugged_ports(agent, vm.id)
    nics.nic_service(added.id).update(t.Nic(plugged=True))
    assert plugged_ports(agent, vm.id)[added.id] == port.id

    spare = world.add_nic(vm.id, "nic3", "a", plugged=False)  # added unplugged: no port until it is plugged
    assert world.ports(spare.id) == [] and spare.id not in plugged_ports(agent, vm.id)
    nics.nic_service(spare.id).activate()
    assert plugged_ports(agent, vm.id)[spare.id] == world.port(spare.id).id

    service.stop()
    world.assert_consistent()


def test_rewiring_a_plugged_vnic_of_a_running_vm(world: World) -> None:
    host = world.host()
    agent = world.agents[host.id]
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    service.start()
    nic = world.nics(vm.id)["nic1"]
    old = world.port(nic.id)
    nic_service = service.nics_service().nic_service(nic.id)

    nic_service.update(t.Nic(vnic_profile=t.VnicProfile(id=world.profiles["b"].id)))
    [new] = until(lambda: [p for p in world.ports(nic.id) if p.id != old.id] if len(world.ports(nic.id)) == 1 else [],
                  "only the new port left")  # fmt: skip
    assert new.network_id == world.networks["b"].id and new.status == "ACTIVE"
    assert plugged_ports(agent, vm.id) == {nic.id: new.id}  # replugged on the host with the new port
    assert world.neutron.network.find_port(old.id) is None

    nic_service.update(t.Nic(vnic_profile=t.VnicProfile(id=world.profiles["mgmt"].id)))  # off the external networks
    until(lambda: world.ports(nic.id) == [], "the port gone once the vNIC left the external networks")
    assert plugged_ports(agent, vm.id) == {}
    nic_service.update(t.Nic(vnic_profile=t.VnicProfile(id=world.profiles["a"].id)))  # and back onto one
    assert plugged_ports(agent, vm.id) == {nic.id: world.port(nic.id).id}
    assert world.port(nic.id).network_id == world.networks["a"].id
    service.stop()
    world.assert_consistent()


def test_snapshot_preview_undo_and_restore_remove_the_ports_of_the_vnics_they_change(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"), ("nic2", "a"))
    service = world.vm_service(vm.id)
    service.start()
    service.stop()
    nics = world.nics(vm.id)
    kept = world.port(nics["nic1"].id)
    snapshots = service.snapshots_service()
    snapshot = snapshots.add(t.Snapshot(description="two vNICs on a"))
    until(lambda: snapshots.snapshot_service(snapshot.id).get().snapshot_status == t.SnapshotStatus.OK, "snapshot ok")

    # after the snapshot: nic2 moves to b (a new port at the next start), nic3 is added
    service.nics_service().nic_service(nics["nic2"].id).update(
        t.Nic(vnic_profile=t.VnicProfile(id=world.profiles["b"].id))
    )
    world.add_nic(vm.id, "nic3", "b")
    service.start()
    service.stop()
    nic3 = world.nics(vm.id)["nic3"]
    # nic2's port on a leaves through the outbox, asynchronously (docs/port-lifecycle.md): it may outlast the start
    until(lambda: len(world.ports(nics["nic2"].id)) == 1, "nic2's port on a gone, its new port left")
    on_b = world.port(nics["nic2"].id)
    assert on_b.network_id == world.networks["b"].id and len(world.ports(nic3.id)) == 1

    service.preview_snapshot(snapshot=t.Snapshot(id=snapshot.id))  # back to nic1, nic2 on a: nic2 and nic3 change
    until(lambda: world.ports(nics["nic2"].id) == [] and world.ports(nic3.id) == [], "the changed vNICs' ports gone")
    assert world.port(nics["nic1"].id).id == kept.id  # unchanged vNIC: its port stays
    service.undo_snapshot()  # nic2 on b and nic3 again, without ports until the next start
    assert set(world.nics(vm.id)) == {"nic1", "nic2", "nic3"} and world.ports(nic3.id) == []
    service.start()
    assert len(world.ports(nic3.id)) == 1 and world.port(nics["nic2"].id).network_id == world.networks["b"].id
    service.stop()

    snapshots.snapshot_service(snapshot.id).restore()  # restore: preview and commit in one
    until(lambda: world.ports(nic3.id) == [] and world.ports(nics["nic2"].id) == [], "restore removed their ports")
    assert set(world.nics(vm.id)) == {"nic1", "nic2"} and world.port(nics["nic1"].id).id == kept.id
    world.settle()


def test_a_hot_plug_the_host_refuses_adds_nothing(world: World) -> None:
    host = world.host(env={"EXTNET_HOST_BRIDGES": "br-other"})  # the provider binds to br-int: the host lacks it
    vm = world.vm(("mgmt", "mgmt"))  # no external vNIC: it starts there
    service = world.vm_service(vm.id)
    service.start()
    err = fault(lambda: world.add_nic(vm.id, "nic2", "a"))
    assert err.code == 400 and "Cannot add Interface." in str(err) and "VM.hotplugNic failed" in str(err)
    assert "vNIC 'nic2'" in str(err) and "bridge br-int" in str(err)
    assert set(world.nics(vm.id)) == {"mgmt"}  # not added
    assert [p for p in world.network_ports() if p.name == "nic2"] == []  # its port removed again
    spare = world.add_nic(vm.id, "nic3", "a", plugged=False)
    err = fault(lambda: service.nics_service().nic_service(spare.id).activate())
    assert err.code == 400 and "Cannot activate Interface." in str(err)
    assert service.nics_service().nic_service(spare.id).get().plugged is False and world.ports(spare.id) == []
    assert plugged_ports(world.agents[host.id], vm.id) == {}
    assert [e for e in world.events(1013) if vm.name in e["description"]]
    service.stop()
    world.assert_consistent()
