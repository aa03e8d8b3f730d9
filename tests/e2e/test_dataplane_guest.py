"""A real guest through the ``libvirt`` runtime: a Debian cloud kernel and a busybox initramfs (``tests/guest.py``)
under QEMU's software emulation, its vNIC on an external network, pinged from a ``netns`` VM on the same network
on another test-bed host, over VXLAN. Needs root, Open vSwitch, libvirtd with QEMU and libvirt-python."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import ovirtsdk4.types as t
import pytest

from extnet.host.ovs_daemons import OvsDaemons
from tests.dataplane import Bed, bed, needs_dataplane, pings
from tests.e2e.conftest import World
from tests.guest import guest_image
from tests.guest import missing as guest_missing
from tests.polling import until

pytestmark = [needs_dataplane, pytest.mark.dataplane,
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


def _missing() -> str | None:
    try:
        import libvirt

        libvirt.open("qemu:///system").close()
    except ImportError:
        return "needs libvirt-python (apt-get install -y libvirt-dev; pip install libvirt-python)"
    except Exception as err:  # libvirtError: no libvirtd
        return f"needs a running libvirtd (libvirtd -d): {err}"
    if shutil.which("qemu-system-x86_64") is None:
        return "needs QEMU (apt-get install -y qemu-system-x86)"
    return guest_missing()


@pytest.fixture
def underlay(tmp_path: Path) -> Iterator[tuple[Bed, OvsDaemons, str, str]]:
    """A test-bed host for the netns VM, and an Open vSwitch in this machine's own namespace for the libvirt host
    (QEMU's taps are made where libvirtd runs), joined by a veth."""
    with bed(tmp_path / "netns-host") as other:
        tag = uuid.uuid4().hex[:6]
        root_end, bed_end = f"ulr{tag}", f"ulb{tag}"
        daemons = OvsDaemons(tmp_path / "root-ovs")
        commands = [["ip", "link", "add", root_end, "type", "veth", "peer", "name", bed_end],
                    ["ip", "link", "set", bed_end, "netns", other.ns],
                    ["ip", "addr", "add", "192.168.241.1/24", "dev", root_end], ["ip", "link", "set", root_end, "up"],
                    ["ip", "-n", other.ns, "addr", "add", "192.168.241.2/24", "dev", bed_end],
                    ["ip", "-n", other.ns, "link", "set", bed_end, "up"]]  # fmt: skip
        try:
            for command in commands:
                subprocess.run(command, check=True, capture_output=True)
            daemons.start()
            yield other, daemons, "192.168.241.1", "192.168.241.2"
        finally:
            daemons.stop()
            subprocess.run(["ip", "link", "del", root_end], capture_output=True)


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_a_real_guest_answers_a_netns_vm(world: World, underlay: tuple[Bed, OvsDaemons, str, str],
                                         tmp_path: Path) -> None:  # fmt: skip
    other, daemons, root_ip, bed_ip = underlay
    kernel, initrd = guest_image()
    tag = uuid.uuid4().hex[:6]
    guest_host = world.host(runtime="libvirt", env={
        "EXTNET_HOST_OVSDB": daemons.remote, "EXTNET_HOST_INTEGRATION_BRIDGE": f"bi{tag}",
        "EXTNET_HOST_TUNNEL_IP": root_ip, "EXTNET_HOST_BINDING_HOST": f"guest-{tag}",
        "EXTNET_HOST_VM_NETNS_PREFIX": f"xg{tag}", "EXTNET_HOST_GUEST_KERNEL": str(kernel),
        "EXTNET_HOST_GUEST_INITRD": str(initrd),
    })  # fmt: skip
    netns_host = world.host(runtime="netns", env=other.agent_env(EXTNET_HOST_TUNNEL_IP=bed_ip))

    def start_on(host: t.Host) -> t.Vm:
        vm = world.vm(("nic1", "a"))
        service = world.vm_service(vm.id)
        service.start()
        if service.get().host.id != host.id:
            service.migrate(host=t.Host(id=host.id))
        assert service.get().host.id == host.id and service.get().status == t.VmStatus.UP
        return vm

    started: list[t.Vm] = []
    try:
        started.append(start_on(guest_host))
        started.append(start_on(netns_host))
        guest, prober = started
        nic = world.nics(guest.id)["nic1"]
        address = world.neutron.network.get_port(world.stored_ports()[nic.id]).fixed_ips[0]["ip_address"]
        domain = f"xg{tag}-{guest.id}"
        state = subprocess.run(["virsh", "-c", "qemu:///system", "domstate", domain], capture_output=True, text=True)
        assert state.stdout.strip() == "running", state.stdout + state.stderr
        dumped = subprocess.run(["virsh", "-c", "qemu:///system", "dumpxml", domain], capture_output=True, text=True)
        assert f"<mac address='{nic.mac.address}'/>" in dumped.stdout and "type='ethernet'" in dumped.stdout
        until(lambda: pings(other.vm_ns(prober.id), address, count=1, wait=2), "the real guest answers ping",
              deadline_s=120)  # fmt: skip
    finally:  # the guest's domain and taps live in this machine's own namespace: never leave them behind
        for vm in started:
            world.vm_service(vm.id).stop()
    listed = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"], capture_output=True,
                            text=True).stdout  # fmt: skip
    assert domain not in listed
