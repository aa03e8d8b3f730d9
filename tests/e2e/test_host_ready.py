"""Up means ready: a host is ``up`` only once every managed provider took its agent's first heartbeat, so a VM on an
external network starts on it the moment it is up; a provider that cannot take the beats is named in the host's
``status_detail``."""

from __future__ import annotations

import ovirtsdk4.types as t
import pytest

from tests.e2e.conftest import World, fault, name
from tests.e2e.helpers import FlakyProxy
from tests.polling import until

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip

ROUNDS = 20


def test_a_vm_starts_on_a_host_the_moment_it_is_up(world: World) -> None:
    hosts = world.system.hosts_service()
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    for _ in range(ROUNDS):
        agent = world.start_agent()
        host = hosts.add(t.Host(name=name("ready"), address=agent.address, port=agent.port,
                                root_password=agent.password, cluster=t.Cluster(id=world.cluster.id)))  # fmt: skip
        world.agents[host.id] = agent
        until(lambda host_id=host.id: hosts.host_service(host_id).get().status == t.HostStatus.UP,
              f"host {host.name} up", every_s=0.1)  # fmt: skip
        service.start()  # at once: no waiting for the agent on the provider
        assert service.get().host.id == host.id
        assert world.port(world.nics(vm.id)["nic1"].id).binding_host_id == world.binding(host.id)
        service.stop()
        hosts.host_service(host.id).deactivate()  # the next round's host is the only one up


def test_a_provider_that_refuses_the_heartbeats_is_named_in_the_status_detail(world: World) -> None:
    broken = world.register(password="not-the-password")
    host = world.host(wait_alive=False)  # the answer to the add already says it: pairing waited for the first beats
    assert host.status == t.HostStatus.UP  # the other provider's networks can still run there
    # the engine could not make the host's account there with the provider's credentials, and says so
    assert host.status_detail.startswith(f"Provider '{broken.name}' does not take the heartbeats of the host's agent "
                                         "(the engine cannot make the host's account there: "), host.status_detail
    assert "authentication" in host.status_detail.lower(), host.status_detail
    assert "): VMs on its networks cannot run on this host until it does" in host.status_detail
    assert world.registered.name not in host.status_detail  # the provider that took the beats is not named

    world.system.openstack_network_providers_service().provider_service(broken.id).remove()
    service = world.system.hosts_service().host_service(host.id)
    until(lambda: service.get().status_detail is None, "the detail gone with the provider")
    assert service.get().status == t.HostStatus.UP


def test_a_host_is_initializing_until_a_slow_provider_took_its_first_heartbeat(world: World, proxy: FlakyProxy) -> None:
    [slow] = [p for p in world.system.openstack_network_providers_service().list() if p.url == proxy.url]
    proxy.hang("POST", "/v2.0/agents/heartbeat", seconds=60)
    host = world.host(wait_alive=False, env={"EXTNET_HOST_PROVIDER_READ_TIMEOUT": "60"})
    assert host.status == t.HostStatus.INITIALIZING, host.status
    assert host.status_detail == f"Waiting for provider '{slow.name}' to take the first heartbeat of the host's agent"
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    refused = str(fault(service.start))  # saying which host is not up, and why
    assert (f"There is no host in cluster '{world.cluster.name}' that is up to run VM '{vm.name}': host '{host.name}' "
            f"is initializing (Waiting for provider '{slow.name}' to take the first heartbeat of the host's agent)"
            ) in refused, refused  # fmt: skip

    proxy.up()  # the held beat fails; the next one goes through
    hosts = world.system.hosts_service()
    until(lambda: hosts.host_service(host.id).get().status == t.HostStatus.UP, f"host {host.name} up")
    service.start()
    assert service.get().host.id == host.id
    service.stop()
