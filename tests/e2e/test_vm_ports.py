"""The ports of vNICs through a VM's life: start makes them (and plugs them on the host), stop keeps them, removing a
vNIC or the VM deletes them, moving a vNIC to another network replaces them. Engine, provider and host agent are
separate processes; the engine is driven with ovirtsdk4, the provider checked with openstacksdk."""

from __future__ import annotations

import ovirtsdk4.types as t
import pytest

from tests.e2e.conftest import World, fault
from tests.e2e.helpers import host_vms, plugged_ports
from tests.polling import until

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


def test_start_makes_the_ports_and_plugs_them_stop_keeps_them(world: World) -> None:
    host = world.host()
    vm = world.vm(("nic1", "a"), ("nic2", "b"), ("mgmt", "mgmt"), ("spare", "a", False))
    nics = world.nics(vm.id)
    service = world.vm_service(vm.id)
    service.start()
    got = service.get()
    assert got.status == t.VmStatus.UP and got.host.id == host.id

    binding = world.binding(host.id)
    for nic_name, key in (("nic1", "a"), ("nic2", "b")):
        nic = nics[nic_name]
        port = world.port(nic.id)
        assert (port.device_owner, port.name, port.mac_address) == ("oVirt", nic_name, nic.mac.address)
        assert port.network_id == world.networks[key].id and port.binding_host_id == binding
        assert port.binding_vif_type == "ovs" and port.status == "ACTIVE"  # the host's heartbeat reported it plugged
        assert port.description == world.marker() and len(port.security_group_ids) == 1  # the default group
    assert world.ports(nics["mgmt"].id) == [] and world.ports(nics["spare"].id) == []  # not external / unplugged

    plugged = plugged_ports(world.agents[host.id], vm.id)
    first = {nic: world.port(nics[nic].id).id for nic in ("nic1", "nic2")}
    assert plugged == {nics[nic].id: first[nic] for nic in ("nic1", "nic2")}
    assert [e for e in world.events(32) if vm.name in e["description"]]

    service.stop()
    assert service.get().status == t.VmStatus.DOWN and vm.id not in host_vms(world.agents[host.id])
    assert {nic: world.port(nics[nic].id).id for nic in ("nic1", "nic2")} == first  # kept on stop
    until(lambda: world.port(nics["nic1"].id).status == "DOWN", "the port reported down once unplugged")

    service.start()  # the same ports again
    assert {nic: world.port(nics[nic].id).id for nic in ("nic1", "nic2")} == first
    assert plugged_ports(world.agents[host.id], vm.id) == {nics[nic].id: first[nic] for nic in ("nic1", "nic2")}
    service.stop()
    world.assert_consistent()


def test_the_port_follows_the_vnic_mac_name_and_security_groups(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    service.start()
    service.stop()
    nic = world.nics(vm.id)["nic1"]
    before = world.port(nic.id)
    group = world.neutron.network.create_security_group(name="e2e-sg")
    try:
        profile = world.system.vnic_profiles_service().profile_service(world.profiles["a"].id)
        profile.update(t.VnicProfile(custom_properties=[t.CustomProperty(name="SecurityGroups", value=group.id)]))
        nic_service = world.vm_service(vm.id).nics_service().nic_service(nic.id)
        nic_service.update(t.Nic(name="renamed", mac=t.Mac(address="56:6f:aa:bb:cc:01")))
        world.neutron.network.update_port(before.id, name="changed-by-hand")
        service.start()
        after = world.port(nic.id)
        assert after.id == before.id  # updated in place: what the user did to the port otherwise stays
        assert (after.name, after.mac_address, after.security_group_ids) == ("renamed", "56:6f:aa:bb:cc:01", [group.id])
        assert after.binding_vif_type == "ovs" and after.status == "ACTIVE"
        service.stop()
        profile.update(t.VnicProfile(custom_properties=[]))
    finally:
        world.vm_service(vm.id).remove()
        world.settle()
        world.neutron.network.delete_security_group(group.id, ignore_missing=True)


def test_removing_a_vnic_or_the_vm_removes_the_ports(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"), ("nic2", "b"))
    service = world.vm_service(vm.id)
    service.start()
    nics = world.nics(vm.id)
    err = fault(lambda: service.nics_service().nic_service(nics["nic1"].id).remove())
    assert err.code == 409 and "deactivate it before removing it" in str(err)
    service.stop()
    service.nics_service().nic_service(nics["nic1"].id).remove()
    until(lambda: world.ports(nics["nic1"].id) == [], "the port of the removed vNIC gone")
    assert len(world.ports(nics["nic2"].id)) == 1
    service.remove()
    until(lambda: world.ports(nics["nic2"].id) == [], "the ports of the removed VM gone")
    world.assert_consistent()


def test_a_vnic_moved_to_another_network_gets_a_new_port(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    service.start()
    service.stop()
    nic = world.nics(vm.id)["nic1"]
    old = world.port(nic.id)
    nic_service = service.nics_service().nic_service(nic.id)
    nic_service.update(t.Nic(vnic_profile=t.VnicProfile(id=world.profiles["b"].id)))
    until(lambda: world.ports(nic.id) == [], "the port on the old network gone")  # at once, not at the next start
    service.start()
    new = world.port(nic.id)
    assert new.id != old.id and new.network_id == world.networks["b"].id
    service.stop()
    nic_service.update(t.Nic(vnic_profile=t.VnicProfile(id=world.profiles["mgmt"].id)))  # to a non-external network
    until(lambda: world.ports(nic.id) == [], "the port gone once the vNIC left the external networks")
    service.start()
    assert world.ports(nic.id) == [] and plugged_ports(world.agents[service.get().host.id], vm.id) == {}
    service.stop()
    world.assert_consistent()


def test_removing_the_data_center_with_force_removes_the_ports(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"), ("nic2", "b"))
    world.vm_service(vm.id).start()
    nics = world.nics(vm.id)
    assert all(len(world.ports(nic.id)) == 1 for nic in nics.values())
    world.system.data_centers_service().data_center_service(world.dc.id).remove(force=True)
    until(lambda: all(world.ports(nic.id) == [] for nic in nics.values()), "the ports of the data center's VMs gone")


def test_a_start_takes_up_the_port_an_operation_that_died_made_and_did_not_store(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"), ("nic2", "b"))
    nics = world.nics(vm.id)
    # an engine killed between the provider's answer and storing the port leaves this: nic1's port, with its MAC
    made = world.neutron.network.create_port(network_id=world.networks["a"].id, device_owner="oVirt",
                                             device_id=nics["nic1"].id, mac_address=nics["nic1"].mac.address,
                                             name="left-over", description=world.marker())  # fmt: skip
    service = world.vm_service(vm.id)
    service.start()
    [port] = world.ports(nics["nic1"].id)
    assert (port.id, port.name, port.status) == (made.id, "nic1", "ACTIVE")  # taken up, not made twice
    assert len(world.ports(nics["nic2"].id)) == 1
    assert world.stored_ports()[nics["nic1"].id] == made.id
    service.stop()
    world.assert_consistent()
