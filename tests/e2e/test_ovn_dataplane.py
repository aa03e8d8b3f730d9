"""The seed's Phase 2 on OVN: the engine driven with ovirtsdk4, the built-in provider with ``--driver ovn``, host
agents (``netns`` runtime, ``--l2 none``, guests asking DHCP) on test-bed hosts whose Open vSwitch ``extnet host
setup ovn`` pointed at a real OVN (NB, SB, northd, an ovn-controller per host). VMs get from OVN's DHCP the address
the provider allocated, security groups filter, routers route, and two chassis carry traffic over geneve."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from extnet.engine.store.db import Database
from extnet.host.ovs_daemons import OvsDaemons
from tests.dataplane import Bed, bed, in_ns, join, needs_dataplane, pings, tcp_works
from tests.e2e.conftest import StartAgent, World, build_world, cleanup
from tests.e2e.helpers import Provider, provider_process
from tests.guest import guest_image
from tests.guest import missing as guest_missing
from tests.ovn import OvnCentral, chassis_on, needs_ovn, ovn_central
from tests.polling import until

pytestmark = [needs_dataplane, needs_ovn, pytest.mark.dataplane,
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvnCentral]:
    with ovn_central(tmp_path_factory.mktemp("ovn")) as made:
        yield made


@pytest.fixture(scope="module")
def ovn_provider(tmp_path_factory: pytest.TempPathFactory, central: OvnCentral) -> Iterator[Provider]:
    env = {"EXTNET_PROVIDER_DRIVER": "ovn", "EXTNET_PROVIDER_OVN_NB": central.nb, "EXTNET_PROVIDER_OVN_SB": central.sb,
           "EXTNET_PROVIDER_AGENT_DOWN_TIME": "20"}  # fmt: skip
    with provider_process(tmp_path_factory.mktemp("ovn-provider"), None, env) as made:
        yield made
        assert "Traceback" not in made.log_path.read_text(), made.log_path.read_text()[-4000:]


@pytest.fixture
def ovn_world(system: sdk.services.SystemService, rest: httpx.Client, engine_db: Database, ovn_provider: Provider,
              host_agent: StartAgent) -> Iterator[World]:  # fmt: skip
    connection = ovn_provider.connect()
    made = build_world(system, rest, connection, engine_db, ovn_provider, host_agent)
    try:
        yield made
    finally:
        cleanup(made)
        connection.close()


@contextmanager
def chassis(central: OvnCentral, base: Path) -> Iterator[Bed]:
    """A test-bed host that is an OVN chassis (no tunnels: its encapsulation address is the loopback)."""
    with bed(base) as made, ovn_on(central, made, "127.0.0.1"):
        yield made


@contextmanager
def ovn_on(central: OvnCentral, testbed: Bed, encap_ip: str, name: str | None = None,
           bridge: str = "br-int") -> Iterator[str]:  # fmt: skip
    """The test-bed host as an OVN chassis named after it (its binding host id)."""
    with chassis_on(central, testbed.ovs, name or f"bed-{testbed.ns}", encap_ip, bridge) as printed:
        yield printed


def underlay(testbed: Bed, link: str, address: str) -> None:
    """Userspace geneve needs the tunnel address on a netdev bridge that holds the underlay link."""
    testbed.vsctl("--may-exist", "add-br", "br-ul", "--", "set", "Bridge", "br-ul", "datapath_type=netdev")
    testbed.vsctl("--may-exist", "add-port", "br-ul", link)
    for command in (["addr", "flush", "dev", link], ["addr", "add", f"{address}/24", "dev", "br-ul"],
                    ["link", "set", "br-ul", "up"]):  # fmt: skip
        subprocess.run(["ip", "-n", testbed.ns, *command], check=True, capture_output=True)


def _ovn_host(world: World, testbed: Bed) -> t.Host:
    host = world.host(runtime="netns", env=testbed.agent_env(EXTNET_HOST_L2="none", EXTNET_HOST_GUEST_IP="dhcp"))
    _chassis_alive(world, f"bed-{testbed.ns}")
    return host


def _chassis_alive(world: World, name: str) -> None:
    until(lambda: any(a.agent_type == "OVN Controller agent" and a.is_alive
                      for a in world.neutron.network.agents(host=name)),
          f"chassis {name} an alive OVN Controller agent")  # fmt: skip


def _start(world: World, *nics: tuple[str, str | None], host: t.Host | None = None) -> t.Vm:
    vm = world.vm(*nics)
    service = world.vm_service(vm.id)
    service.start()
    until(lambda: service.get().status == t.VmStatus.UP, f"VM {vm.name} up")
    if host is not None and service.get().host.id != host.id:
        service.migrate(host=t.Host(id=host.id))
    return vm


def _port(world: World, vm: t.Vm, nic: str = "nic1") -> object:
    return world.neutron.network.get_port(world.stored_ports()[world.nics(vm.id)[nic].id])


def _address(world: World, vm: t.Vm, nic: str = "nic1") -> str:
    return str(_port(world, vm, nic).fixed_ips[0]["ip_address"])  # type: ignore[attr-defined]


def _leased(world: World, vm: t.Vm, nic: str = "nic1") -> list[str]:
    service = world.vm_service(vm.id).nics_service().nic_service(world.nics(vm.id)[nic].id)
    devices = service.reported_devices_service().list()
    return [ip.address for d in devices for ip in d.ips if ip.version == t.IpVersion.V4]


def test_vms_get_their_addresses_from_ovn_dhcp_and_reach_each_other(
    ovn_world: World, central: OvnCentral, tmp_path: Path
) -> None:
    world = ovn_world
    with chassis(central, tmp_path / "h") as testbed:
        host = _ovn_host(world, testbed)
        left, right = _start(world, ("nic1", "a")), _start(world, ("nic1", "a"))
        for vm in (left, right):
            port = _port(world, vm)
            assert port.status == "ACTIVE" and port.binding_host_id == f"bed-{testbed.ns}"  # type: ignore[attr-defined]
            assert port.binding_vif_details["bound_drivers"] == {"0": "ovn"}  # type: ignore[attr-defined]
            until(lambda vm=vm: _leased(world, vm) == [_address(world, vm)], "the guest's address from OVN DHCP")
        routes = in_ns(testbed.vm_ns(left.id), "ip", "route").stdout
        subnet = world.neutron.network.get_subnet(_port(world, left).fixed_ips[0]["subnet_id"])  # type: ignore[attr-defined]
        assert f"default via {subnet.gateway_ip}" in routes
        network = world.networks["a"]
        assert f"mtu {network.mtu}" in in_ns(testbed.vm_ns(left.id), "ip", "link", "show", "nic1").stdout
        assert pings(testbed.vm_ns(left.id), _address(world, right))
        assert tcp_works(testbed.vm_ns(left.id), testbed.vm_ns(right.id), _address(world, right))
        for vm in (left, right):
            world.vm_service(vm.id).stop()
        assert host.id in world.agents


def _profile(world: World, key: str, groups: str) -> t.VnicProfile:
    """A new vNIC profile on the world's network ``key`` with the ``SecurityGroups`` custom property."""
    network_id = world.profiles[key].network.id
    service = world.system.networks_service().network_service(network_id).vnic_profiles_service()
    made = service.add(
        t.VnicProfile(
            name=f"sg-{os.urandom(3).hex()}", custom_properties=[t.CustomProperty(name="SecurityGroups", value=groups)]
        )
    )
    world.profiles[made.name] = made
    return made


def test_security_groups_filter_and_an_empty_property_filters_nothing(
    ovn_world: World, central: OvnCentral, tmp_path: Path
) -> None:
    world = ovn_world
    group = world.neutron.network.create_security_group(name="icmp-only")
    world.neutron.network.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                                     protocol="icmp", ethertype="IPv4")  # fmt: skip
    icmp_only, open_profile = _profile(world, "a", group.id), _profile(world, "a", "")
    with chassis(central, tmp_path / "h") as testbed:
        _ovn_host(world, testbed)
        client = _start(world, ("nic1", "a"))  # the provider's default group
        guarded, unguarded = _start(world, ("nic1", icmp_only.name)), _start(world, ("nic1", open_profile.name))
        assert _port(world, guarded).security_group_ids == [group.id]  # type: ignore[attr-defined]
        assert _port(world, unguarded).is_port_security_enabled is False  # type: ignore[attr-defined]
        for vm in (client, guarded, unguarded):
            until(lambda vm=vm: _leased(world, vm) == [_address(world, vm)], "the guest's address from OVN DHCP")
        ns = testbed.vm_ns
        assert pings(ns(client.id), _address(world, guarded))
        assert not tcp_works(ns(client.id), ns(guarded.id), _address(world, guarded))
        assert pings(ns(client.id), _address(world, unguarded))
        assert tcp_works(ns(client.id), ns(unguarded.id), _address(world, unguarded))
        # the default group lets in only its members: the unguarded VM is not one
        assert not pings(ns(unguarded.id), _address(world, client), count=2)
        for vm in (client, guarded, unguarded):
            world.vm_service(vm.id).stop()
    for vm_id in [v.id for v in world.system.vms_service().list(search=f"cluster={world.cluster.name}")]:
        world.vm_service(vm_id).remove()
    world.settle()
    world.neutron.network.delete_security_group(group.id)


def test_vms_on_two_subnets_joined_by_a_router_reach_each_other(
    ovn_world: World, central: OvnCentral, tmp_path: Path
) -> None:
    world = ovn_world
    router = world.neutron.network.create_router(name="ovn-e2e")
    subnets = [world.neutron.network.get_network(world.networks[key].id).subnet_ids[0] for key in ("a", "b")]
    for subnet in subnets:
        world.neutron.network.add_interface_to_router(router, subnet_id=subnet)
    try:
        with chassis(central, tmp_path / "h") as testbed:
            _ovn_host(world, testbed)
            left, right = _start(world, ("nic1", "a")), _start(world, ("nic1", "b"))
            for vm in (left, right):
                until(lambda vm=vm: _leased(world, vm) == [_address(world, vm)], "the guest's address from OVN DHCP")
            until(lambda: pings(testbed.vm_ns(left.id), _address(world, right)), "ping across the router")
            assert tcp_works(testbed.vm_ns(right.id), testbed.vm_ns(left.id), _address(world, left))
            for vm in (left, right):
                world.vm_service(vm.id).stop()
    finally:
        for subnet in subnets:
            world.neutron.network.remove_interface_from_router(router, subnet_id=subnet)
        world.neutron.network.delete_router(router)


def test_two_chassis_over_geneve_and_a_live_migration_moves_the_binding(
    ovn_world: World, central: OvnCentral, tmp_path: Path
) -> None:
    world = ovn_world
    with bed(tmp_path / "one") as one, bed(tmp_path / "two") as two:
        addresses = join(one, two)
        links = [f"ul{one.ns[2:]}", f"ul{two.ns[2:]}"]
        for testbed, link, address in zip((one, two), links, addresses, strict=True):
            underlay(testbed, link, address)
        with ovn_on(central, one, addresses[0]), ovn_on(central, two, addresses[1]):
            hosts = [_ovn_host(world, testbed) for testbed in (one, two)]
            by_host = {hosts[0].id: one, hosts[1].id: two}
            left, right = _start(world, ("nic1", "a"), host=hosts[0]), _start(world, ("nic1", "a"), host=hosts[1])

            def ns(vm: t.Vm) -> str:
                return by_host[world.vm_service(vm.id).get().host.id].vm_ns(vm.id)

            for vm in (left, right):
                until(lambda vm=vm: _leased(world, vm) == [_address(world, vm)], "the guest's address from OVN DHCP")
            until(lambda: pings(ns(left), _address(world, right)), "ping from one chassis to the other")
            assert tcp_works(ns(left), ns(right), _address(world, right))
            assert "geneve" in one.vsctl("--columns=type", "list", "Interface")

            world.vm_service(right.id).migrate(host=t.Host(id=hosts[0].id))
            assert world.vm_service(right.id).get().host.id == hosts[0].id
            port = _port(world, right)
            assert port.binding_host_id == f"bed-{one.ns}" and port.status == "ACTIVE"  # type: ignore[attr-defined]
            until(lambda: _leased(world, right) == [_address(world, right)], "the migrated guest's address")
            until(lambda: pings(ns(left), _address(world, right)), "ping after the migration")
            for vm in (left, right):
                world.vm_service(vm.id).stop()


@pytest.mark.skipif(guest_missing() is not None, reason=guest_missing() or "")
def test_a_real_guest_gets_its_address_from_ovn_dhcp_and_answers_ping(
    ovn_world: World, central: OvnCentral, tmp_path: Path
) -> None:
    world = ovn_world
    kernel, initrd = guest_image()
    tag = os.urandom(3).hex()
    name, bridge = f"guest-{tag}", f"bi{tag}"
    daemons = OvsDaemons(tmp_path / "root-ovs")  # in this machine's own namespace, where libvirtd makes QEMU's taps
    probe_ns, probe_link = f"xp{tag}", f"pr{tag}"
    try:
        daemons.start()
        host_bed = Bed("", daemons, f"xg{tag}")
        with ovn_on(central, host_bed, "127.0.0.1", name=name, bridge=bridge):
            host = world.host(runtime="libvirt", env={
                "EXTNET_HOST_OVSDB": daemons.remote, "EXTNET_HOST_INTEGRATION_BRIDGE": bridge,
                "EXTNET_HOST_BINDING_HOST": name, "EXTNET_HOST_L2": "none", "EXTNET_HOST_GUEST_IP": "dhcp",
                "EXTNET_HOST_VM_NETNS_PREFIX": f"xg{tag}", "EXTNET_HOST_GUEST_KERNEL": str(kernel),
                "EXTNET_HOST_GUEST_INITRD": str(initrd)})  # fmt: skip
            _chassis_alive(world, name)
            guest = _start(world, ("nic1", "a"), host=host)
            address = _address(world, guest)
            # the probe: a namespace plugged into the same switch as a port of the provider's (bound here)
            probe = world.neutron.network.create_port(
                network_id=world.networks["a"].id, binding_host_id=name, device_owner="extnet:probe"
            )
            _probe(probe_ns, probe_link, probe.mac_address, probe.fixed_ips[0]["ip_address"])
            host_bed.vsctl("add-port", bridge, probe_link, "--", "set", "Interface", probe_link,
                           f"external_ids:iface-id={probe.id}")  # fmt: skip
            until(lambda: world.neutron.network.get_port(probe.id).status == "ACTIVE", "the probe's port bound")
            until(lambda: pings(probe_ns, address, count=1, wait=2), "the real guest answers at its DHCP address",
                  deadline_s=150)  # fmt: skip
            host_bed.vsctl("del-port", bridge, probe_link)
            world.neutron.network.delete_port(probe.id)
            world.vm_service(guest.id).stop()
    finally:  # the guest's domain lives in this machine's libvirtd: never leave it behind, whatever failed
        listed = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--all", "--name"], capture_output=True,
                                text=True)  # fmt: skip
        for domain in listed.stdout.split():
            if domain.startswith(f"xg{tag}-"):
                subprocess.run(["virsh", "-c", "qemu:///system", "destroy", domain], capture_output=True)
                subprocess.run(["virsh", "-c", "qemu:///system", "undefine", domain], capture_output=True)
        subprocess.run(["ip", "netns", "del", probe_ns], capture_output=True)
        daemons.stop()


def _probe(ns: str, link: str, mac: str, address: str) -> None:
    """A namespace whose ``eth0`` has the port's MAC and address; ``link`` its other end, here."""
    commands = [["ip", "netns", "add", ns],
                ["ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns],
                ["ip", "-n", ns, "link", "set", "eth0", "address", mac],
                ["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"],
                ["ip", "-n", ns, "link", "set", "eth0", "up"], ["ip", "link", "set", link, "up"]]  # fmt: skip
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)


_PEER = ("import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
         "s.bind(('0.0.0.0', 5002)); s.listen(); print('listening', flush=True); c, a = s.accept(); "
         "print(a[0], flush=True); c.close()")  # fmt: skip


def _peer_seen(client_ns: str, server_ns: str, address: str) -> str:
    """The source address a TCP connection from ``client_ns`` arrives with at ``server_ns``."""
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, sys.executable, "-c", _PEER],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        connect = f"import socket; socket.create_connection(('{address}', 5002), timeout=3).close()"
        in_ns(client_ns, sys.executable, "-c", connect)
        return server.stdout.readline().strip()
    finally:
        server.kill()
        server.wait()


def _external_network(world: World, cidr: str) -> tuple[object, t.VnicProfile]:
    """An external network on the provider, imported into the engine, and an open vNIC profile on it (the host
    outside takes any traffic: a default group would not)."""
    neutron = world.neutron.network
    ext = neutron.create_network(name=f"ext-{os.urandom(3).hex()}", is_router_external=True)
    neutron.create_subnet(network_id=ext.id, cidr=cidr, ip_version=4)
    world.networks["ext"] = ext
    answer = world.rest.post(f"openstacknetworkproviders/{world.registered.id}/networks/{ext.id}/import",
                             json={"data_center": {"id": world.dc.id}, "attach_to_all_clusters": True})  # fmt: skip
    assert answer.status_code == 200, answer.text
    [engine_net] = world.system.networks_service().list(search=f"name={ext.name} and datacenter={world.dc.name}")
    profiles = world.system.networks_service().network_service(engine_net.id).vnic_profiles_service()
    world.profiles["ext"] = profiles.list()[0]
    return ext, _profile(world, "ext", "")


def test_a_router_gateway_snats_its_subnets_to_the_external_network(
    ovn_world: World, central: OvnCentral, tmp_path: Path
) -> None:
    world = ovn_world
    neutron = world.neutron.network
    ext, open_ext = _external_network(world, "10.95.0.0/24")
    inner = neutron.get_network(world.networks["a"].id).subnet_ids[0]
    router = neutron.create_router(name="ovn-gw", external_gateway_info={"network_id": ext.id, "enable_snat": True})
    neutron.add_interface_to_router(router, subnet_id=inner)
    gateway_ip = router.external_gateway_info["external_fixed_ips"][0]["ip_address"]
    try:
        with chassis(central, tmp_path / "h") as testbed:
            _ovn_host(world, testbed)
            inside, outside = _start(world, ("nic1", "a")), _start(world, ("nic1", open_ext.name))
            for vm in (inside, outside):
                until(lambda vm=vm: _leased(world, vm) == [_address(world, vm)], "the guest's address from OVN DHCP")
            [gateway] = neutron.ports(device_id=router.id, device_owner="network:router_gateway")
            assert f"bed-{testbed.ns}" in central.nbctl("--columns=chassis_name", "find", "Gateway_Chassis",
                                                        f"name=lrp-{gateway.id}_bed-{testbed.ns}")  # fmt: skip
            until(lambda: pings(testbed.vm_ns(inside.id), _address(world, outside)), "ping out through the router")
            seen = _peer_seen(testbed.vm_ns(inside.id), testbed.vm_ns(outside.id), _address(world, outside))
            assert seen == gateway_ip  # the router's SNAT: the inside address never shows outside
            for vm in (inside, outside):
                world.vm_service(vm.id).stop()
    finally:
        neutron.remove_interface_from_router(router, subnet_id=inner)
        neutron.update_router(router, external_gateway_info={})
        neutron.delete_router(router)


def test_a_floating_ip_reaches_a_vm_from_the_external_network(
    ovn_world: World, central: OvnCentral, tmp_path: Path
) -> None:
    world = ovn_world
    neutron = world.neutron.network
    ext, open_ext = _external_network(world, "10.96.0.0/24")
    open_inner = _profile(world, "a", "")  # the VM takes what comes through its floating IP
    inner = neutron.get_network(world.networks["a"].id).subnet_ids[0]
    router = neutron.create_router(name="ovn-fip", external_gateway_info={"network_id": ext.id})
    neutron.add_interface_to_router(router, subnet_id=inner)
    try:
        with chassis(central, tmp_path / "h") as testbed:
            _ovn_host(world, testbed)
            inside, outside = _start(world, ("nic1", open_inner.name)), _start(world, ("nic1", open_ext.name))
            for vm in (inside, outside):
                until(lambda vm=vm: _leased(world, vm) == [_address(world, vm)], "the guest's address from OVN DHCP")
            fip = neutron.create_ip(floating_network_id=ext.id, port_id=_port(world, inside).id)  # type: ignore[attr-defined]
            address = str(fip.floating_ip_address)
            outside_ns, inside_ns = testbed.vm_ns(outside.id), testbed.vm_ns(inside.id)
            until(lambda: pings(outside_ns, address), "ping the floating IP from the external network")
            assert _peer_seen(outside_ns, inside_ns, address) == _address(world, outside)  # DNAT in, the source kept
            assert _peer_seen(inside_ns, outside_ns, _address(world, outside)) == address  # SNAT out: its own address
            neutron.update_ip(fip, port_id=None)
            until(lambda: not pings(outside_ns, address), "the floating IP answers no longer once disassociated")
            neutron.delete_ip(fip)
            for vm in (inside, outside):
                world.vm_service(vm.id).stop()
    finally:
        for left in neutron.ips(floating_network_id=ext.id):  # type: ignore[attr-defined]
            neutron.delete_ip(left)
        neutron.remove_interface_from_router(router, subnet_id=inner)
        neutron.update_router(router, external_gateway_info={})
        neutron.delete_router(router)
