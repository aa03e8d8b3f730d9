"""Adding VMs with 2 vNICs each through the engine, at 100 vNICs and at ``--nics`` vNICs in its inventory.

The engine runs as a real process on 127.0.0.1 (SQLite, or a fresh database of ``--database-url``). The inventory
is grown by seeding rows straight into the engine's database (the API would take minutes to make 10,000 vNICs):
VMs with 2 vNICs each holding the Default MAC pool's addresses from its start (what the API hands out), the active
snapshot every VM has, and a regular snapshot remembering the vNICs of every ``--snapshot-every``-th VM. At each
size ``--adds`` VMs are made through the API, one after the other, from one keep-alive JSON client (httpx), as the
fleet simulator makes them: ``POST /vms`` and two ``POST /vms/{id}/nics`` on the ovirtmgmt profile, each timed.
The table gives the median cost of each at both sizes and the ratio (target: 1.0, within noise).

``--profile FILE`` runs the engine at the larger size under cProfile (``python -m cProfile -o FILE -m extnet
engine``), stopped with SIGINT so that the profile is written. cProfile sees only the main thread, and the API's
requests run in worker threads: for them, wrap ``ApiDispatcher._dispatch`` in a profiler of its own (e.g. from a
``sitecustomize.py`` on ``PYTHONPATH``, which the engine process inherits).

    python bench/engine_growth_bench.py [--nics 10000] [--adds 50] [--database-url URL] [--profile FILE]
"""

from __future__ import annotations

import argparse
import os
import signal
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
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import ADMIN_PASSWORD, free_port, scratch_database, wait_for_http  # noqa: E402

from extnet.engine.domain import mac  # noqa: E402
from extnet.engine.store.db import Database, migrate  # noqa: E402
from extnet.engine.store.inventory import DEFAULT_MAC_RANGE  # noqa: E402
from extnet.engine.store.models import Cluster, Snapshot, Vm, VmNic  # noqa: E402

SMALL = 100
NICS = 2
OPERATIONS = ("add a VM", "add a vNIC", "add a VM + 2 vNICs")


def seed(db: Database, total: int, snapshot_every: int) -> None:
    """Grow the inventory to ``total`` vNICs (VMs of 2), on the Default pool's addresses after those in use."""
    with db.transaction() as session:
        cluster_id = session.scalar(select(Cluster.id).where(Cluster.name == "Default"))
        highest = session.scalar(select(func.max(VmNic.mac_address)))
        have = session.scalar(select(func.count(VmNic.id))) or 0
        base = mac.mac_to_int(highest) + 1 if highest else mac.mac_to_int(DEFAULT_MAC_RANGE[0])
        vms, nics, snapshots = [], [], []
        for index in range((total - have) // NICS):
            vm_id = str(uuid.uuid4())
            vms.append({"id": vm_id, "name": f"seed-{have // NICS + index:06d}", "cluster_id": cluster_id})
            made = [{"id": str(uuid.uuid4()), "vm_id": vm_id, "name": f"nic{n}", "interface": "virtio",
                     "mac_address": mac.int_to_mac(base + index * NICS + n)} for n in range(NICS)]  # fmt: skip
            nics += made
            snapshots.append({"id": str(uuid.uuid4()), "vm_id": vm_id, "description": "Active VM",
                              "snapshot_type": "active", "nics": []})  # fmt: skip
            if snapshot_every and index % snapshot_every == 0:
                snapshots.append({"id": str(uuid.uuid4()), "vm_id": vm_id, "description": "seeded",
                                  "snapshot_type": "regular", "nics": [{k: v for k, v in nic.items() if k != "vm_id"}
                                                                       for nic in made]})  # fmt: skip
        for model, rows in ((Vm, vms), (VmNic, nics), (Snapshot, snapshots)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start : start + 5000])


@contextmanager
def engine_process(data: Path, database_url: str | None, profile: Path | None) -> Iterator[str]:
    """The engine on a free port (under cProfile with ``profile``); its API URL."""
    port = free_port()
    prefix = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
    args = [*prefix, "-m", "extnet", "engine", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)]
    args += ["--database-url", database_url] if database_url else []
    env = {**os.environ, "EXTNET_ADMIN_PASSWORD": ADMIN_PASSWORD, "EXTNET_LOG_LEVEL": "warning"}
    log_path = data / "engine.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ovirt-engine/sso/oauth/token", process, log_path)
        yield f"http://127.0.0.1:{port}/ovirt-engine/api"
    finally:
        process.send_signal(signal.SIGINT)  # uvicorn re-raises SIGTERM before cProfile can write its file
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def add_vms(api: httpx.Client, cluster_id: str, profile_id: str, label: str, count: int) -> dict[str, list[float]]:
    """Make ``count`` VMs with 2 vNICs each; the seconds each operation took."""
    took: dict[str, list[float]] = {name: [] for name in OPERATIONS}
    for index in range(count):
        began = time.perf_counter()
        answer = api.post("vms", json={"name": f"{label}-{index:04d}", "cluster": {"id": cluster_id},
                                       "template": {"name": "Blank"}})  # fmt: skip
        assert answer.status_code == 201, answer.text[:300]
        took["add a VM"].append(time.perf_counter() - began)
        vm_id = answer.json()["id"]
        for nic in range(NICS):
            start = time.perf_counter()
            body = {"name": f"nic{nic}", "vnic_profile": {"id": profile_id}}
            answer = api.post(f"vms/{vm_id}/nics", json=body)
            assert answer.status_code == 201, answer.text[:300]
            took["add a vNIC"].append(time.perf_counter() - start)
        took["add a VM + 2 vNICs"].append(time.perf_counter() - began)
    return took


def medians(took: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) * 1000 for name, values in took.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nics", type=int, default=10_000, help="vNICs in the inventory at the larger size")
    parser.add_argument("--adds", type=int, default=50, help="VMs (of 2 vNICs) made through the API at each size")
    parser.add_argument("--snapshot-every", type=int, default=10, help="a regular snapshot of every n-th seeded VM")
    parser.add_argument("--database-url", default=os.environ.get("EXTNET_BENCH_DATABASE_URL"))
    parser.add_argument("--profile", type=Path, help="run the engine under cProfile, writing this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="extnet-growth-") as tmp, scratch_database(args.database_url) as db_url:
        data = Path(tmp)
        url = db_url or f"sqlite:///{data / 'engine.sqlite'}"
        migrate(url)
        db = Database(url)
        rows: dict[int, dict[str, float]] = {}
        try:
            for size, profile in ((SMALL, None), (args.nics, args.profile)):
                began = time.perf_counter()
                seed(db, size - args.adds * NICS if size > SMALL else size, args.snapshot_every)
                print(f"seeded up to {size} vNICs in {time.perf_counter() - began:.1f} s", flush=True)
                with engine_process(data, db_url, profile) as api_url:
                    rows[size] = measure(api_url, f"at{size}", args.adds)
                print(" | ".join(f"{k}: {v:.1f} ms" for k, v in rows[size].items()), flush=True)
        finally:
            db.dispose()
    print_table(rows, args, "SQLite" if not db_url else "PostgreSQL")
    return 0


def measure(api_url: str, label: str, adds: int) -> dict[str, float]:
    auth = ("admin@internal", ADMIN_PASSWORD)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    with httpx.Client(base_url=api_url + "/", auth=auth, headers=headers, timeout=600) as api:
        cluster_id = api.get("clusters", params={"search": "name=Default"}).json()["cluster"][0]["id"]
        profile_id = api.get("vnicprofiles").json()["vnic_profile"][0]["id"]
        add_vms(api, cluster_id, profile_id, f"warm-{label}", 3)
        return medians(add_vms(api, cluster_id, profile_id, label, adds))


def print_table(rows: dict[int, dict[str, float]], args: argparse.Namespace, database: str) -> None:
    small, large = rows[SMALL], rows[args.nics]
    print(f"\n{database}; {args.adds} VMs of {NICS} vNICs made through the API at each size\n")
    print(f"| median ms | at {SMALL} vNICs | at {args.nics:,} vNICs | ratio |")
    print("|---|---:|---:|---:|")
    for name in OPERATIONS:
        print(f"| {name} | {small[name]:.1f} | {large[name]:.1f} | {large[name] / small[name]:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
