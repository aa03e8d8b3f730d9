"""The engine and real host agents (and the built-in provider) as separate processes: pairing on host add, status
following the agent, what the agent reports, re-pairing, the agent's certificate pinned at pairing, heartbeats
handed to the agent, unpairing on removal.

The engine here is this module's own, with a short host monitor interval; the provider's agent down time is short.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from extnet.common.host_accounts import account_name
from extnet.common.tls import ensure_self_signed
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
def system(
    hengine: EngineProcess, system_of: Callable[[EngineProcess], sdk.services.SystemService]
) -> sdk.services.SystemService:
    return system_of(hengine)


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


# --- trust: TLS with the agent's certificate pinned at pairing --------------------------------------------------
# An impostor that takes a stopped agent's address gets a TLS handshake and nothing else, the host becomes
# non_responsive saying why, and pairing again (install with root_password) is what replaces the pin.


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"jsonrpc": "2.0", "id": 1, "result": {}}')

    def log_message(self, *args: object) -> None:
        pass


class _Impostor(ThreadingHTTPServer):
    """An HTTPS server with a certificate of its own, counting the TLS handshakes and keeping every request."""

    def __init__(self, address: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__((address, port), _Recorder)
        self.context = context
        self.handshakes = 0
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def get_request(self):  # type: ignore[no-untyped-def]
        sock, peer = self.socket.accept()
        wrapped = self.context.wrap_socket(sock, server_side=True)  # the handshake; a refusal fails it here
        self.handshakes += 1
        return wrapped, peer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the engine hanging up right after the handshake is what the test expects


@contextmanager
def impostor_at(agent: HostAgentProcess, tmp_path: Path) -> Iterator[_Impostor]:
    pair = ensure_self_signed(tmp_path, "impostor", agent.address, [agent.address])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert_path, pair.key_path)
    server = _Impostor(agent.address, agent.port, context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_an_impostor_at_a_paired_agents_address_gets_nothing(
    system: sdk.services.SystemService, rest: httpx.Client, host_agent: StartAgent, tmp_path: Path
) -> None:
    agent = host_agent()
    host = add_host(system, agent)
    until(lambda: status_of(system, host.id) == t.HostStatus.UP, "the host up")
    agent.stop()
    with impostor_at(agent, tmp_path) as impostor:
        until(lambda: impostor.handshakes >= 2, "the engine's monitor to try the impostor twice")
        got = system.hosts_service().host_service(host.id).get()
        detail = got.status_detail
        assert got.status == t.HostStatus.NON_RESPONSIVE
        assert "presents a certificate" in detail and "other than the one its agent was paired with" in detail
        assert "was sent nothing" in detail and "install action" in detail
        assert impostor.requests == [], "the impostor received a request"  # so nothing carrying a secret
    refused = [e for e in events(rest, host.id) if e["code"] == "9702"]
    assert refused and "other than the one its agent was paired with" in refused[0]["description"]
    assert refused[0]["severity"] == "error" and "sent it nothing" in refused[0]["description"]
    # the real agent back: up again, with the pin it was paired with
    agent.start()
    until(lambda: status_of(system, host.id) == t.HostStatus.UP, "up once the real agent is back")


def test_a_reinstalled_agent_is_refused_until_paired_again(
    system: sdk.services.SystemService, host_agent: StartAgent
) -> None:
    agent = host_agent()
    host = add_host(system, agent)
    service = system.hosts_service().host_service(host.id)
    agent.stop()
    for name in ("agent.key", "agent.crt"):  # the agent makes a new key and certificate at its next start
        (agent.data_dir / name).unlink()
    agent.start()
    until(lambda: "other than the one its agent was paired with" in (service.get().status_detail or ""),
          "the new certificate refused")  # fmt: skip
    assert service.get().status == t.HostStatus.NON_RESPONSIVE
    service.install(root_password=agent.password)  # pairing again pins the new certificate
    assert service.get().status == t.HostStatus.UP
    until(lambda: status_of(system, host.id) == t.HostStatus.UP and service.get().status_detail is None, "stays up")


def test_the_agent_serves_https_only(host_agent: StartAgent) -> None:
    agent = host_agent()
    with pytest.raises(httpx.TransportError):
        httpx.post(f"http://{agent.address}:{agent.port}/jsonrpc", json={}, timeout=5)
    certificate = (agent.data_dir / "agent.crt").read_text()
    assert "BEGIN CERTIFICATE" in certificate
    assert (agent.data_dir / "agent.key").stat().st_mode & 0o777 == 0o600
    assert agent.data_dir.stat().st_mode & 0o777 == 0o700


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


def test_the_agent_heartbeats_with_an_account_of_its_own_not_the_providers_password(
    system: sdk.services.SystemService, rest: httpx.Client, host_agent: StartAgent, tmp_path: Path
) -> None:
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_provider(tmp_path / "own-provider", url, env={"EXTNET_PROVIDER_AGENT_DOWN_TIME": "2"}) as own,
    ):
        neutron = own.connect()
        added = add_provider(system, own)
        agent = host_agent()
        host = add_host(system, agent)
        binding = identity(agent)["unique_id"]
        until(lambda: alive_on(neutron, binding), "the host alive on the provider")
        username = account_name(added.id, binding)  # it may report its own agent only
        account = neutron.identity.find_user(username)
        assert account is not None
        project = neutron.identity.find_project("admin")
        assert [r.name for r in neutron.identity.role_assignments_filter(project=project, user=account)] == [
            "host_agent"]  # fmt: skip
        # the provider's admin password changes behind the engine's back: the agent, restarted, still beats with its
        # own account (with the provider's password it could not)
        admin = neutron.identity.find_user("admin")
        neutron.identity.update_user(admin, password="changed-behind-the-engine")
        neutron.close()
        neutron = own.connect(password="changed-behind-the-engine")
        agent.stop()
        until(lambda: not alive_on(neutron, binding), "dead on the provider once the agent stopped")
        agent.start()
        until(lambda: alive_on(neutron, binding), "alive again, beating with its own account")
        # removing the host removes its account (with the provider's password back as the engine knows it)
        neutron.identity.update_user(neutron.identity.find_user("admin"), password=PROVIDER_PASSWORD)
        neutron.close()
        neutron = own.connect()
        service = system.hosts_service().host_service(host.id)
        service.deactivate()
        service.remove()
        until(lambda: neutron.identity.find_user(username) is None, "the host's account removed")
        system.openstack_network_providers_service().provider_service(added.id).remove()
        neutron.close()


# --- extnet up ---------------------------------------------------------------------------------------------------


@pytest.mark.database_agnostic  # extnet up runs on its embedded SQLite
def test_up_runs_a_local_host_agent_paired_as_host_local(tmp_path: Path) -> None:
    host_port = free_port()
    env = {**up_env(EXTNET_ADMIN_PASSWORD="up-pw"), "EXTNET_HOST_LISTEN": f"127.0.0.1:{host_port}"}
    data_dir = tmp_path / "state"
    for run in (1, 2):  # the second start finds the host already paired
        with running_up(data_dir, env) as up:
            up.wait_for(rf"host:\s+'local' of cluster Default, runtime noop \(agent https://127\.0\.0\.1:{host_port}"
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
