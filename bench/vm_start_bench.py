"""Start 100 VMs with 2 external vNICs each through the engine, against the provider work those starts need.

The baseline is done straight on the same provider, in the same run.

The engine, the built-in provider and one host agent (noop runtime, the default 10 s heartbeat interval) run as real
processes on 127.0.0.1. The host's heartbeat tells the provider which ports it plugged, so every start waits until
its two ports are ACTIVE, as it would with a data plane. Two provider networks (with a subnet each) are imported into
the Default data center; the VMs and their vNICs are made beforehand (not timed).

For each concurrency level (``--concurrency``, default 1 and 8 clients), with that many clients (each its own
keystoneauth session, as openstacksdk makes it; the same library the engine and the host agent call the provider
with):

- baseline of a first start, per VM: the provider work a first start needs, i.e. ONE bulk create of the VM's two
  ports (``POST /v2.0/ports`` with ``{"ports": [...]}``, the engine's port bodies: network, name, MAC, device id and
  owner, binding host, admin state, description) and the host's device report (``POST /v2.0/agents/heartbeat`` as
  the host's agent, with the agent's own type, binary and configurations and ``devices_up`` the two ports, which
  makes them ACTIVE);
- engine, first start: ``POST /vms/{id}/start`` (JSON over httpx) for 100 fresh VMs: the engine chooses the host
  (the provider's agent list, cached), creates the VM's ports (one bulk create; a first start needs no lookup),
  hands the VIFs to the host (``VM.create``), whose agent reports them up to the provider and hands on the ACTIVE
  status the provider answered, and records the VM up;
- baseline of a start again, per VM: the provider work a start of a VM whose ports exist needs, i.e. ONE lookup of
  its ports (``GET /v2.0/ports?device_owner=oVirt&device_id=...&device_id=...``) and the host's device report as
  above; before it, the ports are reported down as a stop leaves them (not timed);
- engine, start again: the same VMs stopped (not timed) and started again: the ports exist and are only looked up
  and compared.

The baseline's ports are deleted afterwards (not timed). The ratio is the engine's time over its baseline's at the
same concurrency (target: at most 1.5).

    python bench/vm_start_bench.py [--vms 100] [--concurrency 1,8] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD  # noqa: E402
from tests.provider.process import ProviderProcess, run_provider  # noqa: E402
from tests.servers import ADMIN_PASSWORD, EngineProcess, run_engine, run_host_agent, scratch_database  # noqa: E402

from extnet.common.hostrpc import OVS_AGENT_TYPE  # noqa: E402  (the host's agent reports itself as one)
from extnet.engine.operations.ports import DEVICE_OWNER  # noqa: E402

NICS = 2


@dataclass
class Row:
    what: str
    concurrency: int
    count: int  # VMs started, or VMs' worth of provider work
    seconds: float
    latencies: list[float] = field(default_factory=list)
    baseline: Row | None = None
    phases: dict[str, float] = field(default_factory=dict)  # median ms of each phase, as the engine logged them

    def cells(self) -> list[str]:
        per = self.seconds / self.count * 1000
        lat = self.latencies or [0.0]
        p95 = sorted(lat)[max(0, int(len(lat) * 0.95) - 1)] * 1000
        ratio = f"{self.seconds / self.baseline.seconds:.2f}" if self.baseline else ""
        median = f"{statistics.median(lat) * 1000:.1f}" if self.latencies else ""
        tail = f"{p95:.1f}" if self.latencies else ""
        return [self.what, str(self.concurrency), str(self.count), f"{self.seconds:.2f}", f"{per:.1f}", median, tail,
                ratio]  # fmt: skip


def in_parallel(calls: list[Callable[[], Any]], clients: int) -> tuple[float, list[float]]:
    """Run the calls with ``clients`` workers; the wall time and each call's latency."""

    def timed(call: Callable[[], Any]) -> float:
        began = time.perf_counter()
        call()
        return time.perf_counter() - began

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = list(pool.map(timed, calls))
    return time.perf_counter() - began, latencies


class Bench:
    def __init__(self, engine: EngineProcess, provider: ProviderProcess, host_fields: dict[str, Any]) -> None:
        self.engine = engine
        self.provider = provider
        self.conn = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=600)
        self.system = self.conn.system_service()
        self.api = httpx.Client(base_url=engine.url + "/", auth=("admin@internal", ADMIN_PASSWORD), timeout=600,
                                headers={"Accept": "application/json", "Content-Type": "application/json"},
                                limits=httpx.Limits(max_connections=64))  # fmt: skip
        self.neutron = provider.connect()
        registered = self.system.openstack_network_providers_service().add(t.OpenStackNetworkProvider(
            name="bench", type=t.OpenStackNetworkProviderType.EXTERNAL, url=provider.network_url,
            requires_authentication=True, username="admin", password=PROVIDER_PASSWORD,
            authentication_url=provider.auth_url, project_name="admin", user_domain_name="Default",
            project_domain_name="Default"))  # fmt: skip
        self.cluster = self.system.clusters_service().list(search="name=Default")[0]
        self.networks = [self._network(registered.id, i) for i in range(NICS)]
        self.profiles = [self._profile(network.name) for network in self.networks]
        host = self.system.hosts_service().add(t.Host(name="bench-host", cluster=t.Cluster(id=self.cluster.id),
                                                      **host_fields))  # fmt: skip
        reported = self.api.get(f"hosts/{host.id}").json()["host_agent"]["binding_host_ids"]["property"]
        self.binding = next(p["value"] for p in reported if p["name"] == "open_vswitch")
        deadline = time.monotonic() + 60
        while not any(a.is_alive for a in self.neutron.network.agents(host=self.binding)):
            assert time.monotonic() < deadline, "the host's agent never became alive on the provider"
            time.sleep(0.1)

    def _network(self, provider_id: str, index: int) -> Any:
        network = self.neutron.network.create_network(name=f"bench-net-{index}")
        self.neutron.network.create_subnet(network_id=network.id, cidr=f"10.{100 + index}.0.0/16", ip_version=4)
        answer = self.api.post(f"openstacknetworkproviders/{provider_id}/networks/{network.id}/import",
                               json={"data_center": {"name": "Default"}, "attach_to_all_clusters": True})  # fmt: skip
        answer.raise_for_status()
        return network

    def _profile(self, name: str) -> str:
        [network] = self.system.networks_service().list(search=f"name={name}")
        [profile] = self.system.networks_service().network_service(network.id).vnic_profiles_service().list()
        return str(profile.id)

    def close(self) -> None:
        self.api.close()
        self.neutron.close()
        self.conn.close()

    def make_vms(self, count: int, label: str) -> list[str]:
        ids = []
        for index in range(count):
            vm = self.api.post("vms", json={"name": f"bench-{label}-{index:03d}", "cluster": {"id": self.cluster.id},
                                            "template": {"name": "Blank"}}).json()  # fmt: skip
            for nic, profile in enumerate(self.profiles):
                body = {"name": f"nic{nic}", "vnic_profile": {"id": profile}}
                self.api.post(f"vms/{vm['id']}/nics", json=body).raise_for_status()
            ids.append(vm["id"])
        return ids

    def baseline(self, clients: int, vms: int) -> tuple[Row, Row]:
        """The provider work of ``vms`` starts, ``clients`` sessions side by side: for a first start, one bulk create
        of a VM's ports and the host's report of them up; for a start again, one lookup of them and the report."""
        sessions = [self.provider.connect() for _ in range(clients)]
        for connection in sessions:
            connection.network.find_network(self.networks[0].id)  # authenticated before the clock starts
        url = self.provider.network_url + "/v2.0"
        [agent] = [a for a in self.neutron.network.agents(host=self.binding) if a.agent_type == OVS_AGENT_TYPE]
        agent_fields = {"host": self.binding, "agent_type": agent.agent_type, "binary": agent.binary,
                        "configurations": agent.configuration}  # fmt: skip
        bodies = [[self._port_body(nic, network.id) for nic, network in enumerate(self.networks)] for _ in range(vms)]
        made: list[list[str]] = [[] for _ in range(vms)]

        def call(index: int, method: str, path: str, **kwargs: Any) -> Any:
            answer = sessions[index % clients].session.request(f"{url}{path}", method, raise_exc=False,
                                                               connect_retries=0, **kwargs)  # fmt: skip
            assert answer.status_code in (200, 201), f"{method} {path}: {answer.status_code} {answer.text[:300]}"
            return answer.json()

        def report(index: int, up: list[str], down: list[str]) -> None:
            beat = {"agent": {**agent_fields, "devices_up": sorted(up), "devices_down": sorted(down)}}
            statuses = call(index, "POST", "/agents/heartbeat", json=beat).get("device_status", {})
            wanted = "ACTIVE" if up else "DOWN"
            assert all(statuses.get(port) == wanted for port in up + down), f"the report was not taken: {statuses}"

        def first(index: int) -> None:
            ports = call(index, "POST", "/ports", json={"ports": bodies[index]})["ports"]
            made[index] = [port["id"] for port in ports]
            report(index, made[index], [])

        def again(index: int) -> None:
            params = [("device_owner", DEVICE_OWNER)] + [("device_id", body["device_id"]) for body in bodies[index]]
            found = call(index, "GET", "/ports", params=params)["ports"]
            assert len(found) == NICS, f"{len(found)} ports found for {NICS} vNICs"
            report(index, [port["id"] for port in found], [])

        try:
            seconds, latencies = in_parallel([lambda i=i: first(i) for i in range(vms)], clients)  # type: ignore[misc]
            made_row = Row("provider: a first start's work (bulk create + device report)", clients, vms, seconds,
                           latencies)  # fmt: skip
            report(0, [], [port for ports in made for port in ports])  # what a stop leaves: the ports DOWN
            seconds, latencies = in_parallel([lambda i=i: again(i) for i in range(vms)], clients)  # type: ignore[misc]
            again_row = Row("provider: a start again's work (lookup + device report)", clients, vms, seconds,
                            latencies)  # fmt: skip
        finally:
            for port_id in (port for ports in made for port in ports):
                self.neutron.network.delete_port(port_id)
            for connection in sessions:
                connection.close()
        return made_row, again_row

    def _port_body(self, nic: int, network_id: str) -> dict[str, Any]:
        """The body of a vNIC's port as the engine's (``extnet.engine.operations.ports.create_body``; the vNIC's id as
        device id, a profile without security groups)."""
        return {"network_id": network_id, "name": f"nic{nic}", "mac_address": _mac(), "device_id": str(uuid.uuid4()),
                "device_owner": DEVICE_OWNER, "binding:host_id": self.binding, "admin_state_up": True,
                "description": "bench"}  # fmt: skip

    def starts(self, vm_ids: list[str], clients: int, what: str, baseline: Row) -> Row:
        def start(vm_id: str) -> None:
            answer = self.api.post(f"vms/{vm_id}/start", json={})
            assert answer.status_code == 200, answer.text

        seconds, latencies = in_parallel([lambda v=v: start(v) for v in vm_ids], clients)  # type: ignore[misc]
        up = self.api.get("vms", params={"search": "status=up"}).json().get("vm", [])
        assert len({vm["id"] for vm in up} & set(vm_ids)) == len(vm_ids), "every VM up"
        ports = [p for network in self.networks for p in self.neutron.network.ports(network_id=network.id)
                 if p.device_owner == "oVirt" and p.status == "ACTIVE"]  # fmt: skip
        assert len(ports) >= NICS * len(vm_ids), f"{len(ports)} ACTIVE ports for {len(vm_ids)} VMs"
        return Row(what, clients, len(vm_ids), seconds, latencies, baseline)

    def stop(self, vm_ids: list[str]) -> None:
        for vm_id in vm_ids:
            self.api.post(f"vms/{vm_id}/stop", json={}).raise_for_status()


def _mac() -> str:
    raw = uuid.uuid4().bytes[:4]
    return "fa:16:" + ":".join(f"{b:02x}" for b in raw)


def measure(bench: Bench, vms: int, levels: list[int]) -> list[Row]:
    rows: list[Row] = []
    for clients in levels:
        vm_ids = bench.make_vms(vms, f"c{clients}")
        base_first, base_again = bench.baseline(clients, vms)
        show(base_first)
        first = show(bench.starts(vm_ids, clients, "engine: start, first (ports made)", base_first))
        first.phases = phases_of(bench.engine, f"bench-c{clients}-", 0)
        bench.stop(vm_ids)
        show(base_again)
        again = show(bench.starts(vm_ids, clients, "engine: start again (ports reused)", base_again))
        again.phases = phases_of(bench.engine, f"bench-c{clients}-", 1)
        bench.stop(vm_ids)
        rows += [base_first, first, base_again, again]
    return rows


_STARTED = re.compile(r"VM (\S+) started on host \S+ in ([\d.]+) ms \((.*)\)")


def phases_of(engine: EngineProcess, prefix: str, occurrence: int) -> dict[str, float]:
    """The median of each phase of the starts the engine logged for VMs named ``prefix*`` (the ``occurrence``-th
    start of each VM: 0 the first, 1 the second)."""
    seen: dict[str, int] = {}
    samples: dict[str, list[float]] = {}
    for match in _STARTED.finditer(engine.log()):
        name = match.group(1)
        if not name.startswith(prefix):
            continue
        seen[name] = seen.get(name, -1) + 1
        if seen[name] != occurrence:
            continue
        samples.setdefault("total", []).append(float(match.group(2)))
        for part in match.group(3).split(", "):
            phase, _, ms = part.rpartition(" ")
            samples.setdefault(phase, []).append(float(ms))
    return {phase: statistics.median(values) for phase, values in samples.items()}


def show(row: Row) -> Row:
    print(" | ".join(row.cells()), flush=True)
    return row


def print_table(rows: list[Row]) -> None:
    print("\n| operation | clients | count | total s | per item ms | median latency ms | p95 latency ms | ratio to "
          "the provider's own cost |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")
    names = ["checks", "scheduling", "ports", "host", "ACTIVE", "recording", "total"]
    print("\nInside the engine, median ms per start (as it logs them; the rest of a client's latency is HTTP and "
          "waiting for a worker):\n")  # fmt: skip
    print("| start | clients | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for row in rows:
        if row.phases:
            cells = [f"{row.phases.get(name, 0.0):.1f}" for name in names]
            print(f"| {row.what.removeprefix('engine: ')} | {row.concurrency} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=100)
    parser.add_argument("--concurrency", default="1,8", help="comma-separated numbers of clients")
    parser.add_argument("--database-url", help="a PostgreSQL server URL: engine and provider on fresh databases")
    args = parser.parse_args()
    levels = [int(part) for part in args.concurrency.split(",")]
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="extnet-vm-bench-") as tmp:
        base = Path(tmp)
        engine_db = stack.enter_context(scratch_database(args.database_url))
        provider_db = stack.enter_context(scratch_database(args.database_url))
        provider = stack.enter_context(run_provider(base / "provider", provider_db))
        engine_env = {"EXTNET_HOST_MONITOR_INTERVAL": "2", "EXTNET_LOG_LEVEL": "warning"}
        engine = stack.enter_context(run_engine(base / "engine", engine_db, env=engine_env))
        host_env = {"EXTNET_HOST_HEARTBEAT_INTERVAL": "10", "EXTNET_HOST_LOG_LEVEL": "warning"}
        agent = stack.enter_context(run_host_agent(base / "host", env=host_env))
        bench = Bench(engine, provider, agent.host_fields())
        try:
            print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}; {args.vms} VMs x {NICS} vNICs",
                  flush=True)  # fmt: skip
            rows = measure(bench, args.vms, levels)
        finally:
            bench.close()
        print_table(rows)
        assert "Traceback" not in engine.log(), engine.log()[-4000:]
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
