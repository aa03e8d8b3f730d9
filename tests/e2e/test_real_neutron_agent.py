"""The seed's own set-up, for real: a real Neutron 29 (ML2/OVS, RabbitMQ as its bus, its RPC server) and its real
``neutron-openvswitch-agent`` on the host's Open vSwitch, both from PyPI (``scripts/real-neutron.sh``), registered
in the engine as an external provider. VMs started through the engine (ovirtsdk4) get their ports bound to the
host's binding host id (the agent's ``host``); the extnet host agent (``netns`` runtime, ``--l2 none``) only plugs
them on ``br-int``; the real agent wires them, reports them up, the ports turn ACTIVE, and the two VMs reach each
other (ping and TCP).

It starts a Neutron of its own (another port, another database, its own exchange on the broker), so it runs apart
from the conformance suite's: ``EXTNET_REAL_NEUTRON_AGENT=1`` (the real-Neutron pass of ``scripts/test.sh`` sets
it). Needs root, Debian's Open vSwitch and RabbitMQ on 127.0.0.1:5672. Its Open vSwitch runs in this machine's own
namespace (the agent's OpenFlow controller listens on 127.0.0.1 there), with bridges br-int and br-tun.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from extnet.host.ovs_daemons import OvsDaemons
from tests.dataplane import missing as dataplane_missing
from tests.dataplane import pings, tcp_works
from tests.polling import until
from tests.provider.process import connect
from tests.servers import ADMIN_PASSWORD, HostAgentProcess, run_engine, run_host_agent

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "extnet-real-agent"
NEUTRON_PORT, KEYSTONE_PORT = 19797, 15100


def _why_not() -> str | None:
    if os.environ.get("EXTNET_REAL_NEUTRON_AGENT") != "1":
        return "runs in the real-Neutron pass (EXTNET_REAL_NEUTRON_AGENT=1): it starts a real Neutron and its agent"
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        return "needs RabbitMQ on 127.0.0.1:5672 (rabbitmq-server -detached)"
    return dataplane_missing()


pytestmark = [pytest.mark.skipif(_why_not() is not None, reason=_why_not() or ""), pytest.mark.dataplane,
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip


@dataclass
class Lab:
    env: dict[str, str]
    neutron: Connection
    daemons: OvsDaemons
    host: str

    def script(self, *args: str) -> None:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "real-neutron.sh"), *args], env=self.env,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    env = {**os.environ, "REAL_NEUTRON_DIR": str(tmp_path / "neutron"), "REAL_NEUTRON_PORT": str(NEUTRON_PORT),
           "REAL_KEYSTONE_PORT": str(KEYSTONE_PORT), "REAL_NEUTRON_RPC": "rabbit", "REAL_NEUTRON_AGENTS": "",
           "REAL_NEUTRON_PASSWORD": PASSWORD}  # fmt: skip
    daemons = OvsDaemons(tmp_path / "ovs")
    made = Lab(env, None, daemons, f"real-agent-{uuid.uuid4().hex[:6]}")  # type: ignore[arg-type]
    try:
        made.script("start")
        daemons.start()
        made.script("agent-start", made.host, str(daemons.socket))
        made.neutron = connect(f"http://127.0.0.1:{KEYSTONE_PORT}/v3", "admin", PASSWORD, "admin")
        until(lambda: any(a.is_alive for a in made.neutron.network.agents(host=made.host)),
              "the real neutron-openvswitch-agent alive on Neutron", deadline_s=180)  # fmt: skip
        yield made
    finally:
        made.script("stop")
        daemons.stop()


def test_the_real_agent_wires_the_ports_the_engine_binds(lab: Lab, tmp_path: Path) -> None:
    network = lab.neutron.network.create_network(name="real-red")
    lab.neutron.network.create_subnet(network_id=network.id, cidr="10.77.0.0/24", ip_version=4, name="real-red-v4")
    prefix = f"xr{uuid.uuid4().hex[:6]}"
    agent_env = {"EXTNET_HOST_OVSDB": lab.daemons.remote, "EXTNET_HOST_L2": "none",
                 "EXTNET_HOST_BINDING_HOST": lab.host, "EXTNET_HOST_VM_NETNS_PREFIX": prefix}  # fmt: skip
    with (
        run_engine(tmp_path / "engine", env={"EXTNET_HOST_MONITOR_INTERVAL": "0.5"}) as engine,
        run_host_agent(tmp_path / "host", env=agent_env, runtime="netns") as agent,
    ):
        connection = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=120)
        system = connection.system_service()
        try:
            vms = _two_vms(system, agent, network.id, f"http://127.0.0.1:{NEUTRON_PORT}")
            ports = [list(lab.neutron.network.ports(device_id=nic.id)) for _vm, nic in vms]
            for [port] in ports:
                assert port.binding_host_id == lab.host and port.binding_vif_type == "ovs"
                assert port.status == "ACTIVE"  # the engine waited for it: the real agent reported it up
            tags = [_tag(lab, port.id) for [port] in ports]
            assert tags[0] == tags[1] and tags[0] not in ("[]", "4095")  # the agent's local VLAN, not its dead one
            first, second = (f"{prefix}-{vm.id}" for vm, _nic in vms)
            address = ports[1][0].fixed_ips[0]["ip_address"]
            until(lambda: pings(first, address), "ping between the VMs the real agent wired", deadline_s=60)
            assert tcp_works(first, second, address)
            for vm, _nic in vms:
                system.vms_service().vm_service(vm.id).stop()
            until(lambda: all(p.status == "DOWN" for p in lab.neutron.network.ports(network_id=network.id)
                              if p.device_owner == "oVirt"), "the ports DOWN once unplugged")  # fmt: skip
        finally:
            connection.close()


def _two_vms(system: sdk.services.SystemService, agent: HostAgentProcess, network_id: str,
             url: str) -> list[tuple[t.Vm, t.Nic]]:  # fmt: skip
    name = uuid.uuid4().hex[:6]
    dc = system.data_centers_service().add(t.DataCenter(name=f"dc-{name}", local=False))
    cluster = system.clusters_service().add(t.Cluster(name=f"cl-{name}", data_center=t.DataCenter(id=dc.id),
                                                      cpu=t.Cpu(architecture=t.Architecture.X86_64)))  # fmt: skip
    provider = system.openstack_network_providers_service().add(t.OpenStackNetworkProvider(
        name=f"neutron-{name}", type=t.OpenStackNetworkProviderType.EXTERNAL, url=url, requires_authentication=True,
        username="admin", password=PASSWORD, authentication_url=f"http://127.0.0.1:{KEYSTONE_PORT}/v3",
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        external_plugin_type="OPEN_VSWITCH"))  # fmt: skip
    imported = system.openstack_network_providers_service().provider_service(provider.id).networks_service()
    imported.network_service(network_id).import_(data_center=t.DataCenter(id=dc.id))
    [engine_network] = system.networks_service().list(search=f"name=real-red and datacenter={dc.name}")
    system.clusters_service().cluster_service(cluster.id).networks_service().add(t.Network(id=engine_network.id))
    [profile] = system.networks_service().network_service(engine_network.id).vnic_profiles_service().list()
    host = system.hosts_service().add(t.Host(name=f"host-{name}", address=agent.address, port=agent.port,
                                             root_password=agent.password, cluster=t.Cluster(id=cluster.id)))
    until(lambda: system.hosts_service().host_service(host.id).get().status == t.HostStatus.UP, "the host up")
    made = []
    for n in (1, 2):
        vm = system.vms_service().add(t.Vm(name=f"vm{n}-{name}", cluster=t.Cluster(id=cluster.id),
                                           template=t.Template(name="Blank")))  # fmt: skip
        service = system.vms_service().vm_service(vm.id)
        nic = service.nics_service().add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=profile.id)))
        service.start()
        assert service.get().status == t.VmStatus.UP
        made.append((vm, nic))
    return made


def _tag(lab: Lab, port_id: str) -> str:
    name = f"tap{port_id[:11]}"
    done = subprocess.run(["ovs-vsctl", f"--db={lab.daemons.remote}", "get", "Port", name, "tag"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()
