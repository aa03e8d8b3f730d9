"""``extnet provider --workers 2`` on PostgreSQL: two processes answer, concurrent creates from many clients spread
over both lose nothing and hand out no address twice, concurrent updates lose none, a dead worker is replaced, and
SIGTERM to the parent stops them all. Runs on PostgreSQL whatever the pass (``EXTNET_TEST_DATABASE_URL`` when it is
PostgreSQL, else the local server); skipped when no PostgreSQL answers."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.polling import until
from tests.provider.process import ProviderProcess, run_provider
from tests.servers import scratch_database

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HEADER = "x-extnet-worker"
SINGLE_CLIENTS, SINGLE_EACH = 8, 25
BULK_CLIENTS, BULK_EACH, BULK_SIZE = 4, 5, 20


def _postgres_server() -> str:
    configured = os.environ.get("EXTNET_TEST_DATABASE_URL", "")
    url = configured if configured.startswith("postgresql") else LOCAL_POSTGRES
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:
        pytest.skip(f"--workers needs PostgreSQL and none answers at {url}: {err}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def postgres() -> str:
    return _postgres_server()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, postgres: str) -> Iterator[ProviderProcess]:
    with (
        scratch_database(postgres) as url,
        run_provider(tmp_path_factory.mktemp("workers"), url, ["--workers", "2"]) as process,
    ):
        yield process


@pytest.fixture(scope="module")
def token(workers: ProviderProcess) -> str:
    return workers.token()


def _client(process: ProviderProcess, token: str) -> httpx.Client:
    """A client of its own connection (the kernel hands each new connection to one of the workers)."""
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    return httpx.Client(base_url=f"{process.network_url}/v2.0", headers=headers, timeout=120)


def _worker_of_new_connection(url: str) -> str:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    return response.headers[HEADER]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _both_workers(process: ProviderProcess) -> set[str]:
    seen: set[str] = set()
    until(lambda: seen.add(_worker_of_new_connection(process.network_url + "/")) or len(seen) == 2,
          "two worker processes answer")  # fmt: skip
    return seen


def test_two_worker_processes_answer(workers: ProviderProcess) -> None:
    seen = _both_workers(workers)
    assert {int(pid) for pid in seen} <= _children(workers.process.pid)
    assert str(workers.process.pid) not in seen


def _retrying(call: Callable[[], httpx.Response], conflicts: list[int]) -> httpx.Response:
    """The documented retryable answer: 409 ``Conflict`` (the provider gave up its own retries)."""
    while True:
        response = call()
        if response.status_code == 409 and response.json()["NeutronError"]["type"] == "Conflict":
            conflicts.append(1)
            continue
        return response


def test_concurrent_creates_lose_nothing_and_share_no_address(workers: ProviderProcess, token: str) -> None:
    with _client(workers, token) as api:
        network = api.post("/networks", json={"network": {"name": "workers"}}).json()["network"]
        subnet = {"network_id": network["id"], "ip_version": 4, "cidr": "10.20.0.0/16"}
        assert api.post("/subnets", json={"subnet": subnet}).status_code == 201
    failures: list[str] = []
    conflicts: list[int] = []
    served: set[str] = set()

    def single() -> None:
        with _client(workers, token) as api:
            for _ in range(SINGLE_EACH):
                response = _retrying(lambda: api.post("/ports", json={"port": {"network_id": network["id"]}}),
                                     conflicts)  # fmt: skip
                served.add(response.headers.get(HEADER, ""))
                if response.status_code != 201:
                    failures.append(response.text)

    def bulk() -> None:
        body = {"ports": [{"network_id": network["id"]}] * BULK_SIZE}
        with _client(workers, token) as api:
            for _ in range(BULK_EACH):
                response = _retrying(lambda: api.post("/ports", json=body), conflicts)
                served.add(response.headers.get(HEADER, ""))
                if response.status_code != 201 or len(response.json()["ports"]) != BULK_SIZE:
                    failures.append(response.text)

    threads = [threading.Thread(target=single) for _ in range(SINGLE_CLIENTS)]
    threads += [threading.Thread(target=bulk) for _ in range(BULK_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(served) == 2, served  # the creates were spread over both workers
    with _client(workers, token) as api:
        ports = api.get("/ports", params={"network_id": network["id"]}).json()["ports"]
    assert len(ports) == SINGLE_CLIENTS * SINGLE_EACH + BULK_CLIENTS * BULK_EACH * BULK_SIZE
    addresses = [ip["ip_address"] for port in ports for ip in port["fixed_ips"]]
    macs = [port["mac_address"] for port in ports]
    assert len(addresses) == len(ports) and len(set(addresses)) == len(addresses)
    assert len(set(macs)) == len(macs)
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("10.20.0.0/16") for a in addresses)


def _subnet(api: httpx.Client, name: str, cidr: str) -> str:
    network = api.post("/networks", json={"network": {"name": name}}).json()["network"]
    response = api.post("/subnets", json={"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": cidr}})
    assert response.status_code == 201, response.text
    return str(network["id"])


def _in_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_creates_fill_a_small_subnet_exactly(workers: ProviderProcess, token: str) -> None:
    """Clients of both workers create ports on a /26 until it is full: every pool address is handed out once,
    the full subnet answers Neutron's IpAddressGenerationFailure, and nothing answers a 500."""
    with _client(workers, token) as api:
        network_id = _subnet(api, "small", "10.40.0.0/26")
    created: list[str] = []
    failures: list[str] = []

    def fill(_: int) -> None:
        with _client(workers, token) as api:
            while True:
                response = _retrying(lambda: api.post("/ports", json={"port": {"network_id": network_id}}), [])
                if response.status_code == 201:
                    created.append(response.json()["port"]["fixed_ips"][0]["ip_address"])
                    continue
                if (
                    response.status_code != 409
                    or response.json()["NeutronError"]["type"] != "IpAddressGenerationFailure"
                ):
                    failures.append(response.text)
                return

    _in_threads(12, fill)
    assert failures == []
    pool = {str(ip) for ip in list(ipaddress.ip_network("10.40.0.0/26").hosts())[1:]}  # the gateway is .1
    assert sorted(created) == sorted(pool)
    with _client(workers, token) as api:
        ports = api.get("/ports", params={"network_id": network_id}).json()["ports"]
    assert sorted(ip["ip_address"] for port in ports for ip in port["fixed_ips"]) == sorted(pool)


def test_concurrent_claims_of_one_fixed_address_give_it_once(workers: ProviderProcess, token: str) -> None:
    with _client(workers, token) as api:
        network_id = _subnet(api, "claims", "10.41.0.0/24")
    answers: list[tuple[int, str]] = []
    body = {"port": {"network_id": network_id, "fixed_ips": [{"ip_address": "10.41.0.77"}]}}

    def claim(_: int) -> None:
        with _client(workers, token) as api:
            response = _retrying(lambda: api.post("/ports", json=body), [])
            error = response.json().get("NeutronError", {}) if response.status_code != 201 else {}
            answers.append((response.status_code, error.get("type", "")))

    _in_threads(10, claim)
    assert sorted(answers) == [(201, "")] + [(409, "IpAddressAlreadyAllocated")] * 9


def test_concurrent_updates_lose_none(workers: ProviderProcess, token: str) -> None:
    """Every client adds its mark to the network's description (read, then write with If-Match, again on 412) and
    a tag of its own: all marks and all tags are there at the end, and the revision counts every update."""
    clients = 12
    with _client(workers, token) as api:
        network = api.post("/networks", json={"network": {"name": "updates", "description": ""}}).json()["network"]
    url = f"/networks/{network['id']}"
    failures: list[str] = []

    def mark(number: int) -> None:
        with _client(workers, token) as api:
            while True:
                current = api.get(url).json()["network"]
                body = {"network": {"description": current["description"] + f"c{number:02d},"}}
                headers = {"If-Match": f"revision_number={current['revision_number']}"}
                response = api.put(url, json=body, headers=headers)
                if response.status_code == 200:
                    break
                if response.status_code not in (409, 412):
                    failures.append(response.text)
                    return
            tagged = _retrying(lambda: api.put(f"{url}/tags/t{number:02d}"), [])
            if tagged.status_code != 201:
                failures.append(tagged.text)

    threads = [threading.Thread(target=mark, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with _client(workers, token) as api:
        final = api.get(url).json()["network"]
    assert sorted(final["description"].rstrip(",").split(",")) == [f"c{n:02d}" for n in range(clients)]
    assert sorted(final["tags"]) == [f"t{n:02d}" for n in range(clients)]
    assert final["revision_number"] == network["revision_number"] + 2 * clients


def test_a_dead_worker_is_replaced(workers: ProviderProcess) -> None:
    victim = int(sorted(_both_workers(workers))[0])
    os.kill(victim, signal.SIGKILL)
    until(lambda: not _alive(victim), "the killed worker is gone")
    seen = _both_workers(workers)
    assert str(victim) not in seen and len(seen) == 2


def test_sigterm_to_the_parent_stops_every_worker(tmp_path: Path, postgres: str) -> None:
    with scratch_database(postgres) as url, run_provider(tmp_path, url, ["--workers", "2"]) as process:
        seen = {int(pid) for pid in _both_workers(process)}
        children = _children(process.process.pid)
        assert seen <= children
        process.process.send_signal(signal.SIGTERM)
        until(lambda: process.process.poll() is not None, "the parent exits", deadline_s=60)
        until(lambda: not any(_alive(pid) for pid in children), "every worker exits", deadline_s=60)
        assert process.process.returncode == 0


def _refusal(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "extnet", "provider", "--data-dir", str(tmp_path), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    result = _refusal(["--workers", "2"], tmp_path)
    assert result.returncode == 2
    assert "--workers > 1 needs a PostgreSQL --database-url" in result.stderr


def test_several_workers_with_the_ovn_driver_are_refused(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/unused"  # refused before any connection
    result = _refusal(["--workers", "2", "--driver", "ovn", "--database-url", url], tmp_path)
    assert result.returncode == 2
    assert "not supported with --driver ovn" in result.stderr


@pytest.mark.parametrize("value", ["0", "two"])
def test_a_worker_count_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    result = _refusal(["--workers", value], tmp_path)
    assert result.returncode == 2
    assert f"'{value}' is not a whole number of at least 1" in result.stderr
