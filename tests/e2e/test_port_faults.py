"""When something fails: scheduling refuses hosts that cannot serve an external network; a start that fails after
making ports removes them (at once, or through the outbox while the provider is down) and the VM stays down; the
next start works; a port whose deletion fails is retried until it is gone; ports that never become ACTIVE fail the
start after the deadline."""

from __future__ import annotations

import time

import ovirtsdk4.types as t
import pytest

from tests.e2e.conftest import World, fault
from tests.e2e.helpers import FlakyProxy, host_vms
from tests.polling import until

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip

USER_FAILED_RUN_VM, PORT_REMOVAL_FAILED, PORT_REMOVED_AFTER_RETRY = 54, 9607, 9640
ACTIVE_TIMEOUT_S = 15  # the e2e engine's EXTNET_PORT_ACTIVE_TIMEOUT


def test_scheduling_needs_a_host_with_a_binding_for_the_plugin_type(world: World) -> None:
    ovn = world.register(external_plugin_type="OVIRT_PROVIDER_OVN")
    world.external_network("c", ovn)
    plain = world.host()
    vm = world.vm(("nic1", "c"))
    service = world.vm_service(vm.id)
    err = fault(service.start)
    assert err.code == 409 and "Cannot run VM." in str(err)
    network = world.networks["c"].name
    assert (f"External network '{network}' of VM '{vm.name}' cannot be served: no up host of cluster "
            f"'{world.cluster.name}' reports a binding for plugin type 'ovirt_provider_ovn' of provider "
            f"'{ovn.name}'") in str(err)  # fmt: skip
    assert world.ports(world.nics(vm.id)["nic1"].id) == [] and service.get().status == t.VmStatus.DOWN

    able = world.host(env={"EXTNET_HOST_PLUGIN_TYPES": "ovirt_provider_ovn"})
    service.start()
    running = service.get()
    assert running.host.id == able.id != plain.id
    assert world.port(world.nics(vm.id)["nic1"].id).binding_host_id == world.binding(able.id)
    service.stop()


def test_scheduling_needs_an_alive_agent_where_the_provider_lists_agents(world: World) -> None:
    host = world.host()
    [agent] = list(world.neutron.network.agents(host=world.binding(host.id)))
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    world.neutron.network.update_agent(agent, is_admin_state_up=False)
    try:
        err = fault(service.start)
        assert err.code == 409 and f"External network '{world.networks['a'].name}' of VM '{vm.name}'" in str(err)
        assert f"provider '{world.registered.name}' has no alive agent on any up host of cluster" in str(err)
    finally:
        world.neutron.network.update_agent(agent, is_admin_state_up=True)
    service.start()
    assert service.get().status == t.VmStatus.UP
    service.stop()


def test_a_host_that_refuses_the_vifs_leaves_no_port_behind(world: World) -> None:
    host = world.host(env={"EXTNET_HOST_BRIDGES": "br-other"})  # the provider binds to br-int: the host lacks it
    agent = world.agents[host.id]
    vm = world.vm(("nic1", "a"), ("nic2", "b"))
    nics = world.nics(vm.id)
    service = world.vm_service(vm.id)
    err = fault(service.start)
    assert err.code == 400 and "Cannot run VM." in str(err) and f"Host '{host.name}': VM.create failed" in str(err)
    assert "vNIC 'nic1'" in str(err) and "bridge br-int" in str(err)
    assert service.get().status == t.VmStatus.DOWN and service.get().host is None
    assert world.ports(nics["nic1"].id) == [] and world.ports(nics["nic2"].id) == []  # the attempt's ports, removed
    assert vm.id not in host_vms(agent)
    assert [e for e in world.events(USER_FAILED_RUN_VM) if vm.name in e["description"]]

    agent.stop()
    agent.env = {**agent.env, "EXTNET_HOST_BRIDGES": "br-int"}
    agent.start()
    until(lambda: world.system.hosts_service().host_service(host.id).get().status == t.HostStatus.UP, "host up")
    until(lambda: any(a.is_alive for a in world.neutron.network.agents(host=world.binding(host.id))), "alive again")
    service.start()  # the next start works
    assert service.get().status == t.VmStatus.UP
    assert all(len(world.ports(nic.id)) == 1 for nic in nics.values())
    service.stop()
    world.assert_consistent()


def test_the_provider_going_down_during_a_start(world: World, proxy: FlakyProxy) -> None:
    world.host()
    vm = world.vm(("nic1", "p"), ("nic2", "p"))
    nics = world.nics(vm.id)
    service = world.vm_service(vm.id)
    proxy.down()  # down before anything: no port is made
    err = fault(service.start)
    assert err.code == 400 and "it is unreachable" in str(err) and f"VM '{vm.name}'" in str(err)
    assert world.ports(nics["nic1"].id) == [] and service.get().status == t.VmStatus.DOWN

    proxy.up()
    proxy.down_after("POST", "/v2.0/ports")  # down right after the ports were made
    err = fault(service.start)
    assert err.code == 400 and "vNICs 'nic1', 'nic2'" in str(err) and "it is unreachable" in str(err)
    assert service.get().status == t.VmStatus.DOWN
    made = [p for nic in nics.values() for p in world.ports(nic.id)]
    assert len(made) == 2  # could not be removed yet: queued
    failed = "Failed to remove vNIC"
    until(lambda: [e for e in world.events(PORT_REMOVAL_FAILED) if e["description"].startswith(failed)], "an event")

    proxy.up()
    until(lambda: all(world.ports(nic.id) == [] for nic in nics.values()), "the attempt's ports gone once it is back")
    service.start()  # the next start works
    assert service.get().status == t.VmStatus.UP and all(len(world.ports(nic.id)) == 1 for nic in nics.values())
    service.stop()
    world.assert_consistent()


def test_a_port_whose_removal_fails_is_retried_until_it_is_gone(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"), ("nic2", "a"))
    service = world.vm_service(vm.id)
    service.start()
    service.stop()
    nics = world.nics(vm.id)
    port = world.port(nics["nic1"].id)

    world.provider.stop()
    try:
        service.nics_service().nic_service(nics["nic1"].id).remove()  # the vNIC goes at once; its port waits
        assert "nic1" not in world.nics(vm.id)
        until(lambda: [e for e in world.events(PORT_REMOVAL_FAILED) if nics["nic1"].id in e["description"]],
              "an event for each failed attempt")  # fmt: skip
    finally:
        world.provider.start()
    until(lambda: world.neutron.network.find_port(port.id) is None, "the port removed once the provider is back")
    done = until(lambda: [e for e in world.events(PORT_REMOVED_AFTER_RETRY) if port.id in e["description"]],
                 "an event once it was removed")  # fmt: skip
    assert "after" in done[0]["description"] and len(world.ports(nics["nic2"].id)) == 1
    world.assert_consistent()


def test_ports_that_do_not_become_active_fail_the_start_and_leave_nothing(world: World, proxy: FlakyProxy) -> None:
    world.host(env={"EXTNET_HOST_HEARTBEAT_INTERVAL": "1", "EXTNET_HOST_PLUG_REPORT_WAIT": "1"})
    vm = world.vm(("nic1", "p"))
    nic = world.nics(vm.id)["nic1"]
    service = world.vm_service(vm.id)
    # the host's reports of what it plugs never reach the provider: its ports stay DOWN there
    proxy.hang("POST", "/v2.0/agents/heartbeat", seconds=120)
    began = time.monotonic()
    err = fault(service.start)
    assert err.code == 400 and "did not become ACTIVE" in str(err) and "'nic1'" in str(err)
    assert f"VM '{vm.name}'" in str(err) and time.monotonic() - began >= ACTIVE_TIMEOUT_S
    assert world.ports(nic.id) == [] and service.get().status == t.VmStatus.DOWN  # undone
    assert vm.id not in host_vms(next(iter(world.agents.values())))

    # back: the host's plug answers without the provider's word (its beats back off after the failures), so the
    # engine asks the provider itself until the next beat reports the port
    proxy.up()
    service.start()
    assert service.get().status == t.VmStatus.UP and world.port(nic.id).status == "ACTIVE"
    service.stop()
    world.assert_consistent()
