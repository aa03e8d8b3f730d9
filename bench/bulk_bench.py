"""Bulk creation on the built-in provider: does each batch cost the same however much exists? And how much do
several workers (``--workers``) add?

Against a real ``extnet provider`` process, raw HTTP with a Keystone token (httpx):
  1. networks: ``--networks`` tenant networks created in batches of ``--batch`` (one ``POST /v2.0/networks`` with
     ``{"networks": [...]}`` each); every batch's time and its ratio to the first batch's;
  2. ports: ``--port-batches`` batches of ``--batch`` ports on one network with a /16 subnet (per-item MAC and IP
     allocation), the same table;
  3. ``--workers-compare`` (PostgreSQL only): ports per second with 1 and with 2 workers, each provider on a fresh
     database, both up at once and taking turns (``--rounds``) so that other work on the machine hits both alike:
     ``--single-clients`` clients doing single creates, then ``--bulk-clients`` clients doing bulk creates of
     ``--bulk-size``. The clients run in a process of their own (``--client raw``: keep-alive HTTP on plain
     sockets, a new connection every ``--reconnect`` requests; ``httpx``: one httpx client per thread); the rate
     counts created ports over the summed wall time of the phases. It also prints the CPU time per port of the
     provider (parent and workers), of its PostgreSQL backends and of the clients: on a 2-core machine that
     bounds what a second worker can add.

    python bench/bulk_bench.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--networks 5000] [--port-batches 20] [--batch 500] [--workers-compare [--skip-batches] [--client raw|httpx]]
        [--json results.json]

``--database-url`` names a server: each provider gets a fresh database there (dropped afterwards); without it the
provider runs on SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.provider.process import ProviderProcess, run_provider  # noqa: E402
from tests.servers import scratch_database  # noqa: E402


@dataclass(frozen=True)
class Spent:
    seconds: float
    cpu: float


@contextmanager
def provider(database_url: str | None, workers: int = 1) -> Iterator[ProviderProcess]:
    with (
        scratch_database(database_url) as url,
        tempfile.TemporaryDirectory(prefix="bulk-bench-") as data_dir,
        run_provider(Path(data_dir), url, ["--workers", str(workers), "--log-level", "warning"]) as process,
    ):
        try:
            yield process
        except Exception:
            print(f"the provider's log ends with:\n{process.log()[-4000:]}", file=sys.stderr)
            raise


def client(process: ProviderProcess) -> httpx.Client:
    headers = {"X-Auth-Token": process.token(), "Content-Type": "application/json"}
    return httpx.Client(base_url=f"{process.network_url}/v2.0", headers=headers, timeout=600)


def post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
    result: dict[str, Any] = response.json()
    return result


Cpu = Callable[[], float]  # CPU seconds the provider and its database have used so far


def timed_batches(api: httpx.Client, path: str, plural: str, batches: int, make: Any, cpu: Cpu) -> list[Spent]:
    spent = []
    for number in range(batches):
        body = {plural: make(number)}
        start, start_cpu = time.perf_counter(), cpu()
        created = post(api, path, body)[plural]
        spent.append(Spent(time.perf_counter() - start, cpu() - start_cpu))
        assert len(created) == len(body[plural])
    return spent


def network_batches(api: httpx.Client, networks: int, batch: int, cpu: Cpu) -> list[Spent]:
    def make(number: int) -> list[dict[str, Any]]:
        return [{"name": f"bulk-{number}-{i}"} for i in range(batch)]

    return timed_batches(api, "/networks", "networks", networks // batch, make, cpu)


def port_batches(api: httpx.Client, batches: int, batch: int, cpu: Cpu) -> list[Spent]:
    network = post(api, "/networks", {"network": {"name": "bulk-ports"}})["network"]
    subnet = {"network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/16"}
    post(api, "/subnets", {"subnet": subnet})

    def make(number: int) -> list[dict[str, Any]]:
        return [{"network_id": network["id"], "device_id": f"bulk-{number}-{i}"} for i in range(batch)]

    return timed_batches(api, "/ports", "ports", batches, make, cpu)


def provider_cpu(process: ProviderProcess) -> Cpu:
    """The CPU the provider's processes and (PostgreSQL) its database backends have used so far."""
    pids = processes(process.process.pid)
    url = process.database_url
    return lambda: cpu_seconds(pids | (backends(url) if url else set()))


def table(title: str, unit: str, batch: int, spent: list[Spent]) -> list[dict[str, float]]:
    print(f"\n{title}\n")
    print(f"| batch | {unit} before | seconds | per item ms | ratio to first | CPU s | CPU ratio to first |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    first = spent[0]
    for number, each in enumerate(spent):
        row = {"batch": number + 1, "before": number * batch, "seconds": each.seconds, "cpu": each.cpu,
               "ratio": each.seconds / first.seconds, "cpu_ratio": each.cpu / first.cpu}  # fmt: skip
        rows.append(row)
        print(f"| {number + 1} | {number * batch} | {each.seconds:.3f} | {1000 * each.seconds / batch:.2f} | "
              f"{row['ratio']:.2f} | {each.cpu:.2f} | {row['cpu_ratio']:.2f} |")  # fmt: skip
    print(f"\nlast batch / first batch: {rows[-1]['ratio']:.2f}x wall time, {rows[-1]['cpu_ratio']:.2f}x CPU "
          "(goal: at most 1.5x)")  # fmt: skip
    if len(spent) >= 6:
        wall = statistics.median(e.seconds for e in spent[-3:]) / statistics.median(e.seconds for e in spent[:3])
        cpu = statistics.median(e.cpu for e in spent[-3:]) / statistics.median(e.cpu for e in spent[:3])
        print(f"median of the last 3 batches / median of the first 3: {wall:.2f}x wall time, {cpu:.2f}x CPU")
    return rows


# --- several workers ---------------------------------------------------------------------------------------------


def _body(network_id: str, size: int) -> bytes:
    """One port (``size`` 0) or a bulk of ``size``."""
    if size == 0:
        return json.dumps({"port": {"network_id": network_id}}).encode()
    return json.dumps({"ports": [{"network_id": network_id}] * size}).encode()


def _httpx_client(base: str, token: str, body: bytes, count: int, errors: list[str]) -> None:
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as api:
        for _ in range(count):
            response = api.post("/ports", content=body)
            if response.status_code != 201:
                errors.append(f"{response.status_code} {response.text[:200]}")


async def _raw_client(base: str, token: str, body: bytes, count: int, reconnect: int, errors: list[str]) -> None:
    """HTTP/1.1 keep-alive on a plain socket: a few microseconds of client CPU per request (httpx costs about a
    millisecond, which on this 2-core machine is taken from the provider). A new connection every ``reconnect``
    requests lets the kernel spread the connections over the workers again."""
    host, port = base.split("//", 1)[1].split("/", 1)[0].split(":")
    request = (f"POST /v2.0/ports HTTP/1.1\r\nHost: {host}:{port}\r\nX-Auth-Token: {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
    done = 0
    while done < count:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(min(reconnect, count - done)):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            answer = await reader.readexactly(length)
            if head[9:12] != b"201":
                errors.append(f"{head[9:12].decode()} {answer[:200].decode(errors='replace')}")
            done += 1
        writer.close()
        await writer.wait_closed()


def cpu_seconds(pids: set[int]) -> float:
    """CPU time (user + system) the processes have used so far (Linux /proc)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def processes(parent: int) -> set[int]:
    """The process and its children."""
    found = {parent}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{parent}\n" in status:
            found.add(int(entry.name))
    return found


def backends(database_url: str) -> set[int]:
    """The PostgreSQL server processes connected to the database of ``database_url`` (the provider's)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            query = text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return {int(pid) for pid in conn.execute(query).scalars()}
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Load:
    clients: int
    each: int  # requests per client
    size: int  # ports per request (0: single creates)
    client: str  # raw or httpx
    reconnect: int


def load(base: str, token: str, network_id: str, work: Load, out: Any) -> None:
    """In the clients' own process: ``work.clients`` concurrent clients; sends (seconds, client CPU seconds,
    errors) to ``out``."""
    errors: list[str] = []
    body = _body(network_id, work.size)
    start, start_cpu = time.perf_counter(), time.process_time()
    if work.client == "raw":

        async def everyone() -> None:
            await asyncio.gather(
                *[_raw_client(base, token, body, work.each, work.reconnect, errors) for _ in range(work.clients)]
            )

        asyncio.run(everyone())
    else:
        threads = [
            threading.Thread(target=_httpx_client, args=(base, token, body, work.each, errors))
            for _ in range(work.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    out.send((time.perf_counter() - start, time.process_time() - start_cpu, errors))


def run_load(target: ProviderProcess, token: str, network_id: str, work: Load) -> dict[str, float]:
    """Wall seconds of the load, and the CPU seconds the provider (parent and workers), its PostgreSQL backends and
    the clients used meanwhile (a backend that ended during the load is not counted)."""
    assert target.database_url is not None
    base = f"{target.network_url}/v2.0"
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(target=load, args=(base, token, network_id, work, sender))
    provider, postgres = processes(target.process.pid), backends(target.database_url)
    provider_cpu, postgres_cpu = cpu_seconds(provider), cpu_seconds(postgres)
    process.start()
    seconds, client_cpu, errors = receiver.recv()
    provider_cpu = cpu_seconds(provider) - provider_cpu
    postgres_cpu = cpu_seconds(postgres | backends(target.database_url)) - postgres_cpu
    process.join()
    if errors:
        raise RuntimeError(f"{len(errors)} creates failed, e.g. {errors[0]}")
    return {"seconds": seconds, "provider_cpu": provider_cpu, "postgres_cpu": postgres_cpu, "client_cpu": client_cpu}


@dataclass
class Target:
    """A provider with ``workers`` workers, a network with a /16 subnet on it, and what the loads cost there."""

    workers: int
    process: ProviderProcess
    token: str
    network_id: str
    runs: dict[str, list[dict[str, float]]]


def target(stack: ExitStack, database_url: str, workers: int) -> Target:
    process = stack.enter_context(provider(database_url, workers))
    api = stack.enter_context(client(process))
    network = post(api, "/networks", {"network": {"name": "workers"}})["network"]
    post(api, "/subnets", {"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/16"}})
    return Target(workers, process, process.token(), network["id"], {"single": [], "bulk": []})


def worker_rows(database_url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Both providers up at once; each round runs each load on one, then on the other, so that other work on the
    machine hits both alike. The rates are over the rounds' summed wall time."""
    loads = {
        "single": Load(args.single_clients, args.single_each, 0, args.client, args.reconnect),
        "bulk": Load(args.bulk_clients, args.bulk_each, args.bulk_size, args.client, args.reconnect),
    }
    with ExitStack() as stack:
        targets = [target(stack, database_url, workers) for workers in (1, 2)]
        for number in range(args.rounds):
            for name, work in loads.items():
                for each in targets if number % 2 == 0 else reversed(targets):
                    each.runs[name].append(run_load(each.process, each.token, each.network_id, work))
        rows = []
        for each in targets:
            row: dict[str, Any] = {"workers": each.workers}
            for name, work in loads.items():
                ports = work.clients * work.each * max(work.size, 1) * args.rounds
                total = {key: sum(run[key] for run in each.runs[name]) for key in each.runs[name][0]}
                row[f"{name}_per_s"] = ports / total["seconds"]
                row.update({f"{name}_{key}_ms": 1000 * total[key] / ports for key in total if key.endswith("cpu")})
            rows.append(row)
        return rows


def compare_workers(database_url: str, args: argparse.Namespace) -> list[dict[str, float]]:
    rows = worker_rows(database_url, args)
    print(f"\nPorts per second over {args.rounds} rounds, each: {args.single_clients} clients of single creates "
          f"({args.single_each} each), {args.bulk_clients} clients of bulk creates ({args.bulk_each} x "
          f"{args.bulk_size} each); client {args.client}\n")  # fmt: skip
    print("| workers | single creates/s | ratio | bulk ports/s | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        single, bulk = row["single_per_s"] / rows[0]["single_per_s"], row["bulk_per_s"] / rows[0]["bulk_per_s"]
        print(f"| {row['workers']} | {row['single_per_s']:.0f} | {single:.2f} | {row['bulk_per_s']:.0f} | {bulk:.2f} |")
    print("\nCPU milliseconds per port created (provider: parent and workers; PostgreSQL: the provider's backends)\n")
    print("| workers | load | provider | PostgreSQL | clients |")
    print("|---:|---|---:|---:|---:|")
    for row in rows:
        for name in ("single", "bulk"):
            cpu = [row[f"{name}_{key}_cpu_ms"] for key in ("provider", "postgres", "client")]
            print(f"| {row['workers']} | {name} | {cpu[0]:.2f} | {cpu[1]:.2f} | {cpu[2]:.2f} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL server (fresh databases there); default SQLite")
    parser.add_argument("--networks", type=int, default=5000)
    parser.add_argument("--port-batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--skip-batches", action="store_true", help="only the workers comparison")
    parser.add_argument("--workers-compare", action="store_true", help="ports/s with 1 and 2 workers (PostgreSQL)")
    parser.add_argument("--single-clients", type=int, default=16)
    parser.add_argument("--single-each", type=int, default=50)
    parser.add_argument("--bulk-clients", type=int, default=4)
    parser.add_argument("--bulk-each", type=int, default=5)
    parser.add_argument("--bulk-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4, help="turns each provider takes at each load")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="HTTP client of the comparison")
    parser.add_argument("--reconnect", type=int, default=25, help="raw client: a new connection every N requests")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    print(f"database: {args.database_url or 'SQLite'}; load average before: {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {}
    if not args.skip_batches:
        with provider(args.database_url) as process, client(process) as api:
            cpu = provider_cpu(process)
            if args.networks >= args.batch:
                title = f"Networks: {args.networks} in batches of {args.batch}"
                seconds = network_batches(api, args.networks, args.batch, cpu)
                results["networks"] = table(title, "networks", args.batch, seconds)
            if args.port_batches:
                seconds = port_batches(api, args.port_batches, args.batch, cpu)
                title = f"Ports: {args.port_batches} batches of {args.batch} on one network with a /16 subnet"
                results["ports"] = table(title, "ports", args.batch, seconds)
    if args.workers_compare:
        if not (args.database_url or "").startswith("postgresql"):
            parser.error("--workers-compare needs a PostgreSQL --database-url")
        results["workers"] = compare_workers(args.database_url, args)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
