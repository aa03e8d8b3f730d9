"""Guests that ask DHCP (``--guest-ip dhcp``): a VM of the ``netns`` runtime gets its port's fixed IP from a DHCP
server on its network, as a Neutron DHCP agent serves it (dnsmasq with a static lease per port, in a namespace of
its own on the network's local VLAN of the test-bed host), and the engine reports that address."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import ovirtsdk4.types as t
import pytest

from tests.dataplane import Bed, bed, needs_dataplane, pings
from tests.e2e.conftest import World
from tests.polling import until

pytestmark = [needs_dataplane, pytest.mark.dataplane,
              pytest.mark.skipif(shutil.which("dnsmasq") is None or shutil.which("busybox") is None,
                                 reason="needs dnsmasq and busybox (apt-get install -y dnsmasq-base busybox)"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


@pytest.fixture
def testbed(tmp_path: Path) -> Iterator[Bed]:
    with bed(tmp_path) as made:
        yield made


def test_a_guest_gets_its_port_address_from_dhcp(world: World, testbed: Bed, tmp_path: Path) -> None:
    host = world.host(runtime="netns", env=testbed.agent_env(EXTNET_HOST_GUEST_IP="dhcp"))
    assert host.id in world.agents
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    service.start()
    nic = world.nics(vm.id)["nic1"]
    port = world.neutron.network.get_port(world.stored_ports()[nic.id])
    address = port.fixed_ips[0]["ip_address"]
    subnet = world.neutron.network.get_subnet(port.fixed_ips[0]["subnet_id"])
    # the guest asked, and has nothing yet: there is no DHCP server on the network
    device = service.nics_service().nic_service(nic.id).reported_devices_service().list()
    assert [ip.address for d in device for ip in d.ips if ip.version == t.IpVersion.V4] == []

    tag = testbed.vsctl("get", "Port", f"tap{port.id[:11]}", "tag")
    server_ns, link = f"xd{uuid.uuid4().hex[:6]}", f"dh{uuid.uuid4().hex[:8]}"
    server_address = str(subnet.cidr).rsplit(".", 1)[0] + ".254"
    setup = [["ip", "netns", "add", server_ns],
             ["ip", "-n", testbed.ns, "link", "add", link, "type", "veth", "peer", "name", "dhcp0"],
             ["ip", "-n", testbed.ns, "link", "set", "dhcp0", "netns", server_ns],
             ["ip", "-n", testbed.ns, "link", "set", link, "up"],
             ["ip", "-n", server_ns, "addr", "add", f"{server_address}/24", "dev", "dhcp0"],
             ["ip", "-n", server_ns, "link", "set", "dhcp0", "up"],
             ["ip", "netns", "exec", server_ns, "ethtool", "-K", "dhcp0", "tx", "off"]]  # fmt: skip
    server = None
    try:
        for command in setup:
            subprocess.run(command, check=True, capture_output=True)
        testbed.vsctl("add-port", "br-int", link, f"tag={tag}")
        server = subprocess.Popen(
            ["ip", "netns", "exec", server_ns, "dnsmasq", "--no-daemon", "--port=0", "--interface=dhcp0",
             "--bind-interfaces", f"--dhcp-range={subnet.cidr.split('/')[0]},static,255.255.255.0",
             f"--dhcp-host={nic.mac.address},{address}", f"--dhcp-option=3,{subnet.gateway_ip}",
             f"--dhcp-leasefile={tmp_path / 'leases'}", "--no-resolv", "--no-hosts", "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def leased() -> list[str]:
            found = service.nics_service().nic_service(nic.id).reported_devices_service().list()
            return [ip.address for d in found for ip in d.ips if ip.version == t.IpVersion.V4]

        assert until(leased, "the guest's address from DHCP", deadline_s=60) == [address]
        assert pings(server_ns, address)
        assert str(subnet.gateway_ip) in subprocess.run(["ip", "-n", testbed.vm_ns(vm.id), "route"],
                                                        capture_output=True, text=True).stdout  # fmt: skip
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", server_ns], capture_output=True)
    service.stop()
