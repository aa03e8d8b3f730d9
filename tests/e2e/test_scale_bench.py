"""The fleet simulator (``bench/scale_bench.py``) at its CI size: it runs to the end and its table holds every
measurement with sane values.

It runs on the suite's database: the PostgreSQL server of ``EXTNET_TEST_DATABASE_URL`` (skipped when it does not
answer), else SQLite."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "simulated hosts", "ports on the provider, through the engine (ACTIVE)", "ports on the provider, seeded (ACTIVE)",
    "ports on the provider, all", "start storm: VMs started (16 clients)", "start storm: VMs per second",
    "start storm: median latency ms", "start storm: hosts the VMs started on",
    "start storm: engine's total ms (median)", "start storm: p95 latency ms",
    "steady state: provider CPU, % of one core", "steady state: engine CPU, % of one core",
    "steady state: simulated hosts' process CPU, % of one core", "single port create, median ms",
    "device_id filtered port list, median ms",
)  # fmt: skip
SMALL = {"hosts": 4, "vms": 20, "nics": 2, "ports_per_host": 20}  # what --small means


def _database() -> str:
    url = os.environ.get("EXTNET_TEST_DATABASE_URL")
    if not url:
        return "sqlite"
    parsed = make_url(url)
    try:
        socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=3).close()
    except OSError as err:
        pytest.skip(f"PostgreSQL at {parsed.host}:{parsed.port or 5432} is not reachable ({err}): the fleet simulator "
                    "needs a database server there")  # fmt: skip
    return url


def _table(output: str) -> dict[str, tuple[float, float]]:
    """{measurement: (at a tenth, at full size)} from the simulator's table."""
    rows: dict[str, tuple[float, float]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[\d.]+", cells[1]) and re.fullmatch(r"[\d.]+", cells[2]):
            rows[cells[0]] = (float(cells[1]), float(cells[2]))
    return rows


def test_the_fleet_simulator_runs_at_its_small_size() -> None:
    command = [sys.executable, "bench/scale_bench.py", "--small", "--database-url", _database()]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    rows = _table(done.stdout)
    assert set(ROWS) <= set(rows), f"missing rows: {set(ROWS) - set(rows)}\n{done.stdout}"
    engine_ports = SMALL["vms"] * SMALL["nics"]
    seeded = SMALL["hosts"] * SMALL["ports_per_host"] - engine_ports
    assert rows["simulated hosts"] == (SMALL["hosts"], SMALL["hosts"])
    # the simulator checked every one of them ACTIVE on the provider before it counted them
    assert rows["ports on the provider, through the engine (ACTIVE)"] == (engine_ports / 10, engine_ports)
    assert rows["ports on the provider, seeded (ACTIVE)"][1] == seeded
    assert rows["start storm: VMs started (16 clients)"] == (SMALL["vms"] / 10, SMALL["vms"] * 9 / 10)
    assert "[full size] done" in done.stdout and "estimated time" in done.stdout
    for name in ("start storm: VMs per second", "start storm: median latency ms", "start storm: p95 latency ms",
                 "start storm: engine's total ms (median)", "single port create, median ms",
                 "device_id filtered port list, median ms"):  # fmt: skip
        assert all(value > 0 for value in rows[name]), f"{name}: {rows[name]}"
    assert 1 <= rows["start storm: hosts the VMs started on"][1] <= SMALL["hosts"]
    for name in ROWS:
        if "CPU" in name:
            assert all(0 <= value <= 200 for value in rows[name]), f"{name}: {rows[name]} (% of one core)"
    assert rows["steady state: provider CPU, % of one core"][1] > 0, "the hosts' reports cost the provider nothing?"
