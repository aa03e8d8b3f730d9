"""End-to-end fixtures: the engine, the built-in provider and host agents (noop runtime) as separate processes on
127.0.0.1, the engine driven with ovirtsdk4 (and JSON), the provider checked with openstacksdk.

``world`` gives each test a data center and cluster of its own, the provider registered in the engine, two provider
networks (with a subnet each) imported into the data center and attached to the cluster, and helpers to add hosts
and VMs. ``EXTNET_TEST_DATABASE_URL`` runs the engine and the provider on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection
from sqlalchemy import select

from extnet.engine.store.db import Database
from extnet.engine.store.models import EngineState, VmNic
from tests.e2e.helpers import FlakyProxy, Provider, flaky_proxy, provider_process
from tests.polling import until
from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD
from tests.servers import ADMIN_PASSWORD, EngineProcess, HostAgentProcess, run_engine, scratch_database

ENGINE_ENV = {
    "EXTNET_HOST_MONITOR_INTERVAL": "0.2", "EXTNET_HOST_CONNECT_TIMEOUT": "2", "EXTNET_PROVIDER_CONNECT_TIMEOUT": "2",
    "EXTNET_PROVIDER_READ_TIMEOUT": "5", "EXTNET_RECONCILE_INTERVAL": "0", "EXTNET_PORT_ACTIVE_TIMEOUT": "15",
    "EXTNET_VM_LOCK_WAIT": "8", "EXTNET_HOST_FIRST_BEAT_WAIT": "2",
}  # fmt: skip
StartAgent = Callable[..., HostAgentProcess]


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        provider_process(tmp_path_factory.mktemp("e2e-provider"), url, {"EXTNET_PROVIDER_AGENT_DOWN_TIME": "20"}) as p,
    ):
        yield p


@pytest.fixture(scope="session")
def e2e_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_engine(tmp_path_factory.mktemp("e2e-engine"), url, env=ENGINE_ENV) as process,
    ):
        yield process
        assert "Traceback" not in process.log(), process.log()[-6000:]


@pytest.fixture(scope="session")
def engine_db(e2e_engine: EngineProcess) -> Iterator[Database]:
    db = Database(e2e_engine.database_url or f"sqlite:///{e2e_engine.data_dir / 'engine.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture
def system(e2e_engine: EngineProcess) -> Iterator[sdk.services.SystemService]:
    connection = sdk.Connection(url=e2e_engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=120)
    yield connection.system_service()
    connection.close()


@pytest.fixture
def rest(e2e_engine: EngineProcess) -> Iterator[httpx.Client]:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    with httpx.Client(base_url=e2e_engine.url + "/", auth=("admin@internal", ADMIN_PASSWORD), timeout=120,
                      headers=headers) as client:  # fmt: skip
        yield client


@pytest.fixture(scope="session")
def neutron(provider: Provider) -> Iterator[Connection]:
    connection = provider.connect()
    yield connection
    connection.close()


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


@dataclass
class World:
    """A data center of a test's own, with external networks ``a`` and ``b`` of the provider attached to its
    cluster (their profiles ``profile_a``, ``profile_b``) and the management network's profile ``mgmt``."""

    system: sdk.services.SystemService
    rest: httpx.Client
    neutron: Connection
    db: Database
    provider: Provider
    start_agent: StartAgent
    dc: t.DataCenter
    cluster: t.Cluster
    registered: t.OpenStackNetworkProvider
    networks: dict[str, Any] = field(default_factory=dict)  # "a"/"b" -> openstacksdk network
    profiles: dict[str, t.VnicProfile] = field(default_factory=dict)  # "a", "b", "mgmt"
    agents: dict[str, HostAgentProcess] = field(default_factory=dict)  # host id -> its agent
    extra: list[str] = field(default_factory=list)  # providers registered besides ``registered``

    def register(self, url: str | None = None, **fields: Any) -> t.OpenStackNetworkProvider:
        """The provider registered once more (another plugin type, another URL), removed with the world."""
        made = register(self.system, self.provider, url, **fields)
        self.extra.append(made.id)
        return made

    # --- building ---------------------------------------------------------------------------------------------

    def external_network(self, key: str, registered: t.OpenStackNetworkProvider | None = None) -> None:
        network = self.neutron.network.create_network(name=name(f"net{key}"))
        self.neutron.network.create_subnet(network_id=network.id, cidr=f"10.{40 + len(self.networks)}.0.0/24",
                                           ip_version=4, name=name("sub"))  # fmt: skip
        self.networks[key] = network
        provider_id = (registered or self.registered).id
        answer = self.rest.post(f"openstacknetworkproviders/{provider_id}/networks/{network.id}/import",
                                json={"data_center": {"id": self.dc.id}, "attach_to_all_clusters": True})  # fmt: skip
        assert answer.status_code == 200, answer.text
        [engine_network] = self.system.networks_service().list(
            search=f"name={network.name} and datacenter={self.dc.name}"
        )
        [profile] = self.system.networks_service().network_service(engine_network.id).vnic_profiles_service().list()
        self.profiles[key] = profile

    def host(self, wait_alive: bool = True, **agent_args: Any) -> t.Host:
        """A host of the world's cluster with an agent of its own (alive on the provider, unless told not to wait)."""
        agent = self.start_agent(**agent_args)
        host = self.system.hosts_service().add(t.Host(name=name("host"), address=agent.address, port=agent.port,
                                                      root_password=agent.password,
                                                      cluster=t.Cluster(id=self.cluster.id)))  # fmt: skip
        self.agents[host.id] = agent
        if wait_alive:
            binding = self.binding(host.id)
            until(lambda: any(a.is_alive for a in self.neutron.network.agents(host=binding)),
                  f"the agent of host {host.name} alive on the provider")  # fmt: skip
        return host

    def binding(self, host_id: str) -> str:
        reported = self.rest.get(f"hosts/{host_id}").json()["host_agent"]["binding_host_ids"]["property"]
        return str(next(p["value"] for p in reported if p["name"] == "open_vswitch"))

    def vm(self, *nics: tuple[str, str | None] | tuple[str, str | None, bool]) -> t.Vm:
        """A VM of the world's cluster with vNICs (name, profile key or None, [plugged])."""
        vm = self.system.vms_service().add(t.Vm(name=name("vm"), cluster=t.Cluster(id=self.cluster.id),
                                                template=t.Template(name="Blank")))  # fmt: skip
        for nic in nics:
            self.add_nic(vm.id, *nic)
        return vm

    def add_nic(self, vm_id: str, nic_name: str, profile: str | None, plugged: bool = True) -> t.Nic:
        wanted = t.Nic(name=nic_name, plugged=plugged,
                       vnic_profile=t.VnicProfile(id=self.profiles[profile].id) if profile else None)  # fmt: skip
        return self.vm_service(vm_id).nics_service().add(wanted)

    # --- reading -----------------------------------------------------------------------------------------------

    def vm_service(self, vm_id: str) -> sdk.services.VmService:
        return self.system.vms_service().vm_service(vm_id)

    def nics(self, vm_id: str) -> dict[str, t.Nic]:
        return {nic.name: nic for nic in self.vm_service(vm_id).nics_service().list()}

    def ports(self, device_id: str) -> list[Any]:
        return list(self.neutron.network.ports(device_id=device_id))

    def port(self, device_id: str) -> Any:
        found = self.ports(device_id)
        assert len(found) == 1, f"vNIC {device_id} has {len(found)} ports"
        return found[0]

    def network_ports(self) -> list[Any]:
        return [p for key in self.networks for p in self.neutron.network.ports(network_id=self.networks[key].id)]

    def stored_ports(self) -> dict[str, str | None]:
        """{vNIC id: the port id the engine stored on it} for the vNICs of the world's networks' ports."""
        with self.db.transaction(write=False) as session:
            return {nic.id: nic.port_id for nic in session.scalars(select(VmNic))}

    def marker(self) -> str:
        with self.db.transaction(write=False) as session:
            row = session.get(EngineState, "engine_id")
            assert row is not None
            return f"extnet engine {row.value}"

    def events(self, code: int) -> list[dict[str, Any]]:
        return [
            e for e in self.rest.get("events", params={"max": "500"}).json().get("event", []) if e["code"] == str(code)
        ]

    def assert_consistent(self) -> None:
        """The invariant: every port on the world's networks is the stored port of an existing vNIC."""
        stored = self.stored_ports()
        for port in self.network_ports():
            assert port.device_owner == "oVirt" and stored.get(port.device_id) == port.id, (
                f"port {port.id} (device {port.device_id}) is not the stored port of an existing vNIC"
            )

    def settle(self) -> None:
        """Wait until the outbox has delivered, then check the invariant."""
        until(lambda: self._consistent(), "every port of the world's networks belongs to its vNIC")

    def _consistent(self) -> bool:
        try:
            self.assert_consistent()
        except AssertionError:
            return False
        return True


def build_world(system: sdk.services.SystemService, rest: httpx.Client, neutron: Connection, db: Database,
                provider: Provider, start_agent: StartAgent) -> World:  # fmt: skip
    dc = system.data_centers_service().add(t.DataCenter(name=name("dc"), local=False))
    cluster = system.clusters_service().add(t.Cluster(name=name("cl"), data_center=t.DataCenter(id=dc.id),
                                                      cpu=t.Cpu(architecture=t.Architecture.X86_64)))  # fmt: skip
    registered = register(system, provider)
    made = World(system, rest, neutron, db, provider, start_agent, dc, cluster, registered)
    made.external_network("a")
    made.external_network("b")
    [mgmt] = [p for p in system.vnic_profiles_service().list() if p.name == "ovirtmgmt"
              and system.networks_service().network_service(p.network.id).get().data_center.id == dc.id]  # fmt: skip
    made.profiles["mgmt"] = mgmt
    return made


@pytest.fixture
def world(system: sdk.services.SystemService, rest: httpx.Client, neutron: Connection, engine_db: Database,
          provider: Provider, host_agent: StartAgent) -> Iterator[World]:  # fmt: skip
    made = build_world(system, rest, neutron, engine_db, provider, host_agent)
    try:
        yield made
    finally:
        cleanup(made)


def register(system: sdk.services.SystemService, provider: Provider, url: str | None = None,
             **fields: Any) -> t.OpenStackNetworkProvider:  # fmt: skip
    values: dict[str, Any] = {
        "name": name("prov"), "type": t.OpenStackNetworkProviderType.EXTERNAL, "url": url or provider.network_url,
        "requires_authentication": True, "username": "admin", "password": PROVIDER_PASSWORD,
        "authentication_url": provider.auth_url, "project_name": "admin", "user_domain_name": "Default",
        "project_domain_name": "Default",
    }  # fmt: skip
    values.update(fields)
    return system.openstack_network_providers_service().add(t.OpenStackNetworkProvider(**values))


def cleanup(world: World) -> None:
    """Remove the world: its VMs (stopped, with force), the data center with force, then what is left on the
    provider (the ports first: a network with ports cannot be deleted)."""
    if world.provider.process is None or world.provider.process.poll() is not None:
        world.provider.start()
    with contextlib.suppress(sdk.Error):
        world.system.data_centers_service().data_center_service(world.dc.id).remove(force=True)
    for key, network in world.networks.items():
        with contextlib.suppress(Exception):
            for port in world.neutron.network.ports(network_id=network.id):
                world.neutron.network.delete_port(port.id, ignore_missing=True)
            world.neutron.network.delete_network(network.id, ignore_missing=True)
        del key
    for provider_id in (world.registered.id, *world.extra):
        with contextlib.suppress(sdk.Error):
            service = world.system.openstack_network_providers_service().provider_service(provider_id)
            service.remove(query={"force": "true"})


@pytest.fixture
def proxy(world: World) -> Iterator[FlakyProxy]:
    """The provider's network API behind a proxy that can go down or hang; network ``p`` is imported through it."""
    with flaky_proxy(world.provider.network_url) as made:
        registered = world.register(url=made.url)
        world.external_network("p", registered)
        yield made
        made.up()
