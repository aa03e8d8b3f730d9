"""Two test-bed hosts (each a network namespace with its own Open vSwitch and its own host agent, ``netns``
runtime), joined by a veth underlay: VMs on one external network on different hosts reach each other over VXLAN,
VMs on different networks do not, and migrating a VM moves its plumbing to the other host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ovirtsdk4.types as t
import pytest

from tests.dataplane import Bed, bed, in_ns, join, needs_dataplane, pings, tcp_works
from tests.e2e.conftest import World
from tests.polling import until

pytestmark = [needs_dataplane, pytest.mark.dataplane,
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


@pytest.fixture
def beds(tmp_path: Path) -> Iterator[tuple[Bed, Bed]]:
    with bed(tmp_path / "one") as first, bed(tmp_path / "two") as second:
        yield first, second


def _ip(world: World, vm: t.Vm) -> str:
    nic = world.nics(vm.id)["nic1"]
    return str(world.neutron.network.get_port(world.stored_ports()[nic.id]).fixed_ips[0]["ip_address"])


def _links(testbed: Bed) -> list[str]:
    return sorted(n for n in testbed.links() if n.startswith(("tap", "qbr", "qvb", "qvo", "brq", "vxlan-")))


@pytest.mark.parametrize("kind", ["ovs", "bridge"])
def test_vms_on_two_hosts_reach_each_other_over_vxlan(world: World, beds: tuple[Bed, Bed], kind: str) -> None:
    one, two = beds
    addresses = join(one, two)
    nets = ("a", "b")
    extra: dict[str, str] = {}
    if kind == "bridge":
        registered = world.register(external_plugin_type="LINUX_BRIDGE")
        world.external_network("c", registered)
        world.external_network("d", registered)
        nets, extra = ("c", "d"), {"EXTNET_HOST_PLUGIN_TYPES": "linux_bridge"}
    hosts = [world.host(runtime="netns", env=b.agent_env(EXTNET_HOST_TUNNEL_IP=ip, **extra))
             for b, ip in zip(beds, addresses, strict=True)]  # fmt: skip
    by_host = {hosts[0].id: one, hosts[1].id: two}

    def start(network: str, host: t.Host) -> t.Vm:
        vm = world.vm(("nic1", network))
        service = world.vm_service(vm.id)
        service.start()
        until(lambda: service.get().status == t.VmStatus.UP, f"VM {vm.name} up")
        if service.get().host.id != host.id:  # starting takes no host: the VM is moved to the one wanted
            service.migrate(host=t.Host(id=host.id))
        assert service.get().host.id == host.id
        return vm

    def ns(vm: t.Vm) -> str:
        return by_host[world.vm_service(vm.id).get().host.id].vm_ns(vm.id)

    net, other = nets
    left, right, apart = start(net, hosts[0]), start(net, hosts[1]), start(other, hosts[1])
    until(lambda: pings(ns(left), _ip(world, right)), f"{kind}: ping from one host to the other over VXLAN")
    assert tcp_works(ns(left), ns(right), _ip(world, right))
    assert any(n.startswith("vxlan-") for n in _links(one)) and any(n.startswith("vxlan-") for n in _links(two))
    stranger = _ip(world, right).rsplit(".", 1)[0] + ".250"  # another network, given an address of this subnet
    assert in_ns(ns(apart), "ip", "addr", "add", f"{stranger}/24", "dev", "nic1").returncode == 0
    assert not pings(ns(left), stranger, count=2, wait=1)

    world.vm_service(right.id).migrate(host=t.Host(id=hosts[0].id))  # the plumbing moves with the VM
    assert world.vm_service(right.id).get().host.id == hosts[0].id
    assert two.vm_ns(right.id) not in _namespaces() and one.vm_ns(right.id) in _namespaces()
    until(lambda: pings(ns(left), _ip(world, right)), f"{kind}: ping after the migration, on one host")
    assert pings(ns(right), _ip(world, left))

    for vm in (left, right, apart):
        world.vm_service(vm.id).stop()
    until(lambda: not _links(one) and not _links(two), "no plumbing left on either host")
    assert one.ovs_ports() == [] and two.ovs_ports() == []


def _namespaces() -> list[str]:
    from extnet.host.privileged import netlink

    return netlink.namespaces()
