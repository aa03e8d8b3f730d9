"""The fleet simulator's world: the provider registered in the engine, its networks imported, the simulated hosts
added, and the operations the benchmark builds and measures with (``bench/scale_bench.py`` says what each is)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD
from tests.provider.process import ProviderProcess
from tests.servers import ADMIN_PASSWORD, EngineProcess

from bench.fleet import Fleet, SeededVm, SimulatedHost, seed
from extnet.engine.operations.ports import DEVICE_OWNER

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16  # the start storm's clients
BUILDERS = 4  # threads adding hosts, making VMs, seeding ports
BULK = 500  # ports per bulk create when seeding
PROGRESS_EVERY = 10.0  # seconds between progress lines of a long phase
SEED_OWNER = "compute:nova"  # the seeded ports: a Nova-like owner, apart from the engine's


class Progress:
    """Prints ``what: done/total`` at most every PROGRESS_EVERY seconds, with the rate and what is left."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.began = self.said = time.monotonic()
        self._lock = threading.Lock()

    def add(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if now - self.said < PROGRESS_EVERY and self.done < self.total:
                return
            self.said = now
            rate = self.done / max(now - self.began, 1e-6)
            left = (self.total - self.done) / rate if rate else 0.0
            print(f"  {self.what}: {self.done}/{self.total} ({rate:.0f}/s, {left:.0f} s left)", flush=True)


_STARTED = re.compile(r"VM scale-(\d+) started on host (\S+) in ([\d.]+) ms \((.*)\)")


def engine_phases(log: str, first: int) -> tuple[dict[str, float], int]:
    """The median ms of each phase of the starts the engine logged for VMs ``scale-<n>``, n >= ``first``; and on how
    many hosts those VMs started."""
    samples: dict[str, list[float]] = {}
    hosts: set[str] = set()
    for match in _STARTED.finditer(log):
        if int(match.group(1)) < first:
            continue
        hosts.add(match.group(2))
        samples.setdefault("total", []).append(float(match.group(3)))
        for part in match.group(4).split(", "):
            phase, _, ms = part.rpartition(" ")
            samples.setdefault(phase, []).append(float(ms))
    return {phase: statistics.median(values) for phase, values in samples.items()}, len(hosts)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class World:
    def __init__(self, engine: EngineProcess, provider: ProviderProcess, fleet: Fleet, nics: int,
                 scratch: Path) -> None:  # fmt: skip
        self.engine, self.provider, self.fleet, self.scratch = engine, provider, fleet, scratch
        self.conn = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=600)
        self.system = self.conn.system_service()
        token = self.conn.authenticate()
        self.api = httpx.Client(base_url=engine.url + "/", timeout=600, limits=httpx.Limits(max_connections=32),
                                headers={"Accept": "application/json", "Content-Type": "application/json",
                                         "Authorization": f"Bearer {token}"})  # fmt: skip
        self.neutron = provider.connect()
        self.registered = self.system.openstack_network_providers_service().add(t.OpenStackNetworkProvider(
            name="scale", type=t.OpenStackNetworkProviderType.EXTERNAL, url=provider.network_url,
            requires_authentication=True, username="admin", password=PROVIDER_PASSWORD,
            authentication_url=provider.auth_url, project_name="admin", user_domain_name="Default",
            project_domain_name="Default"))  # fmt: skip
        self.cluster = self.system.clusters_service().list(search="name=Default")[0]
        self.system.clusters_service().cluster_service(self.cluster.id).update(t.Cluster(
            external_network_providers=[t.ExternalProvider(id=self.registered.id)]))  # fmt: skip
        self.networks = [self._network(index) for index in range(nics)]
        self.profiles = [self._profile(network["name"]) for network in self.networks]
        self.vm_count = 0
        self.seeded_count = 0
        self.vnic_ids: list[str] = []  # the device ids of the engine's ports

    @classmethod
    @contextmanager
    def built(cls, engine: EngineProcess, provider: ProviderProcess, fleet: Fleet, nics: int,
              scratch: Path) -> Iterator[World]:  # fmt: skip
        world = cls(engine, provider, fleet, nics, scratch)
        try:
            world.add_hosts()
            yield world
        finally:
            world.api.close()
            world.neutron.close()
            world.conn.close()

    # --- the provider, raw --------------------------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.neutron.session.request(f"{self.provider.network_url}/v2.0{path}", method, raise_exc=False,
                                              connect_retries=0, **kwargs)  # fmt: skip
        if answer.status_code not in (200, 201, 204):
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.status_code != 204 else None

    # --- building ---------------------------------------------------------------------------------------------

    def _network(self, index: int) -> dict[str, Any]:
        network = self.call("POST", "/networks", json={"network": {"name": f"scale-net-{index}"}})["network"]
        self.call("POST", "/subnets", json={"subnet": {"network_id": network["id"], "ip_version": 4,
                                                       "cidr": f"10.{16 * (index + 1)}.0.0/12"}})  # fmt: skip
        answer = self.api.post(f"openstacknetworkproviders/{self.registered.id}/networks/{network['id']}/import",
                               json={"data_center": {"name": "Default"}, "attach_to_all_clusters": True})  # fmt: skip
        answer.raise_for_status()
        return dict(network)

    def _profile(self, name: str) -> str:
        [network] = self.system.networks_service().list(search=f"name={name}")
        [profile] = self.system.networks_service().network_service(network.id).vnic_profiles_service().list()
        return str(profile.id)

    def add_hosts(self) -> None:
        progress = Progress("hosts added and paired", len(self.fleet.hosts))
        local = threading.local()

        def add(host: SimulatedHost) -> None:
            if not hasattr(local, "hosts"):
                local.hosts = sdk.Connection(url=self.engine.url, username="admin@internal", password=ADMIN_PASSWORD,
                                             timeout=600).system_service().hosts_service()  # fmt: skip
            local.hosts.add(t.Host(name=host.name, cluster=t.Cluster(id=self.cluster.id), **host.host_fields()))
            progress.add()

        _each(add, self.fleet.hosts)
        bindings = {host.binding for host in self.fleet.hosts}
        _until(lambda: bindings <= {a["host"] for a in self.call("GET", "/agents")["agents"] if a["alive"]},
               "every simulated host's agent alive on the provider", 120)  # fmt: skip
        up = self.api.get("hosts", params={"search": "status=up"}).json().get("host", [])
        assert len(up) == len(self.fleet.hosts), f"{len(up)} of {len(self.fleet.hosts)} hosts up"

    def make_vms(self, count: int) -> list[str]:
        """``count`` VMs of the cluster, each with one vNIC on each network; their ids."""
        first = self.vm_count
        self.vm_count += count
        progress = Progress("VMs made", count)
        ids: list[str] = []

        def make(index: int) -> None:
            vm = self.api.post("vms", json={"name": f"scale-{index:06d}", "cluster": {"id": self.cluster.id},
                                            "template": {"name": "Blank"}})  # fmt: skip
            assert vm.status_code == 201, vm.text
            vm_id = vm.json()["id"]
            for nic, profile in enumerate(self.profiles):
                made = self.api.post(f"vms/{vm_id}/nics", json={"name": f"nic{nic}", "vnic_profile": {"id": profile}})
                assert made.status_code == 201, made.text
                self.vnic_ids.append(made.json()["id"])
            ids.append(vm_id)
            progress.add()

        _each(make, range(first, first + count))
        return ids

    def seed(self, per_host: int) -> None:
        """``per_host`` seeded "VMs" (of one port on each network) on every host, plugged in its noop runtime."""
        if not per_host:
            return
        progress = Progress("ports seeded", per_host * len(self.fleet.hosts) * len(self.networks))

        def on_host(host: SimulatedHost) -> None:
            vms = [SeededVm(str(uuid.uuid4()), f"seed-{host.index:03d}-{self.seeded_count + i}", (), ())
                   for i in range(per_host)]  # fmt: skip
            bodies = [{"network_id": net["id"], "name": f"{vm.name}-nic{k}", "device_id": vm.id,
                       "device_owner": SEED_OWNER, "binding:host_id": host.binding, "admin_state_up": True}
                      for vm in vms for k, net in enumerate(self.networks)]  # fmt: skip
            ports: list[dict[str, Any]] = []
            for start in range(0, len(bodies), BULK):
                ports += self.call("POST", "/ports", json={"ports": bodies[start : start + BULK]})["ports"]
                progress.add(len(bodies[start : start + BULK]))
            by_vm: dict[str, list[dict[str, Any]]] = {}
            for port in ports:
                by_vm.setdefault(port["device_id"], []).append(port)
            names = {net["id"]: net["name"] for net in self.networks}
            seeded = [SeededVm(vm.id, vm.name, tuple(by_vm[vm.id]), tuple(names[p["network_id"]] for p in by_vm[vm.id]))
                      for vm in vms]  # fmt: skip
            statuses = seed(host, seeded, self.registered.id, wait=120)
            assert set(statuses.values()) == {"ACTIVE"}, f"{host.name}: seeded ports not all ACTIVE"

        _each(on_host, self.fleet.hosts)
        self.seeded_count += per_host

    # --- measuring --------------------------------------------------------------------------------------------

    def storm(self, vm_ids: list[str]) -> tuple[float, list[float]]:
        """Start ``vm_ids`` with CLIENTS client processes at once: the wall time and every start's latency."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        clients: list[subprocess.Popen[str]] = []
        for index in range(CLIENTS):
            ids_file = self.scratch / f"client-{index}.ids"
            ids_file.write_text("\n".join(vm_ids[index::CLIENTS]))
            Path(f"{ids_file}.done").unlink(missing_ok=True)
            process = subprocess.Popen([sys.executable, "-m", "bench.storm", self.engine.url, "admin@internal",
                                        str(ids_file)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)  # fmt: skip
            assert process.stdin is not None
            process.stdin.write(ADMIN_PASSWORD + "\n")
            process.stdin.flush()
            clients.append(process)
        for process in clients:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready", "a client logged in"
        print(f"  start storm: {len(vm_ids)} VMs, {CLIENTS} clients", flush=True)
        began = time.time()
        for process in clients:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        _watch(clients, [self.scratch / f"client-{index}.ids.done" for index in range(CLIENTS)], len(vm_ids))
        results = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in clients]
        seconds = max(result["ended"] for result in results) - began
        failures = [failure for result in results for failure in result["failures"]]
        assert not failures, f"{len(failures)} starts failed, e.g. {failures[:3]}"
        return seconds, [latency for result in results for latency in result["latencies"]]

    def check_vms_up(self) -> None:
        up = self.api.get("vms", params={"search": "status=up"}).json().get("vm", [])
        assert len(up) == self.vm_count, f"{len(up)} of {self.vm_count} VMs up"

    def check_ports(self) -> tuple[int, int]:
        """(ports through the engine, seeded ports) on the provider, after checking every one is ACTIVE."""
        counts = []
        for owner, expected in (
            (DEVICE_OWNER, len(self.vnic_ids)),
            (SEED_OWNER, self.seeded_count * len(self.fleet.hosts) * len(self.networks)),
        ):
            ports = self.call("GET", "/ports", params={"device_owner": owner, "fields": ["id", "status"]})["ports"]
            active = sum(1 for port in ports if port["status"] == "ACTIVE")
            assert active == len(ports) == expected, f"{owner}: {active} of {len(ports)} ACTIVE, {expected} expected"
            counts.append(len(ports))
        return counts[0], counts[1]

    def steady_cpu(self, intervals: int) -> dict[str, float]:
        """Each process's share of one core while nothing happens but heartbeats, over ``intervals`` intervals."""
        interval = self.fleet.hosts[0].server.settings.heartbeat_interval
        print(f"  steady state: settling {interval:g} s, measuring {intervals * interval:g} s", flush=True)
        time.sleep(interval)  # the storm's last plug reports, then full beats only
        pids = {"provider": self.provider.process.pid, "engine": self.engine.process.pid, "hosts": os.getpid()}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        began = time.monotonic()
        time.sleep(intervals * interval)  # the measurement window itself, not a wait for something
        wall = time.monotonic() - began
        return {name: (cpu_seconds(pid) - before[name]) / wall for name, pid in pids.items()}

    def single_creates(self, samples: int) -> list[float]:
        network = self.networks[0]["id"]
        made: list[str] = []
        latencies: list[float] = []
        for index in range(samples + 1):  # the first warms up
            body = {"port": {"network_id": network, "name": f"probe-{index}", "device_owner": SEED_OWNER,
                             "device_id": str(uuid.uuid4())}}  # fmt: skip
            began = time.perf_counter()
            made.append(self.call("POST", "/ports", json=body)["port"]["id"])
            latencies.append(time.perf_counter() - began)
        for port_id in made:
            self.call("DELETE", f"/ports/{port_id}")
        return latencies[1:]

    def filtered_lists(self, samples: int) -> list[float]:
        chosen = random.sample(self.vnic_ids, min(samples + 1, len(self.vnic_ids)))
        latencies: list[float] = []
        for device_id in chosen:
            began = time.perf_counter()
            found = self.call("GET", "/ports", params={"device_id": device_id})["ports"]
            latencies.append(time.perf_counter() - began)
            assert len(found) == 1, f"{len(found)} ports of vNIC {device_id}"
        return latencies[1:]


def _watch(clients: list[subprocess.Popen[str]], files: list[Path], total: int) -> None:
    """Progress lines until every client is done (each keeps its count of starts in its file)."""
    progress = Progress("VMs started", total)
    seen = 0
    for process in clients:
        while process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)
            done = sum(int(path.read_text() or 0) for path in files if path.exists())
            progress.add(done - seen)
            seen = done


def _each(action: Callable[[Any], None], items: Any) -> None:
    with ThreadPoolExecutor(max_workers=BUILDERS) as pool:
        for _ in pool.map(action, items):
            pass


def _until(check: Callable[[], bool], what: str, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {deadline_s} s")
        time.sleep(0.2)
