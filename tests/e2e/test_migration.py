"""Live migration (``POST /vms/{id}/migrate``): the ports are rebound to the destination, plugged there, and the VM
is destroyed at the source; a destination that cannot serve the VM's networks is refused; a failure leaves the VM
and its ports on the source."""

from __future__ import annotations

import ovirtsdk4.types as t
import pytest

from tests.e2e.conftest import World, fault
from tests.e2e.helpers import host_vms, plugged_ports
from tests.polling import until

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


def test_migration_rebinds_and_replugs_the_ports(world: World) -> None:
    first, second = world.host(), world.host()
    vm = world.vm(("nic1", "a"), ("nic2", "b"))
    service = world.vm_service(vm.id)
    service.start()
    source = service.get().host.id
    dest = second.id if source == first.id else first.id
    nics = world.nics(vm.id)
    ports = {nic.id: world.port(nic.id).id for nic in nics.values()}

    service.migrate()  # the scheduler picks the other host
    assert service.get().host.id == dest and service.get().status == t.VmStatus.UP
    for nic in nics.values():
        port = world.port(nic.id)
        assert port.id == ports[nic.id] and port.binding_host_id == world.binding(dest)
    until(lambda: all(world.port(nic.id).status == "ACTIVE" for nic in nics.values()), "ACTIVE at the destination")
    assert plugged_ports(world.agents[dest], vm.id) == ports and vm.id not in host_vms(world.agents[source])

    service.migrate(host=t.Host(id=source))  # and back, to the host given
    assert service.get().host.id == source
    assert all(world.port(nic.id).binding_host_id == world.binding(source) for nic in nics.values())
    assert plugged_ports(world.agents[source], vm.id) == ports and vm.id not in host_vms(world.agents[dest])

    err = fault(lambda: service.migrate(host=t.Host(id=source)))
    assert err.code == 409 and f"VM '{vm.name}' already runs on host" in str(err)
    service.stop()
    err = fault(service.migrate)
    assert err.code == 409 and "only a running VM migrates" in str(err)
    world.assert_consistent()


def test_migration_to_a_host_that_cannot_serve_the_networks_is_refused(world: World) -> None:
    able = world.host()
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    service.start()
    unable = world.host(env={"EXTNET_HOST_BRIDGES": "br-other"})  # plugging fails there: the migration is undone
    nic = world.nics(vm.id)["nic1"]
    port = world.port(nic.id)

    err = fault(lambda: service.migrate(host=t.Host(id=unable.id)))
    assert err.code == 400 and "Cannot migrate VM." in str(err) and f"Host '{unable.name}'" in str(err)
    got = service.get()
    assert got.host.id == able.id and got.status == t.VmStatus.UP  # still on the source
    assert world.port(nic.id).binding_host_id == world.binding(able.id) and world.port(nic.id).id == port.id
    assert plugged_ports(world.agents[able.id], vm.id) == {nic.id: port.id}
    assert vm.id not in host_vms(world.agents[unable.id])
    service.stop()
    world.assert_consistent()


def test_migration_needs_a_destination_with_a_binding_for_the_plugin_type(world: World) -> None:
    ovn = world.register(external_plugin_type="OVIRT_PROVIDER_OVN")
    world.external_network("c", ovn)
    able = world.host(env={"EXTNET_HOST_PLUGIN_TYPES": "open_vswitch,ovirt_provider_ovn"})
    plain = world.host()
    vm = world.vm(("nic1", "c"))
    service = world.vm_service(vm.id)
    service.start()
    assert service.get().host.id == able.id
    network = world.networks["c"].name
    err = fault(service.migrate)
    assert err.code == 409 and (f"External network '{network}' of VM '{vm.name}' cannot be served: no other up host of "
                                f"cluster '{world.cluster.name}' reports a binding for plugin type "
                                "'ovirt_provider_ovn'") in str(err)  # fmt: skip
    err = fault(lambda: service.migrate(host=t.Host(id=plain.id)))
    assert err.code == 409 and f"host '{plain.name}' reports no binding for plugin type 'ovirt_provider_ovn'" in str(
        err
    )
    assert service.get().host.id == able.id and service.get().status == t.VmStatus.UP
    service.stop()
