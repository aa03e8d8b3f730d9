"""What a host agent's device report costs the built-in provider, by kind of beat, at N ports bound to one host.

``extnet provider`` runs as a real process on 127.0.0.1 (SQLite, or a fresh database on the server of
``--database-url``); N ports (3,000 by default) are created in bulk, bound to one host whose agent beats first. Then
a keep-alive HTTP client posts ``POST /v2.0/agents/heartbeat`` as that agent and times each kind of beat two ways:
the median beat as the client sees it (HTTP's and the client's own share is in every figure, the baseline's
included), and the CPU time the provider process spent per beat (from ``/proc``; on PostgreSQL the database
server's work is not in it):

  empty           the beat of an agent with nothing to report (digest in step, no device lists): the baseline
  1 change        an incremental beat with one port plugged or unplugged (its status changes each time)
  N unchanged     a full list of the N ports, all already ACTIVE (a resync, or an agent's start)
  N changed       a full list of the N ports, all changing status (up and down in turn)

    python bench/report_bench.py [--ports 3000] [--repeat 30] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.provider.process import issue_token, wait_until_serving  # noqa: E402
from tests.servers import free_port, scratch_database  # noqa: E402

from bench.provider_bench import PASSWORD  # noqa: E402
from extnet.host.heartbeat import device_digest  # noqa: E402

BATCH = 500
OVS = {"bridge_mappings": {"physnet1": "br-ex"}, "integration_bridge": "br-int", "tunnel_types": ["vxlan"],
       "datapath_type": "system", "ovs_hybrid_plug": False}  # fmt: skip


class Agent:
    """One host's agent, beating over a keep-alive client as the provider's admin."""

    def __init__(self, client: httpx.Client, host: str) -> None:
        self.client = client
        self.host = host
        self.held = device_digest(set(), set())  # the digest the provider holds, as the agent keeps track of it

    def beat(self, **devices: Any) -> float:
        report = {"host": self.host, "agent_type": "Open vSwitch agent", "binary": "neutron-openvswitch-agent",
                  "configurations": OVS, **devices}  # fmt: skip
        started = time.perf_counter()
        response = self.client.post("/v2.0/agents/heartbeat", content=orjson.dumps({"agent": report}))
        elapsed = time.perf_counter() - started
        if response.status_code not in (200, 201) or orjson.loads(response.content).get("devices_resync"):
            raise RuntimeError(f"beat refused or out of step: {response.status_code} {response.text[:300]}")
        self.held = devices.get("devices_digest", self.held)
        return elapsed

    def full(self, up: list[str], down: list[str]) -> float:
        digest = device_digest(set(up), set(down))
        return self.beat(devices_full=True, devices_digest=digest, devices_up=up, devices_down=down)

    def step(self, up: list[str], down: list[str], now: tuple[set[str], set[str]]) -> float:
        """An incremental beat: ``up``/``down`` changed, ``now`` the whole set after them."""
        lists = {key: ids for key, ids in (("devices_up", up), ("devices_down", down)) if ids}
        return self.beat(devices_since=self.held, devices_digest=device_digest(*now), **lists)


def create_ports(client: httpx.Client, host: str, count: int) -> list[str]:
    network = client.post("/v2.0/networks", json={"network": {"name": f"report-{uuid.uuid4().hex[:8]}"}}).json()
    network_id = network["network"]["id"]
    subnet = {"network_id": network_id, "cidr": "10.0.0.0/16", "ip_version": 4}
    client.post("/v2.0/subnets", json={"subnet": subnet}).raise_for_status()
    ids: list[str] = []
    while len(ids) < count:
        batch = [{"network_id": network_id, "binding:host_id": host, "device_owner": "oVirt",
                  "device_id": f"vm-{len(ids) + i}"} for i in range(min(BATCH, count - len(ids)))]  # fmt: skip
        response = client.post("/v2.0/ports", json={"ports": batch})
        response.raise_for_status()
        created = response.json()["ports"]
        if any(port["binding:vif_type"] != "ovs" for port in created):
            raise RuntimeError("ports did not bind to the host")
        ids += [port["id"] for port in created]
    return ids


@dataclass
class Timing:
    wall_ms: float  # the median beat, as the client saw it
    cpu_ms: float  # the provider process's CPU time per beat (user + system)


class ProviderCpu:
    """The CPU time the provider process has used so far, from ``/proc``."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/stat")
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        fields = self.path.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime


def timed(cpu: ProviderCpu, repeat: int, beat: Callable[[int], float]) -> Timing:
    before = cpu.seconds()
    walls = [beat(i) for i in range(repeat)]
    return Timing(statistics.median(walls) * 1000, (cpu.seconds() - before) / repeat * 1000)


def measure(agent: Agent, ports: list[str], repeat: int, cpu: ProviderCpu) -> dict[str, Timing]:
    everything = (set(ports), set[str]())
    agent.full(ports, [])  # every port ACTIVE, the digest held
    one, rest = ports[0], set(ports[1:])

    def toggle(i: int) -> float:
        if i % 2 == 0:
            return agent.step([], [one], (rest, {one}))
        return agent.step([one], [], everything)

    results = {"empty": timed(cpu, repeat * 3, lambda _: agent.step([], [], everything))}
    results["1 change"] = timed(cpu, repeat * 3, toggle)
    agent.full(ports, [])
    results[f"{len(ports)} unchanged"] = timed(cpu, repeat, lambda _: agent.full(ports, []))
    turns = max(repeat // 3, 4) // 2 * 2  # an even number: up and down in turn, ending up
    results[f"{len(ports)} changed"] = timed(cpu, turns, lambda i: agent.full(ports, []) if i % 2 else agent.full(
        [], ports))  # fmt: skip
    return results


@contextmanager
def provider(database_url: str | None) -> Iterator[tuple[str, str, int]]:
    """``extnet provider`` as a process of its own: (networking URL, Keystone URL, its pid)."""
    port, keystone = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as data_dir:
        args = [sys.executable, "-m", "extnet", "provider", "--listen", f"127.0.0.1:{port}", "--keystone-listen",
                f"127.0.0.1:{keystone}", "--data-dir", data_dir]  # fmt: skip
        args += ["--database-url", database_url] if database_url else []
        env = {**os.environ, "EXTNET_ADMIN_PASSWORD": PASSWORD}
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{keystone}/v3"):
                wait_until_serving(url, process, Path(data_dir) / "none.log")
            yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{keystone}/v3", process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def run(database_url: str | None, count: int, repeat: int) -> dict[str, Timing]:
    with provider(database_url) as (network_url, auth_url, pid):
        headers = {"X-Auth-Token": issue_token(auth_url, "admin", PASSWORD, "admin"),
                   "Content-Type": "application/json"}  # fmt: skip
        with httpx.Client(base_url=network_url, headers=headers, timeout=300) as client:
            host = f"report-{uuid.uuid4().hex[:8]}"
            agent = Agent(client, host)
            agent.beat(start_flag=True, devices_full=True, devices_digest=agent.held)
            started = time.perf_counter()
            ports = sorted(create_ports(client, host, count))  # the order the host agent lists them in
            print(f"created {len(ports)} ports in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            for _ in range(3):  # warm up each kind of statement
                agent.step([], [], (set(), set()))
            return measure(agent, ports, repeat, ProviderCpu(pid))


def table(results: dict[str, Timing]) -> str:
    wall, cpu = results["empty"].wall_ms, results["empty"].cpu_ms
    lines = ["| beat | ms (median, client) | / empty beat | provider CPU ms per beat | / empty beat |",
             "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {name} | {t.wall_ms:.1f} | {t.wall_ms / wall:.1f} | {t.cpu_ms:.1f} | {t.cpu_ms / cpu:.1f} |"
              for name, t in results.items()]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ports", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=30,
                        help="full beats of N unchanged ports (empty and 1-change beats: 3 times that; N changed ones: "
                             "a third)")  # fmt: skip
    parser.add_argument("--database-url", help="a PostgreSQL server: the provider runs on a fresh database there")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    started = time.monotonic()
    with scratch_database(args.database_url) as url:
        results = run(url, args.ports, args.repeat)
    database = "PostgreSQL" if url else "SQLite"
    took, after = time.monotonic() - started, os.getloadavg()[0]
    print(f"{database}, {args.ports} ports on one host, {args.repeat} beats per kind; total runtime {took:.0f} s, "
          f"load average {load:.2f} before, {after:.2f} after\n")  # fmt: skip
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
