"""The engine and real host agents (and the built-in provider) as separate processes: pairing on host add, status
following the agent, what the agent reports, re-pairing, heartbeats handed to the agent, unpairing on removal.

The engine here is this module's own, with a short host monitor interval; the provider's agent down time is short.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from tests.host.rpc import Rpc
from tests.polling import until
from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD
from tests.provider.process import ProviderProcess, run_provider
from tests.servers import ADMIN_PASSWORD, EngineProcess, HostAgentProcess, free_port, run_engine, scratch_database
from tests.up import running_up, up_env

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip
MONITOR_INTERVAL_S = 0.3
StartAgent = Callable[..., HostAgentProcess]


@pytest.fixture(scope="module")
def hengine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    env = {"EXTNET_HOST_MONITOR_INTERVAL": str(MONITOR_INTERVAL_S), "EXTNET_HOST_CONNECT_TIMEOUT": "2"}
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_engine(tmp_path_factory.mktemp("hengine"), url, env=env) as process,
    ):
        yield process
        assert "Traceback" not in process.log(), process.log()[-5000:]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_provider(tmp_path_factory.mktemp("hprovider"), url, env={"EXTNET_PROVIDER_AGENT_DOWN_TIME": "2"}) as p,
    ):
        yield p


@pytest.fixture(scope="module")
def neutron(provider: ProviderProcess) -> Iterator[Connection]:
    connection = provider.connect()
    yield connection
    connection.close()


@pytest.fixture
def system(hengine: EngineProcess) -> Iterator[sdk.services.SystemService]:
    connection = sdk.Connection(url=hengine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=60)
    yield connection.system_service()
    connection.close()


@pytest.fixture
def rest(hengine: EngineProcess) -> Iterator[httpx.Client]:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    auth = ("admin@internal", ADMIN_PASSWORD)
    with httpx.Client(base_url=hengine.url + "/", auth=auth, timeout=60, headers=headers) as client:
        yield client


def name() -> str:
    return f"ha-{uuid.uuid4().hex[:8]}"


def add_host(system: sdk.services.SystemService, agent: HostAgentProcess, **fields: Any) -> t.Host:
    values: dict[str, Any] = {"name": name(), "address": agent.address, "port": agent.port,
                              "root_password": agent.password, "cluster": t.Cluster(name="Default")}  # fmt: skip
    values.update(fields)
    return system.hosts_service().add(t.Host(**values))


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def status_of(system: sdk.services.SystemService, host_id: str) -> t.HostStatus:
    return system.hosts_service().host_service(host_id).get().status


def events(rest: httpx.Client, host_id: str) -> list[dict[str, Any]]:
    return [e for e in rest.get("events").json().get("event", []) if (e.get("host") or {}).get("id") == host_id]


def identity(agent: HostAgentProcess) -> dict[str, Any]:
    return dict(Rpc(agent.url).call("Host.identify", {"password": agent.password}))


# --- pairing ---------------------------------------------------------------------------------------------------


def test_adding_a_host_pairs_it_and_keeps_what_its_agent_reports(
    system: sdk.services.SystemService, rest: httpx.Client, host_agent: StartAgent
) -> None:
    agent = host_agent()
    assert identity(agent)["paired"] is False
    host = add_host(system, agent)
    assert host.status == t.HostStatus.UP and host.root_password is None and host.status_detail is None
    assert host.version.full_version.startswith("extnet-host-")
    unique_id = identity(agent)["unique_id"]
    assert identity(agent)["paired"] is True

    reported = rest.get(f"hosts/{host.id}").json()["host_agent"]
    assert reported["unique_id"] == unique_id and reported["runtime"] == "noop"
    assert reported["binding_host_ids"] == {"property": [{"name": "open_vswitch", "value": unique_id}]}
    assert reported["plugin_types"] == {"plugin_type": ["open_vswitch"]}
    assert reported["bridges"] == {"bridge": ["br-int"]} and reported["vif_versions"] == {"vif_version": ["1.1"]}
    xml = rest.get(f"hosts/{host.id}", headers={"Accept": "application/xml"}).text
    assert "<host_agent>" in xml and "<name>open_vswitch</name>" in xml
    assert [e["code"] for e in events(rest, host.id)] == ["42"]


def test_a_host_whose_agent_refuses_or_is_not_there_is_not_added(
    system: sdk.services.SystemService, rest: httpx.Client, host_agent: StartAgent
) -> None:
    agent = host_agent()
    hosts = system.hosts_service()
    wrong = name()
    err = fault(lambda: add_host(system, agent, name=wrong, root_password="not-it"))
    where = f"{agent.address}:{agent.port}"
    assert err.code == 400 and f"Cannot add Host. Host '{wrong}': the agent at {where} refused the root_" in str(err)
    assert "EXTNET_HOST_PAIRING_PASSWORD" in str(err) and "Nothing was added" in str(err)
    missing = name()
    err = fault(lambda: add_host(system, agent, name=missing, root_password=None))
    assert err.code == 400 and f"Host '{missing}' needs a root_password" in str(err)
    agent.stop()
    gone = name()
    err = fault(lambda: add_host(system, agent, name=gone))
    assert err.code == 400 and f"Host '{gone}': cannot connect to its agent at {where} (connection refused)" in str(err)
    for refused in (wrong, missing, gone):
        assert hosts.list(search=f"name={refused}") == []
    descriptions = [e["description"] for e in rest.get("events").json()["event"] if e["code"] == "9701"]
    assert any(wrong in d for d in descriptions) and any(gone in d for d in descriptions)
    assert "not-it" not in " ".join(descriptions)


def test_one_agent_is_one_host(system: sdk.services.SystemService, host_agent: StartAgent) -> None:
    agent = host_agent(address="127.0.0.1")
    first = add_host(system, agent)
    err = fault(lambda: add_host(system, agent, address="localhost"))  # the same agent by another name
    assert err.code == 409 and f"is already the agent of host '{first.name}'" in str(err)
    # the first host's pairing is intact: the engine still reads its agent
    system.hosts_service().host_service(first.id).refresh()
    assert status_of(system, first.id) == t.HostStatus.UP


# --- status --------------------------------------------------------------------------------------------------------


def test_the_status_follows_the_agent(
    system: sdk.services.SystemService, rest: httpx.Client, host_agent: StartAgent
) -> None:
    agent = host_agent()
    host = add_host(system, agent)
    service = system.hosts_service().host_service(host.id)
    agent.kill()
    until(lambda: status_of(system, host.id) == t.HostStatus.NON_RESPONSIVE, "non_responsive after the agent died")
    detail = service.get().status_detail
    assert f"Host '{host.name}': cannot connect to its agent at {agent.address}:{agent.port}" in detail
    agent.start()
    until(lambda: status_of(system, host.id) == t.HostStatus.UP, "up again once the agent is back")
    assert service.get().status_detail is None
    assert [e["code"] for e in events(rest, host.id)][:2] == ["13", "12"]  # newest first

    # maintenance stays maintenance, whatever the agent does
    service.deactivate()
    agent.kill()
    deadline = time.monotonic() + 5 * MONITOR_INTERVAL_S
    while time.monotonic() < deadline:
        assert status_of(system, host.id) == t.HostStatus.MAINTENANCE
        time.sleep(MONITOR_INTERVAL_S / 3)
    service.activate()  # the agent is not there: activation says so
    got = service.get()
    assert got.status == t.HostStatus.NON_RESPONSIVE and "cannot connect" in got.status_detail
    agent.start()
    until(lambda: status_of(system, host.id) == t.HostStatus.UP, "up once the agent is back")


def test_an_agent_paired_by_someone_else_and_paired_again_with_install(
    system: sdk.services.SystemService, host_agent: StartAgent
) -> None:
    agent = host_agent()
    host = add_host(system, agent)
    service = system.hosts_service().host_service(host.id)
    Rpc(agent.url).pair(agent.password)  # another caller with the pairing password takes the agent
    until(lambda: status_of(system, host.id) == t.HostStatus.NON_RESPONSIVE, "non_responsive once unpaired")
    detail = service.get().status_detail
    assert "does not accept this engine's credentials" in detail and "install action" in detail
    err = fault(lambda: service.install(root_password="not-it"))
    assert err.code == 400 and "Cannot install Host." in str(err) and "refused the root_password" in str(err)
    err = fault(lambda: service.install())
    assert err.code == 400 and "Give root_password" in str(err)
    service.install(root_password=agent.password)
    assert service.get().status == t.HostStatus.UP
    until(lambda: status_of(system, host.id) == t.HostStatus.UP and service.get().status_detail is None, "stays up")


def test_what_the_agent_reports_follows_it(rest: httpx.Client, system: sdk.services.SystemService,
                                          host_agent: StartAgent) -> None:  # fmt: skip
    agent = host_agent()
    host = add_host(system, agent)
    agent.stop()
    agent.env = {**agent.env, "EXTNET_HOST_BRIDGES": "br-int,br-ex", "EXTNET_HOST_BRIDGE_MAPPINGS": "physnet1:br-ex"}
    agent.start()

    def reported() -> dict[str, Any]:
        return dict(rest.get(f"hosts/{host.id}").json()["host_agent"])

    until(lambda: reported()["bridges"] == {"bridge": ["br-int", "br-ex"]}, "the new bridges reported")
    assert reported()["bridge_mappings"] == {"property": [{"name": "physnet1", "value": "br-ex"}]}


def test_removing_a_host_unpairs_its_agent(system: sdk.services.SystemService, host_agent: StartAgent) -> None:
    agent = host_agent()
    host = add_host(system, agent)
    service = system.hosts_service().host_service(host.id)
    service.deactivate()
    service.remove()
    until(lambda: identity(agent)["paired"] is False, "the agent forgets the engine")


# --- heartbeats ----------------------------------------------------------------------------------------------------


def add_provider(system: sdk.services.SystemService, provider: ProviderProcess) -> t.OpenStackNetworkProvider:
    return system.openstack_network_providers_service().add(t.OpenStackNetworkProvider(
        name=name(), type=t.OpenStackNetworkProviderType.EXTERNAL, url=provider.network_url,
        requires_authentication=True, username="admin", password=PROVIDER_PASSWORD,
        authentication_url=provider.auth_url, project_name="admin", user_domain_name="Default",
        project_domain_name="Default",
    ))  # fmt: skip


def alive_on(neutron: Connection, host: str) -> bool:
    found = next(iter(neutron.network.agents(host=host)), None)
    return bool(found is not None and found.is_alive)


def test_heartbeats_keep_the_host_alive_on_the_provider(
    system: sdk.services.SystemService, rest: httpx.Client, host_agent: StartAgent, provider: ProviderProcess,
    neutron: Connection,
) -> None:  # fmt: skip
    first_agent, second_agent = host_agent(), host_agent()
    first = add_host(system, first_agent)  # before the provider
    binding = identity(first_agent)["unique_id"]
    added = add_provider(system, provider)
    until(lambda: alive_on(neutron, binding), "the first host alive on the provider once the provider is added")
    second = add_host(system, second_agent)  # after the provider
    until(lambda: alive_on(neutron, identity(second_agent)["unique_id"]), "the second host alive once it is added")

    def heartbeats(host_id: str) -> list[dict[str, Any]]:
        beats = rest.get(f"hosts/{host_id}").json()["host_agent"].get("heartbeats") or {}
        return list(beats.get("heartbeat", []))

    beat = until(lambda: [b for b in heartbeats(first.id) if b["state"] == "alive"], "the heartbeat reported")[0]
    assert beat["openstack_network_provider"]["id"] == added.id and beat["name"] == added.name
    assert PROVIDER_PASSWORD not in first_agent.log() and PROVIDER_PASSWORD not in rest.get("hosts").text

    # the agent stops: dead on the provider (after its down time), non_responsive in the engine
    first_agent.stop()
    until(lambda: not alive_on(neutron, binding), "dead on the provider once the agent stopped")
    until(lambda: status_of(system, first.id) == t.HostStatus.NON_RESPONSIVE, "non_responsive")
    # back: the engine hands it the providers again (it kept them in memory only)
    first_agent.start()
    until(lambda: alive_on(neutron, binding), "alive again once the agent is back")
    until(lambda: status_of(system, first.id) == t.HostStatus.UP, "up again")

    # the provider removed: no more heartbeats to it
    system.openstack_network_providers_service().provider_service(added.id).remove()
    until(lambda: not alive_on(neutron, binding), "dead on the provider once the engine no longer has it")
    until(lambda: heartbeats(first.id) == [], "no heartbeat reported")
    for host in (first, second):
        service = system.hosts_service().host_service(host.id)
        service.deactivate()
        service.remove()


# --- extnet up ---------------------------------------------------------------------------------------------------


@pytest.mark.database_agnostic  # extnet up runs on its embedded SQLite
def test_up_runs_a_local_host_agent_paired_as_host_local(tmp_path: Path) -> None:
    host_port = free_port()
    env = {**up_env(EXTNET_ADMIN_PASSWORD="up-pw"), "EXTNET_HOST_LISTEN": f"127.0.0.1:{host_port}"}
    data_dir = tmp_path / "state"
    for run in (1, 2):  # the second start finds the host already paired
        with running_up(data_dir, env) as up:
            up.wait_for(rf"host:\s+'local' of cluster Default, runtime noop \(agent http://127\.0\.0\.1:{host_port}"
                        r"/jsonrpc\)")  # fmt: skip
            up.answers()
            with httpx.Client(base_url=f"{up.base}/ovirt-engine/api/", auth=("admin@internal", "up-pw"),
                              headers={"Accept": "application/json"}, timeout=30) as client:  # fmt: skip

                def local() -> list[dict[str, Any]]:
                    return list(client.get("hosts", params={"search": "name=local"}).json().get("host", []))

                [host] = until(lambda: [h for h in local() if h["status"] == "up"], f"host local up (run {run})")
                assert (host["address"], host["port"]) == ("127.0.0.1", str(host_port))
                default = client.get("clusters", params={"search": "name=Default"}).json()["cluster"][0]
                assert host["cluster"]["id"] == default["id"] and host["host_agent"]["runtime"] == "noop"
            assert up.interrupt() == 0, up.output()
            assert "Traceback" not in up.output()
