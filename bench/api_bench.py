"""List 10,000 VMs and 10,000 networks through the engine's API, XML and JSON, with and without search.

The engine runs as a real process on 127.0.0.1 with its database seeded directly (seeding through the API
would only slow the setup). Each case is timed from a keep-alive HTTP client; the baseline ("replay") is a
do-nothing server in a process of its own on 127.0.0.1 (uvicorn and Starlette, as the engine) that answers the same
URL with the engine's own response bytes, held in memory: the cost of HTTP and of the client alone. The ratio says
how much of the time the engine itself costs.

    python bench/api_bench.py [--vms 10000] [--networks 10000] [--seconds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import insert, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import ADMIN_PASSWORD, free_port, run_engine, scratch_database  # noqa: E402

from extnet.engine.store.db import Database, migrate  # noqa: E402
from extnet.engine.store.models import Cluster, DataCenter, Network, Vm  # noqa: E402


def seed(url: str, vms: int, networks: int) -> None:
    migrate(url)
    db = Database(url)
    with db.transaction() as session:
        dc_id = session.scalar(select(DataCenter.id).where(DataCenter.name == "Default"))
        cluster_id = session.scalar(select(Cluster.id).where(Cluster.name == "Default"))
        session.execute(insert(Vm), [
            {"id": str(uuid.uuid4()), "name": f"vm-{i:05d}", "cluster_id": cluster_id, "description": f"bench {i}"}
            for i in range(vms)
        ])  # fmt: skip
        session.execute(insert(Network), [
            {"id": str(uuid.uuid4()), "name": f"net-{i:05d}", "data_center_id": dc_id, "vlan_id": i % 4000 + 1}
            for i in range(networks)
        ])  # fmt: skip
    db.dispose()


def _key(path: str, query: str, accept: str) -> str:
    return hashlib.sha256(f"{path}?{query} {accept}".encode()).hexdigest()


def serve_replay(directory: Path, port: int) -> None:
    """The replay server's process: answers a GET with the body stored in ``directory`` for its path, query and
    Accept header (read from the file once, at the first request for it, then served from memory); 404 for any
    other."""
    loaded: dict[str, tuple[bytes, str]] = {}

    async def serve(request: Request) -> Response:
        key = _key(request.url.path, request.url.query, request.headers.get("accept", ""))
        found = loaded.get(key)
        if found is None:
            body = directory / f"{key}.body"
            if not body.exists():
                return Response(b"", status_code=404)
            found = loaded[key] = (body.read_bytes(), (directory / f"{key}.type").read_text())
        return Response(found[0], media_type=found[1])

    app = Starlette(routes=[Route("/{path:path}", serve)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")


class Replay:
    """A do-nothing HTTP server in a process of its own answering a GET with the bytes it was given for that URL."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.url = f"http://127.0.0.1:{port}"

    def give(self, path: str, query: str, accept: str, body: bytes, media_type: str) -> None:
        """What to answer for ``path?query`` asked with ``accept`` (before the first request for it)."""
        key = _key(path, query, accept)
        (self.directory / f"{key}.type").write_text(media_type)
        (self.directory / f"{key}.body").write_bytes(body)


@contextmanager
def replay_server(directory: Path, port: int) -> Iterator[Replay]:
    args = [sys.executable, __file__, "--serve-replay", str(directory), "--replay-port", str(port)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    replay = Replay(directory, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the replay server exited with {process.returncode}")
            try:
                httpx.get(f"{replay.url}/ready", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"the replay server does not answer at {replay.url}"
                time.sleep(0.05)
        yield replay
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rate(client: httpx.Client, url: str, params: dict[str, str], headers: dict[str, str],
         seconds: float) -> tuple[float, float]:  # fmt: skip
    """Requests per second and median latency (ms) of one GET over about ``seconds``."""
    client.get(url, params=params, headers=headers)  # warm up
    latencies: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(latencies) < 3:
        t0 = time.perf_counter()
        response = client.get(url, params=params, headers=headers)
        latencies.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.text[:300]
    return len(latencies) / (time.perf_counter() - start), statistics.median(latencies) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--networks", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--database-url", default=os.environ.get("EXTNET_BENCH_DATABASE_URL"))
    parser.add_argument("--serve-replay", type=Path, help=argparse.SUPPRESS)  # the replay server's own process
    parser.add_argument("--replay-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_replay:
        serve_replay(args.serve_replay, args.replay_port)
        return 0

    cases = [
        ("VMs, all", "vms", None),
        ("VMs, search name=vm-0999*", "vms", "name=vm-0999*"),
        ("VMs, search one by name", "vms", f"name=vm-{args.vms // 2:05d}"),
        ("networks, all", "networks", None),
        ("networks, search name=net-0999* and datacenter=Default", "networks", "name=net-0999* and datacenter=Default"),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url) as db_url:
        data = Path(tmp) / "engine"
        data.mkdir()
        url = db_url or f"sqlite:///{data / 'engine.sqlite'}"
        t0 = time.perf_counter()
        seed(url, args.vms, args.networks)
        print(f"seeded {args.vms} VMs and {args.networks} networks in {time.perf_counter() - t0:.1f}s "
              f"({'SQLite' if url.startswith('sqlite') else url.split(':')[0]})", flush=True)  # fmt: skip
        replay_dir = Path(tmp) / "replay"
        replay_dir.mkdir()
        with run_engine(data, db_url) as engine, replay_server(replay_dir, free_port()) as replay:
            rows = measure(engine.url, cases, args.seconds, replay)
    print_table(rows)
    return 0


def measure(api: str, cases: list[tuple[str, str, str | None]], seconds: float, replay: Replay) -> list[list[str]]:
    rows: list[list[str]] = []
    with httpx.Client(auth=("admin@internal", ADMIN_PASSWORD), timeout=120) as client:
        for label, collection, search in cases:
            params = {"search": search} if search else {}
            for fmt, accept in (("XML", "application/xml"), ("JSON", "application/json")):
                headers = {"Accept": accept}
                first = client.get(f"{api}/{collection}", params=params, headers=headers)
                count = first.text.count("<vm " if collection == "vms" else "<network ") if fmt == "XML" else None
                path = httpx.URL(f"{api}/{collection}", params=params)
                replay.give(path.path, path.query.decode(), accept, first.content, first.headers["content-type"])
                engine_rps, engine_ms = rate(client, f"{api}/{collection}", params, headers, seconds)
                limit_rps, _ = rate(client, f"{replay.url}{path.path}", params, headers, seconds)
                rows.append([label, fmt, str(count) if count is not None else "", f"{len(first.content) / 1e6:.2f}",
                             f"{engine_rps:.1f}", f"{engine_ms:.1f}", f"{limit_rps:.1f}",
                             f"{engine_rps / limit_rps:.3f}"])  # fmt: skip
                print(" | ".join(rows[-1]), flush=True)
    return rows


def print_table(rows: list[list[str]]) -> None:
    header = ["case", "format", "items", "MB", "engine req/s", "engine ms", "replay req/s", "engine/replay"]
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    sys.exit(main())
