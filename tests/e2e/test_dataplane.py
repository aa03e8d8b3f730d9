"""Packets between VMs, for each kind of plugging (ovs, ovs_hybrid, bridge): engine + built-in provider + a host
agent with the ``netns`` runtime on a test-bed host (a network namespace with its own Open vSwitch), driven through
ovirtsdk4. Two VMs on one external network reach each other (ping and TCP), a VM on another network does not,
hot-unplug cuts the traffic and hot-plug restores it, rewiring moves a VM to the other network, an agent restart
changes nothing on the wire, and stopping the VMs leaves no namespace, device, bridge or OVS port behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ovirtsdk4.types as t
import pytest

from extnet.host.privileged import netlink
from extnet.host.runtime.netns import STATE
from extnet.host.runtime.state import read_state
from tests.dataplane import Bed, bed, in_ns, needs_dataplane, pings, tcp_works
from tests.e2e.conftest import World
from tests.polling import until
from tests.servers import HostAgentProcess

pytestmark = [needs_dataplane, pytest.mark.dataplane,
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip

KIND_ENV = {"ovs": {}, "ovs_hybrid": {"EXTNET_HOST_OVS_HYBRID_PLUG": "true"},
            "bridge": {"EXTNET_HOST_PLUGIN_TYPES": "linux_bridge"}}  # fmt: skip
PLUMBING = ("tap", "qbr", "qvb", "qvo", "brq", "vxlan-")


@pytest.fixture
def testbed(tmp_path: Path) -> Iterator[Bed]:
    with bed(tmp_path) as made:
        yield made


class Scene:
    def __init__(self, world: World, testbed: Bed, kind: str) -> None:
        self.world, self.bed, self.kind = world, testbed, kind
        self.nets = ("a", "b")
        if kind == "bridge":  # the Linux bridge kind is a provider registered for that plugin type
            registered = world.register(external_plugin_type="LINUX_BRIDGE")
            world.external_network("c", registered)
            world.external_network("d", registered)
            self.nets = ("c", "d")
        self.host = world.host(runtime="netns", env=testbed.agent_env(**KIND_ENV[kind]))
        self.agent: HostAgentProcess = world.agents[self.host.id]

    def vm(self, network: str) -> t.Vm:
        vm = self.world.vm(("nic1", network))
        self.world.vm_service(vm.id).start()
        until(lambda: self.world.vm_service(vm.id).get().status == t.VmStatus.UP, f"VM {vm.name} up")
        return vm

    def nic(self, vm: t.Vm) -> t.Nic:
        return self.world.nics(vm.id)["nic1"]

    def ip(self, vm: t.Vm) -> str:
        port_id = self.world.stored_ports()[self.nic(vm).id]  # the vNIC's port now (a rewired one's old may linger)
        return str(self.world.neutron.network.get_port(port_id).fixed_ips[0]["ip_address"])

    def ns(self, vm: t.Vm) -> str:
        return self.bed.vm_ns(vm.id)

    def plumbing(self) -> dict[str, Any]:
        return {"ovs": sorted(self.bed.ovs_ports()),
                "links": sorted(n for n in self.bed.links() if n.startswith(PLUMBING))}  # fmt: skip


def reaches(scene: Scene, source: t.Vm, target: t.Vm, address: str | None = None) -> bool:
    return pings(scene.ns(source), address or scene.ip(target), count=1, wait=1)


@pytest.mark.parametrize("kind", ["ovs", "ovs_hybrid", "bridge"])
def test_vms_on_one_network_reach_each_other_and_nothing_else(world: World, testbed: Bed, kind: str) -> None:
    scene = Scene(world, testbed, kind)
    net, other = scene.nets
    first, second, apart = scene.vm(net), scene.vm(net), scene.vm(other)
    assert world.port(scene.nic(first).id).binding_vif_type == ("bridge" if kind == "bridge" else "ovs")
    assert {plug["kind"] for plug in agent_vnics(scene)} == {kind}
    agent_info = world.rest.get(f"hosts/{scene.host.id}").json()["host_agent"]
    assert agent_info["runtime"] == "netns" and agent_info["vif_kinds"] == {"vif_kind": ["ovs", "ovs_hybrid", "bridge"]}
    # the guest's addresses, as the engine shows what the host reports (ovirtsdk4 reads them)
    nic_devices = world.vm_service(first.id).nics_service().nic_service(scene.nic(first).id)
    [device] = nic_devices.reported_devices_service().list()
    assert device.name == "nic1" and device.type == t.ReportedDeviceType.NETWORK
    assert device.mac.address == scene.nic(first).mac.address
    v4 = [(ip.address, ip.netmask) for ip in device.ips if ip.version == t.IpVersion.V4]
    assert v4 == [(scene.ip(first), "255.255.255.0")]  # and its IPv6 link-local address
    assert [d.id for d in world.vm_service(first.id).reported_devices_service().list()] == [device.id]

    until(lambda: reaches(scene, first, second), f"{kind}: ping between two VMs on one network")
    assert tcp_works(scene.ns(first), scene.ns(second), scene.ip(second))
    # the VM on the other network, given an address of the first network's subnet, is still out of reach (L2)
    stranger = scene.ip(second).rsplit(".", 1)[0] + ".250"
    assert in_ns(scene.ns(apart), "ip", "addr", "add", f"{stranger}/24", "dev", "nic1").returncode == 0
    assert not pings(scene.ns(first), stranger, count=2, wait=1)

    nics = world.vm_service(second.id).nics_service()
    nics.nic_service(scene.nic(second).id).update(t.Nic(plugged=False))  # hot-unplug cuts the traffic
    assert not pings(scene.ns(first), scene.ip(second), count=2, wait=1)
    nics.nic_service(scene.nic(second).id).update(t.Nic(plugged=True))  # and hot-plug restores it
    until(lambda: reaches(scene, first, second), f"{kind}: ping after hot-plug")

    before = scene.plumbing()
    scene.agent.stop()  # an agent restart changes nothing on the wire, and removes what no VM of its own owns
    orphan_ns, orphan_port = f"{testbed.vm_prefix}-{uuid.uuid4()}", f"tap{uuid.uuid4().hex[:11]}"
    netlink.ensure_namespace(orphan_ns)
    testbed.vsctl("add-port", "br-int", orphan_port, "--", "set", "Interface", orphan_port,
                  f"external_ids:vm-uuid={uuid.uuid4()}", f"external_ids:iface-id={uuid.uuid4()}")  # fmt: skip
    scene.agent.start()
    until(lambda: world.system.hosts_service().host_service(scene.host.id).get().status == t.HostStatus.UP,
          "the host up again after its agent's restart")  # fmt: skip
    assert scene.plumbing() == before and orphan_ns not in netlink.namespaces()
    log = scene.agent.log()
    assert f"removed namespace {orphan_ns}" in log and f"removed OVS port {orphan_port}" in log
    assert reaches(scene, first, second) and tcp_works(scene.ns(first), scene.ns(second), scene.ip(second))

    old_ip = scene.ip(second)  # rewiring moves the VM to the other network
    nics.nic_service(scene.nic(second).id).update(t.Nic(vnic_profile=t.VnicProfile(id=world.profiles[other].id)))
    until(lambda: reaches(scene, apart, second), f"{kind}: ping on the network the vNIC was moved to")
    assert not pings(scene.ns(first), old_ip, count=2, wait=1)

    for vm in (first, second, apart):
        world.vm_service(vm.id).stop()
    until(lambda: not [n for n in _namespaces() if n.startswith(testbed.vm_prefix)], "no VM namespace left")
    assert scene.plumbing() == {"ovs": [], "links": []}


def agent_vnics(scene: Scene) -> list[dict[str, Any]]:
    """The vNICs the host agent plugged, as its state log records them."""
    vms = read_state(scene.agent.data_dir / STATE)
    return [vnic["vif"]["plug"] for vm in vms.values() for vnic in vm["vnics"] if vnic["plugged"]]


def _namespaces() -> list[str]:
    from extnet.host.privileged import netlink

    return netlink.namespaces()
