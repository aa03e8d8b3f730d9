"""The built-in network provider against a do-nothing endpoint (the client's limit) and a real Neutron, with
openstacksdk over HTTP, in one run.

Per target, on one network with a /16 subnet:
  1. ``--single`` ports created one by one (rate over the first 600, and overall);
  2. ports created in bulk (``--batch`` per request) until there are ``--ports`` (rate over the first and the
     last 600 ports: flat or not);
  3. a ``device_id``-filtered list at that size (median latency of ``--lists`` calls);
  4. all ports listed with pagination (pages of 1,000);
  5. 600 more single creates at full size (the single rate at ``--ports``, against step 1's).

Targets: ``nothing`` (a do-nothing Neutron endpoint answering canned documents shaped like the provider's, the
same client's ceiling), ``extnet`` (``extnet provider`` started here, SQLite unless ``--database-url``), and
``neutron`` (a real Neutron behind Keystone: ``--neutron-auth-url``; ``scripts/real-neutron.sh start`` runs one
here). Real Neutron is two orders of magnitude slower, so it gets fewer ports (``--neutron-single``,
``--neutron-ports``): its rates are what the ratios need.

    python bench/provider_bench.py [--targets nothing,extnet,neutron] [--ports 10000] [--single 2000]
        [--neutron-auth-url http://127.0.0.1:15000/v3 --neutron-password extnet-conformance]
        [--database-url postgresql+psycopg://...] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import openstack
import orjson
from openstack.connection import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 600
PAGE = 1000
PASSWORD = "bench-admin"


@dataclass
class Result:
    target: str
    ports: int = 0
    single_first_600: float = 0.0  # ports/s
    single_overall: float = 0.0
    single_at_size: float = 0.0
    bulk_first_600: float = 0.0
    bulk_last_600: float = 0.0
    bulk_overall: float = 0.0
    filtered_list_ms: float = 0.0
    paginated_list_s: float = 0.0
    listed: int = 0


# --- the do-nothing endpoint ---------------------------------------------------------------------------------


def _canned_port(index: int, network_id: str) -> dict[str, Any]:
    """A port document shaped exactly like the provider's (same keys, same sizes)."""
    return {
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "name": "",
        "network_id": network_id,
        "mac_address": f"fa:16:3e:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}",
        "admin_state_up": True,
        "status": "DOWN",
        "device_id": f"bench-{index}",
        "device_owner": "",
        "fixed_ips": [
            {
                "subnet_id": "5b0a7c3e-7f8e-4bbb-9a55-2f0f2c1d0e11",
                "ip_address": f"10.0.{index >> 8 & 255}.{index & 255}",
            }
        ],
        "security_groups": ["8e6f3b7a-0d2e-4f1c-9b3a-6c5d4e3f2a10"],
        "port_security_enabled": True,
        "allowed_address_pairs": [],
        "binding:host_id": "",
        "binding:vnic_type": "normal",
        "binding:profile": {},
        "binding:vif_type": "unbound",
        "binding:vif_details": {},
        "project_id": "0f2e4b6a8c0d4e1f9a3b5c7d9e1f3a5b",
        "tenant_id": "0f2e4b6a8c0d4e1f9a3b5c7d9e1f3a5b",
        "description": "",
        "revision_number": 1,
        "created_at": "2026-11-30T10:00:00Z",
        "updated_at": "2026-11-30T10:00:00Z",
        "tags": [],
    }


class Nothing:
    """ASGI: answers what the benchmark asks with canned documents; counts ports so pagination ends right."""

    def __init__(self) -> None:
        self.network = {
            "id": "7d3c1b2a-9e8f-4a6b-8c5d-3e2f1a0b9c8d",
            "name": "bench",
            "status": "ACTIVE",
            "subnets": [],
            "admin_state_up": True,
            "shared": False,
            "mtu": 1450,
            "tags": [],
            "port_security_enabled": True,
            "router:external": False,
            "project_id": "p",
            "provider:network_type": "vxlan",
            "provider:physical_network": None,
            "provider:segmentation_id": 1,
            "revision_number": 1,
            "description": "",
        }
        self.created = 0
        self.base = "http://127.0.0.1"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.base = "http://" + dict(scope["headers"]).get(b"host", b"127.0.0.1").decode()
        status, doc = self.answer(scope["method"], scope["path"], scope["query_string"].decode(), body)
        raw = orjson.dumps(doc)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    def answer(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        path = path.rstrip("/")
        if path == "":
            return 200, {
                "versions": [
                    {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": "http://127.0.0.1/v2.0/"}]}
                ]
            }
        if path == "/v2.0/networks" and method == "POST" or path == f"/v2.0/networks/{self.network['id']}":
            return (201 if method == "POST" else 200), {"network": self.network}
        if path == "/v2.0/subnets" and method == "POST":
            return 201, {
                "subnet": {
                    "id": "5b0a7c3e-7f8e-4bbb-9a55-2f0f2c1d0e11",
                    "network_id": self.network["id"],
                    "cidr": "10.0.0.0/16",
                    "ip_version": 4,
                }
            }
        if path == "/v2.0/ports" and method == "POST":
            doc = orjson.loads(body)
            if "ports" in doc:
                first = self.created
                self.created += len(doc["ports"])
                return 201, {"ports": [_canned_port(first + i, self.network["id"]) for i in range(len(doc["ports"]))]}
            self.created += 1
            return 201, {"port": _canned_port(self.created - 1, self.network["id"])}
        if path == "/v2.0/ports" and method == "GET":
            return 200, self.list_ports(parse_qs(query))
        return 404, {"NeutronError": {"type": "HTTPNotFound", "message": path, "detail": ""}}

    def list_ports(self, params: dict[str, list[str]]) -> dict[str, Any]:
        if "device_id" in params:
            index = int(params["device_id"][0].rsplit("-", 1)[1])
            return {"ports": [_canned_port(index, self.network["id"])]}
        limit = int(params.get("limit", [str(self.created)])[0])
        start = int(params["marker"][0].rsplit("-", 1)[1]) + 1 if "marker" in params else 0
        end = min(start + limit, self.created)
        doc: dict[str, Any] = {"ports": [_canned_port(i, self.network["id"]) for i in range(start, end)]}
        if end < self.created:
            marker = f"00000000-0000-4000-8000-{end - 1:012d}"
            doc["ports_links"] = [{"rel": "next", "href": f"{self.base}/v2.0/ports?limit={limit}&marker={marker}"}]
        return doc


def serve_nothing(port: int) -> None:
    import uvicorn

    uvicorn.run(Nothing(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


# --- processes -----------------------------------------------------------------------------------------------


def _wait(url: str, process: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers at {url}")


@contextmanager
def _process(args: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    try:
        _wait(url, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def nothing_target() -> Iterator[Connection]:
    port = free_port()
    with _process([sys.executable, __file__, "--serve-nothing", str(port)], f"http://127.0.0.1:{port}/"):
        yield openstack.connect(auth_type="none", network_endpoint_override=f"http://127.0.0.1:{port}")


@contextmanager
def extnet_target(database_url: str | None) -> Iterator[Connection]:
    port, keystone = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="provider-bench-") as data_dir:
        args = [
            sys.executable,
            "-m",
            "extnet",
            "provider",
            "--listen",
            f"127.0.0.1:{port}",
            "--keystone-listen",
            f"127.0.0.1:{keystone}",
            "--data-dir",
            data_dir,
        ]
        if database_url:
            args += ["--database-url", database_url]
        with _process(args, f"http://127.0.0.1:{port}/", {"EXTNET_ADMIN_PASSWORD": PASSWORD}) as process:
            _wait(f"http://127.0.0.1:{keystone}/v3", process)
            yield _keystone(f"http://127.0.0.1:{keystone}/v3", "admin", PASSWORD, "admin")


def _keystone(auth_url: str, username: str, password: str, project: str) -> Connection:
    return openstack.connect(
        auth_url=auth_url,
        username=username,
        password=password,
        project_name=project,
        user_domain_id="default",
        project_domain_id="default",
        identity_api_version="3",
    )


# --- the measurements ----------------------------------------------------------------------------------------


@dataclass
class Run:
    """One target's connection, sizes and timings while the phases take turns between targets."""

    name: str
    conn: Connection
    ports: int
    single: int
    lists: int
    network_id: str = ""
    created: int = 0
    single_times: list[float] = field(default_factory=list)  # seconds per single create
    bulk_times: list[tuple[int, float]] = field(default_factory=list)  # (ports, seconds) per bulk request
    list_times: list[float] = field(default_factory=list)
    page_times: list[float] = field(default_factory=list)
    late_times: list[float] = field(default_factory=list)
    listed: int = 0

    def setup(self) -> None:
        network = self.conn.network.create_network(name=f"bench-{uuid.uuid4().hex[:8]}")
        self.conn.network.create_subnet(network_id=network.id, cidr="10.0.0.0/16", ip_version=4)
        self.conn.network.get_network(network.id)  # warms the connection and endpoint discovery
        self.network_id = network.id

    def single_creates(self, count: int, into: list[float], prefix: str = "bench") -> None:
        for _ in range(count):
            began = time.perf_counter()
            self.conn.network.create_port(network_id=self.network_id, device_id=f"{prefix}-{self.created}")
            into.append(time.perf_counter() - began)
            self.created += 1

    def bulk_create(self, count: int) -> None:
        body = [{"network_id": self.network_id, "device_id": f"bench-{self.created + i}"} for i in range(count)]
        began = time.perf_counter()
        created = list(self.conn.network.create_ports(body))
        self.bulk_times.append((len(created), time.perf_counter() - began))
        self.created += count

    def filtered_list(self, i: int) -> None:
        device = f"bench-{(i * 7919) % min(self.created, self.ports)}"
        began = time.perf_counter()
        found = list(self.conn.network.ports(device_id=device))
        self.list_times.append(time.perf_counter() - began)
        assert len(found) == 1, (self.name, device, found)

    def paginated_list(self) -> None:
        began = time.perf_counter()
        self.listed = len(list(self.conn.network.ports(network_id=self.network_id, limit=PAGE)))
        self.page_times.append(time.perf_counter() - began)

    def result(self) -> Result:
        r = Result(self.name, ports=self.ports)
        r.single_overall = len(self.single_times) / sum(self.single_times)
        first = self.single_times[:WINDOW]
        r.single_first_600 = len(first) / sum(first)
        r.single_at_size = len(self.late_times) / sum(self.late_times)
        if self.bulk_times:
            r.bulk_overall = sum(n for n, _ in self.bulk_times) / sum(t for _, t in self.bulk_times)
            r.bulk_first_600 = _rate(self.bulk_times)
            r.bulk_last_600 = _rate(list(reversed(self.bulk_times)))
        r.filtered_list_ms = statistics.median(self.list_times) * 1000
        r.paginated_list_s = statistics.median(self.page_times)
        r.listed = self.listed
        return r


def measure(runs: list[Run], batch: int) -> dict[str, Result]:
    """The phases, each taking turns between the targets in small steps, so that a noisy neighbour on the
    machine slows every target alike."""
    for run in runs:
        run.setup()
    step = 50
    while any(len(r.single_times) < r.single for r in runs):
        for run in runs:
            run.single_creates(min(step, run.single - len(run.single_times)), run.single_times)
    _progress(runs, "single creates")
    while any(r.created < r.ports for r in runs):
        for run in runs:
            if run.created < run.ports:
                run.bulk_create(min(batch, run.ports - run.created))
    _progress(runs, "bulk creates")
    for i in range(max(r.lists for r in runs)):
        for run in runs:
            if i < run.lists:
                run.filtered_list(i)
    for _ in range(3):
        for run in runs:
            run.paginated_list()
    _progress(runs, "lists")
    late = {run.name: min(WINDOW, run.single) for run in runs}
    while any(len(r.late_times) < late[r.name] for r in runs):
        for run in runs:
            run.single_creates(min(step, late[run.name] - len(run.late_times)), run.late_times, "late")
    return {run.name: run.result() for run in runs}


def _progress(runs: list[Run], what: str) -> None:
    print(f"  {what} done: " + ", ".join(f"{r.name} {r.created} ports" for r in runs), flush=True)


def _rate(batches: list[tuple[int, float]]) -> float:
    """Ports/s over the first WINDOW ports of these bulk requests."""
    ports = seconds = 0.0
    for count, duration in batches:
        ports += count
        seconds += duration
        if ports >= WINDOW:
            break
    return ports / seconds


def report(results: dict[str, Result]) -> str:
    rows = [
        "| target | ports | single/s (first 600) | single/s (all) | single/s at size | bulk ports/s (first 600)"
        " | bulk ports/s (last 600) | bulk ports/s (all) | device_id list ms | paginated list s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        rows.append(
            f"| {r.target} | {r.ports} | {r.single_first_600:.0f} | {r.single_overall:.0f} | "
            f"{r.single_at_size:.0f} | {r.bulk_first_600:.0f} | {r.bulk_last_600:.0f} | {r.bulk_overall:.0f} "
            f"| {r.filtered_list_ms:.2f} | {r.paginated_list_s:.2f} ({r.listed}) |"
        )
    lines = ["\n".join(rows), ""]
    extnet, limit, neutron = results.get("extnet"), results.get("nothing"), results.get("neutron")
    if extnet and limit:
        lines += [
            f"- single create vs limit: {extnet.single_overall / limit.single_overall:.2f}x (target >= 0.4)",
            f"- bulk create vs limit: {extnet.bulk_overall / limit.bulk_overall:.2f}x (target >= 0.6)",
            f"- device_id list latency vs limit: {extnet.filtered_list_ms / limit.filtered_list_ms:.2f}x (target <= 3)",
            f"- paginated list vs limit: {extnet.paginated_list_s / limit.paginated_list_s:.2f}x the time",
        ]
    if extnet:
        lines += [
            f"- flat: single {extnet.single_first_600:.0f}/s over the first 600 ports, {extnet.single_at_size:.0f}/s "
            f"at {extnet.ports}; bulk {extnet.bulk_first_600:.0f} -> {extnet.bulk_last_600:.0f} ports/s",
        ]
    if extnet and neutron:
        lines += [
            f"- single create vs Neutron: {extnet.single_overall / neutron.single_overall:.1f}x (target >= 10)",
            f"- bulk create vs Neutron: {extnet.bulk_overall / neutron.bulk_overall:.1f}x (target >= 50)",
            f"- device_id list vs Neutron: {neutron.filtered_list_ms / extnet.filtered_list_ms:.1f}x faster "
            f"(Neutron at {neutron.ports} ports)",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-nothing", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--targets", default="nothing,extnet,neutron")
    parser.add_argument("--ports", type=int, default=10000)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lists", type=int, default=200)
    parser.add_argument("--database-url", help="the provider's database (default: SQLite in a temporary directory)")
    parser.add_argument("--neutron-auth-url", default=os.environ.get("EXTNET_CONFORMANCE_URL"))
    parser.add_argument("--neutron-username", default=os.environ.get("EXTNET_CONFORMANCE_USERNAME", "admin"))
    parser.add_argument(
        "--neutron-password", default=os.environ.get("EXTNET_CONFORMANCE_PASSWORD", "extnet-conformance")
    )
    parser.add_argument("--neutron-project", default=os.environ.get("EXTNET_CONFORMANCE_PROJECT", "admin"))
    parser.add_argument("--neutron-ports", type=int, default=1000)
    parser.add_argument("--neutron-single", type=int, default=300)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    if args.serve_nothing:
        serve_nothing(args.serve_nothing)
        return 0

    import warnings

    warnings.simplefilter("ignore")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    with ExitStack() as stack:
        runs: list[Run] = []
        for target in targets:
            if target == "nothing":
                conn = stack.enter_context(nothing_target())
                runs.append(Run(target, conn, args.ports, args.single, args.lists))
            elif target == "extnet":
                conn = stack.enter_context(extnet_target(args.database_url))
                runs.append(Run(target, conn, args.ports, args.single, args.lists))
            elif target == "neutron":
                if not args.neutron_auth_url:
                    print("neutron skipped: no --neutron-auth-url (scripts/real-neutron.sh start; then its env)")
                    continue
                conn = _keystone(
                    args.neutron_auth_url, args.neutron_username, args.neutron_password, args.neutron_project
                )
                runs.append(Run(target, conn, args.neutron_ports, args.neutron_single, min(args.lists, 50)))
            else:
                parser.error(f"unknown target {target}")
        print("targets: " + ", ".join(r.name for r in runs), flush=True)
        results = measure(runs, args.batch)
    text = report(results)
    if args.database_url and "extnet" in results:
        text += f"\n- extnet ran on {args.database_url.split('://')[0]}"
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps({k: asdict(v) for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
