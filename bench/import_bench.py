"""Discover 5,000 provider networks through the engine and import 1,000 of them, against the provider itself.

The built-in provider and the engine run as real processes on 127.0.0.1; the networks are created on the provider
in bulk (``POST /v2.0/networks`` with ``{"networks": [...]}``, not timed) and the provider is registered in the
engine (Keystone v3). Then, in one run:

- discovery through the engine, ``GET /openstacknetworkproviders/{id}/networks``: XML and JSON over httpx, and
  ovirtsdk4's ``list()``; its baseline is listing the same networks straight from the provider with openstacksdk
  (``conn.network.networks()``), next to a raw ``GET /v2.0/networks`` with the token;
- import of ``--imports`` networks one by one through ovirtsdk4 (``import_()`` into the Default data center); its
  baseline is fetching each of those networks straight from the provider with openstacksdk (``get_network``);
- discovery again, now that those networks say where they are imported.

Each listing is repeated ``--repeat`` times after one untimed call (the median is shown). Ratios are the engine's
time over openstacksdk's (the baseline) and over raw HTTP's, against the provider.

    python bench/import_bench.py [--networks 5000] [--imports 1000] [--repeat 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD  # noqa: E402
from tests.provider.process import ProviderProcess, run_provider  # noqa: E402
from tests.servers import ADMIN_PASSWORD, EngineProcess, engine_token, run_engine, scratch_database  # noqa: E402

from extnet.common.progress import Progress, ProgressCallback, no_progress  # noqa: E402

BULK = 500  # networks per bulk create request


@dataclass
class Row:
    operation: str
    count: int
    seconds: float
    baseline: Row | None = None  # openstacksdk doing the same against the provider
    raw: Row | None = None  # raw HTTP doing the same against the provider

    def cells(self) -> list[str]:
        per_item = self.seconds / self.count * 1000 if self.count else 0.0
        return [self.operation, str(self.count), f"{self.seconds:.3f}", f"{per_item:.3f}",
                self._ratio(self.baseline), self._ratio(self.raw)]  # fmt: skip

    def _ratio(self, other: Row | None) -> str:
        return f"{self.seconds / other.seconds:.2f}" if other else ""


def timed(func: Callable[[], Any], repeat: int = 1, progress: ProgressCallback = no_progress,
          phase: str = "") -> tuple[float, Any]:  # fmt: skip
    """Median seconds of ``repeat`` calls of ``func`` (after one untimed call if repeated), and its last result."""
    times: list[float] = []
    result = func() if repeat > 1 else None  # warm up: connections, tokens, the engine's provider client
    for done in range(1, repeat + 1):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
        progress(phase, done, repeat)
    return statistics.median(times), result


def each(items: list[str], call: Callable[[str], Any], progress: ProgressCallback, phase: str) -> None:
    """``call`` on every item, one by one, saying how far it got."""
    for done, item in enumerate(items, 1):
        call(item)
        progress(phase, done, len(items))


def create_networks(provider: ProviderProcess, token: str, count: int) -> list[str]:
    """``count`` networks on the provider, created in bulk; their ids in creation order."""
    ids: list[str] = []
    with httpx.Client(base_url=f"{provider.network_url}/v2.0", headers={"X-Auth-Token": token}, timeout=300) as client:
        for start in range(0, count, BULK):
            batch = [{"name": f"bench-{i:05d}", "description": f"bench network {i}"}
                     for i in range(start, min(start + BULK, count))]  # fmt: skip
            response = client.post("/networks", json={"networks": batch})
            assert response.status_code == 201, response.text[:500]
            ids.extend(n["id"] for n in response.json()["networks"])
    return ids



def register(system: sdk.services.SystemService, provider: ProviderProcess) -> str:
    added = system.openstack_network_providers_service().add(t.OpenStackNetworkProvider(
        name="bench", type=t.OpenStackNetworkProviderType.EXTERNAL, url=provider.network_url,
        requires_authentication=True, username="admin", password=PROVIDER_PASSWORD,
        authentication_url=provider.auth_url, project_name="admin", user_domain_name="Default",
        project_domain_name="Default"))  # fmt: skip
    return str(added.id)


class Bench:
    """The clients of one run: ovirtsdk4 and httpx to the engine, openstacksdk and httpx to the provider."""

    def __init__(self, engine: EngineProcess, provider: ProviderProcess, provider_token: str, repeat: int) -> None:
        self.repeat = repeat
        self.conn = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=600)
        self.neutron = provider.connect()
        self.system = self.conn.system_service()
        self.provider_id = register(self.system, provider)
        service = self.system.openstack_network_providers_service().provider_service(self.provider_id)
        self.networks = service.networks_service()
        self.api = httpx.Client(headers={"Authorization": f"Bearer {engine_token(engine)}"}, timeout=600)
        self.discovery_url = f"{engine.url}/openstacknetworkproviders/{self.provider_id}/networks"
        self.raw = httpx.Client(base_url=f"{provider.network_url}/v2.0", headers={"X-Auth-Token": provider_token},
                                timeout=600)  # fmt: skip

    def close(self) -> None:
        self.api.close()
        self.raw.close()
        self.neutron.close()
        self.conn.close()

    def _engine_listing(self, accept: str) -> bytes:
        response = self.api.get(self.discovery_url, headers={"Accept": accept})
        response.raise_for_status()
        return response.content

    def discovery(self, label: str, again: str, minimum: int) -> list[Row]:
        """Every network of the provider, listed straight from it and through the engine."""
        repeat = self.repeat
        with Progress("discovery") as progress:
            base_s, found = timed(lambda: list(self.neutron.network.networks()), repeat, progress, "openstacksdk")
            raw_s, body = timed(lambda: self.raw.get("/networks").json(), repeat, progress, "raw GET")
            xml_s, xml = timed(lambda: self._engine_listing("application/xml"), repeat, progress, "engine, XML")
            json_s, as_json = timed(lambda: self._engine_listing("application/json"), repeat, progress, "engine, JSON")
            sdk_s, listed = timed(self.networks.list, repeat, progress, "engine, ovirtsdk4")
        count = len(found)
        base = Row(f"provider: openstacksdk networks(){again}", count, base_s)
        raw = Row(f"provider: raw GET /v2.0/networks (httpx){again}", len(body["networks"]), raw_s, base)
        assert count == raw.count == len(listed) >= minimum, (count, raw.count, len(listed))
        assert xml.count(b"<openstack_network ") == len(json.loads(as_json)["openstack_network"]) == count
        return [
            base,
            raw,
            Row(f"engine{label}: discovery, XML (httpx)", count, xml_s, base, raw),
            Row(f"engine{label}: discovery, JSON (httpx)", count, json_s, base, raw),
            Row(f"engine{label}: discovery, ovirtsdk4 list()", count, sdk_s, base, raw),
        ]

    def imports(self, chosen: list[str]) -> list[Row]:
        """The chosen networks fetched one by one from the provider, then imported one by one through the engine."""
        count = len(chosen)
        default = self.system.data_centers_service().list(search="name=Default")[0]
        into = t.DataCenter(id=default.id)
        with Progress("imports") as progress:
            base_s, _ = timed(lambda: each(chosen, self.neutron.network.get_network, progress, "openstacksdk get"))
            raw_s, _ = timed(lambda: each(chosen, lambda nid: self.raw.get(f"/networks/{nid}").raise_for_status(),
                                          progress, "raw GET"))  # fmt: skip
            import_s, _ = timed(lambda: each(chosen, lambda nid: self.networks.network_service(nid).import_(
                data_center=into), progress, "engine import"))  # fmt: skip
        base = Row("provider: openstacksdk get_network(), each", count, base_s)
        raw = Row("provider: raw GET /v2.0/networks/{id}, each (httpx)", count, raw_s, base)
        networks = self.system.networks_service().list(search="name=bench-* and datacenter=Default")
        assert len([n for n in networks if n.external_provider]) == count
        return [base, raw, Row("engine: import, each (ovirtsdk4 import_())", count, import_s, base, raw)]


def measure(engine: EngineProcess, provider: ProviderProcess, args: argparse.Namespace) -> list[Row]:
    provider_token = provider.token()
    started = time.perf_counter()
    ids = create_networks(provider, provider_token, args.networks)
    print(f"setup: {len(ids)} networks created on the provider in {time.perf_counter() - started:.1f}s", flush=True)
    bench = Bench(engine, provider, provider_token, args.repeat)
    try:
        rows = show(bench.discovery("", "", args.networks))
        chosen = ids[:: max(1, len(ids) // args.imports)][: args.imports]  # spread over the provider's list
        rows += show(bench.imports(chosen))
        return rows + show(bench.discovery(f", {len(chosen)} imported", " (again)", args.networks))
    finally:
        bench.close()


def show(rows: list[Row]) -> list[Row]:
    for row in rows:
        print(" | ".join(row.cells()), flush=True)
    return rows


def print_table(rows: list[Row]) -> None:
    header = ["operation", "count", "total s", "per item ms", "ratio to openstacksdk (the baseline)",
              "ratio to raw HTTP"]  # fmt: skip
    print()
    print("| " + " | ".join(header) + " |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=5000, help="networks created on the provider")
    parser.add_argument("--imports", type=int, default=1000, help="of which are imported one by one")
    parser.add_argument("--repeat", type=int, default=5, help="times each listing is repeated (median shown)")
    parser.add_argument("--database-url", default=os.environ.get("EXTNET_BENCH_DATABASE_URL"),
                        help="a PostgreSQL server URL: the engine and the provider get scratch databases on it "
                             "(default: SQLite)")  # fmt: skip
    args = parser.parse_args()
    if not 0 < args.imports <= args.networks:
        parser.error("--imports must be between 1 and --networks")
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url) as engine_db,
        scratch_database(args.database_url) as provider_db,
        run_provider(Path(tmp) / "provider", provider_db) as provider,
        run_engine(Path(tmp) / "engine", engine_db) as engine,
    ):
        print(f"database: {'SQLite' if engine_db is None else engine_db.split(':')[0]}", flush=True)
        rows = measure(engine, provider, args)
    print_table(rows)
    print(f"\ntotal runtime {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
