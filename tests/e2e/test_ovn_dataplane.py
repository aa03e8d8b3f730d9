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
from tests.dataplane import Bed, bed, in_ns, needs_dataplane, pings, tcp_works
from tests.e2e.conftest import StartAgent, World, build_world, cleanup
from tests.e2e.helpers import Provider, provider_process
from tests.ovn import OvnCentral, needs_ovn, ovn_central
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
def chassis(central: OvnCentral, base: Path, encap_ip: str = "127.0.0.1") -> Iterator[Bed]:
    """A test-bed host that is an OVN chassis: its ovn-controller, its OVS set up by ``extnet host setup ovn``."""
    with bed(base) as made:
        pid = central.controller(made.ovs.run_dir, made.ns)
        try:
            name = f"bed-{made.ns}"
            setup = subprocess.run(
                [sys.executable, "-m", "extnet", "host", "setup", "ovn", "--central", central.sb, "--encap-ip",
                 encap_ip, "--system-id", name, "--hostname", name, "--ovsdb", made.ovs.remote],
                capture_output=True, text=True, timeout=120, env={**os.environ, **made.ovs.env()},
            )  # fmt: skip
            assert setup.returncode == 0, setup.stdout + setup.stderr
            yield made
        finally:
            central.stop_daemon(pid)


def _ovn_host(world: World, testbed: Bed) -> t.Host:
    return world.host(runtime="netns", env=testbed.agent_env(EXTNET_HOST_L2="none", EXTNET_HOST_GUEST_IP="dhcp"))


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
        until(lambda: any(a.agent_type == "OVN Controller agent" and a.is_alive
                          for a in world.neutron.network.agents(host=f"bed-{testbed.ns}")),
              "the chassis an alive OVN Controller agent")  # fmt: skip
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
