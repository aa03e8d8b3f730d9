"""Fleet simulator: the engine and the built-in provider with N simulated hosts, at a tenth of the size and in full.

The engine and the provider run as real processes (``extnet engine``, ``extnet provider``) on scratch databases of
the PostgreSQL server of ``--database-url`` (``sqlite`` for SQLite). The N hosts are the real host agent application
(noop runtime), N times in this process (``bench/fleet.py``), each on a port of its own: the engine pairs with each
as with a real host (ovirtsdk4, address, port and root password), and each heartbeats to the provider with its
own HeartbeatService and account, every ``--heartbeat-interval`` seconds (the agent's default, 10).

The cluster Default names the provider as its external network provider; ``--nics`` provider networks, each with a
/12 subnet (10.16.0.0/12, 10.32.0.0/12, ...: room for a million ports each), are imported into Default. Each VM
has one vNIC on each network; the engine spreads the VMs over the hosts (the least loaded first).

Ports come two ways, and the table says how many of each:

- through the engine: ``--vms`` VMs with ``--nics`` vNICs, made with the API and started by the start storm (the
  engine creates their ports, the host plugs them and reports them, the provider makes them ACTIVE);
- seeded: when ``--ports-per-host`` asks for more ports than the engine's VMs hold, the rest are made straight on
  the provider (bulk ``POST /v2.0/ports``, ``device_owner`` ``compute:nova``, one fresh ``device_id`` per seeded
  "VM" of ``--nics`` ports, bound to the host) and put into the host's noop runtime as plugged VMs (what
  ``VM.create`` leaves there), so the agent's own heartbeats report them as any other plugged port.

Phase 1 builds a tenth of everything (VMs and seeded ports); phase 2 grows it to full size. After each phase's
storm the same measurements run, and the table sets them side by side:

- start storm: the phase's new VMs started by 16 concurrent clients (processes, ovirtsdk4): VMs per second, median
  and p95 latency;
- steady state: nothing else happening for ``--steady-intervals`` heartbeat intervals (after one interval to
  settle), the provider's CPU time from /proc (utime + stime) over the wall time: its share of one core, all of it
  spent on the hosts' reports (the engine's and the simulator's shares are shown too);
- a single port create (``POST /v2.0/ports``, one port, deleted afterwards untimed) and a ``device_id`` filtered
  port list (``GET /v2.0/ports?device_id=<a vNIC's id>``), ``--samples`` each, median.

    python bench/scale_bench.py                           # 100 hosts, 30,000 ports (10,000 through the engine)
    python bench/scale_bench.py --hosts 100 --ports-per-host 3000    # 300,000 ports
    python bench/scale_bench.py --small                   # a CI-sized smoke run (4 hosts, 20 VMs, 2 vNICs)
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.provider.process import run_provider  # noqa: E402
from tests.servers import run_engine, scratch_database  # noqa: E402

from bench.fleet import Fleet  # noqa: E402
from bench.scale_world import CLIENTS, World, engine_phases  # noqa: E402
from extnet.host.settings import HostSettings  # noqa: E402

PHASES = ("checks", "scheduling", "ports", "host", "ACTIVE", "recording", "total")  # as the engine logs a start
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Size:
    hosts: int
    vms: int
    nics: int
    ports_per_host: int  # ports on each host, through the engine and seeded

    @property
    def engine_ports(self) -> int:
        return self.vms * self.nics

    @property
    def seeded_vms_per_host(self) -> int:
        """Seeded "VMs" (of ``nics`` ports each) on each host, to bring it to ``ports_per_host``."""
        missing = self.hosts * self.ports_per_host - self.engine_ports
        return max(0, math.ceil(missing / (self.hosts * self.nics)))

    def tenth(self) -> tuple[int, int]:
        """(engine VMs, seeded VMs per host) of the first phase."""
        seeded = self.seeded_vms_per_host
        return max(1, self.vms // 10), (max(1, round(seeded / 10)) if seeded else 0)


@dataclass
class Phase:
    label: str
    hosts: int
    engine_ports: int = 0
    seeded_ports: int = 0
    started: int = 0
    storm_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # process -> share of one core at steady state
    creates: list[float] = field(default_factory=list)
    lists: list[float] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # median ms of each start phase, as the engine logs them
    spread: int = 0  # hosts the phase's VMs started on
    seconds: float = 0.0  # the phase's whole wall time

    @property
    def rate(self) -> float:
        return self.started / self.storm_seconds if self.storm_seconds else 0.0


def p95(values: list[float]) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def grow(world: World, phase: Phase, vms: int, seeded_per_host: int, args: argparse.Namespace) -> None:
    """Make the phase's VMs and seeded ports, start the VMs in a storm, and measure."""
    began = time.monotonic()
    first = world.vm_count
    made = world.make_vms(vms)
    world.seed(seeded_per_host)
    phase.storm_seconds, phase.latencies = world.storm(made)
    phase.started = len(made)
    phase.phases, phase.spread = engine_phases(world.engine.log(), first)
    phase.engine_ports, phase.seeded_ports = world.check_ports()
    world.check_vms_up()
    phase.cpu = world.steady_cpu(args.steady_intervals)
    phase.creates = world.single_creates(args.samples)
    phase.lists = world.filtered_lists(args.samples)
    phase.seconds = time.monotonic() - began
    print(f"[{phase.label}] done in {phase.seconds:.0f} s: {phase.engine_ports} ports through the engine, "
          f"{phase.seeded_ports} seeded; storm {phase.rate:.1f} VMs/s", flush=True)  # fmt: skip


def _ratio(small: float, large: float) -> str:
    return f"{large / small:.2f}" if small else ""


def table(tenth: Phase, full: Phase) -> str:
    def row(what: str, a: float, b: float, fmt: str, target: str = "", ratio: bool = True) -> str:
        return f"| {what} | {a:{fmt}} | {b:{fmt}} | {_ratio(a, b) if ratio else ''} | {target} |"

    cpu_a, cpu_b = tenth.cpu, full.cpu
    lines = [
        "| measurement | at a tenth | at full size | full / tenth | target at full size |",
        "|---|---:|---:|---:|---|",
        row("simulated hosts", tenth.hosts, full.hosts, "d", ratio=False),
        row("ports on the provider, through the engine (ACTIVE)", tenth.engine_ports, full.engine_ports, "d"),
        row("ports on the provider, seeded (ACTIVE)", tenth.seeded_ports, full.seeded_ports, "d"),
        row(
            "ports on the provider, all",
            tenth.engine_ports + tenth.seeded_ports,
            full.engine_ports + full.seeded_ports,
            "d",
        ),  # fmt: skip
        row(f"start storm: VMs started ({CLIENTS} clients)", tenth.started, full.started, "d"),
        row("start storm: VMs per second", tenth.rate, full.rate, ".1f"),
        row("start storm: median latency ms", median(tenth.latencies) * 1000, median(full.latencies) * 1000, ".1f"),
        row("start storm: hosts the VMs started on", tenth.spread, full.spread, "d", ratio=False),
        *(row(f"start storm: engine's {name} ms (median)", tenth.phases.get(name, 0.0), full.phases.get(name, 0.0),
              ".1f") for name in PHASES),  # fmt: skip
        row("start storm: p95 latency ms", p95(tenth.latencies) * 1000, p95(full.latencies) * 1000, ".1f"),
        row(
            "steady state: provider CPU, % of one core",
            cpu_a["provider"] * 100,
            cpu_b["provider"] * 100,
            ".2f",
            "< 20 %",
        ),  # fmt: skip
        row("steady state: engine CPU, % of one core", cpu_a["engine"] * 100, cpu_b["engine"] * 100, ".2f"),
        row(
            "steady state: simulated hosts' process CPU, % of one core",
            cpu_a["hosts"] * 100,
            cpu_b["hosts"] * 100,
            ".2f",
        ),  # fmt: skip
        row(
            "single port create, median ms",
            median(tenth.creates) * 1000,
            median(full.creates) * 1000,
            ".1f",
            "≤ 1.5x the tenth",
        ),  # fmt: skip
        row(
            "device_id filtered port list, median ms",
            median(tenth.lists) * 1000,
            median(full.lists) * 1000,
            ".1f",
            "≤ 1.5x the tenth",
        ),  # fmt: skip
        row("phase wall time s (building, storm, measuring)", tenth.seconds, full.seconds, ".0f", ratio=False),
    ]
    return "\n".join(lines)


def estimate(size: Size, interval: float, steady_intervals: int) -> float:
    """Seconds the whole run should take on this machine (2 cores, a test run beside it), from the rates of the runs
    of 2026-12-05: 1.2 hosts added a second, 19 VMs started a second, 400 ports seeded a second, and a VM made in 30
    ms plus 14 us per vNIC already in the engine for each of its vNICs (the engine reads every MAC of the pool to
    allocate one: making VMs grows with the square of their number)."""
    seeded = size.seeded_vms_per_host * size.hosts * size.nics
    steady = 2 * (1 + steady_intervals) * interval
    making = size.vms * 0.03 + 14e-6 * size.nics**2 * size.vms**2 / 2
    return 30 + size.hosts * 0.8 + making + size.vms * 0.05 + seeded / 400 + steady


def parse(argv: list[str] | None = None) -> tuple[argparse.Namespace, Size]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--vms", type=int, default=5000, help="VMs made and started through the engine")
    parser.add_argument("--nics", type=int, default=2, help="external vNICs per VM (one network each)")
    parser.add_argument("--ports-per-host", type=int, default=300,
                        help="ports on each host in all: what the engine's VMs do not hold is seeded")  # fmt: skip
    parser.add_argument("--heartbeat-interval", type=float, help="seconds (default: the agent's own, 10)",
                        default=HostSettings.model_fields["heartbeat_interval"].default)  # fmt: skip
    parser.add_argument("--steady-intervals", type=int, default=3, help="heartbeat intervals the CPU is measured over")
    parser.add_argument("--samples", type=int, default=20, help="port creates and filtered lists, each")
    parser.add_argument("--database-url", default=os.environ.get("EXTNET_BENCH_DATABASE_URL", DEFAULT_DATABASE),
                        help="a PostgreSQL server (fresh databases are made on it), or 'sqlite'")  # fmt: skip
    parser.add_argument(
        "--small",
        action="store_true",
        help="CI-sized: 4 hosts, 20 VMs, 2 vNICs, 20 ports per host, 1 s heartbeats, 5 samples",
    )
    args = parser.parse_args(argv)
    if args.small:
        args.hosts, args.vms, args.nics, args.ports_per_host = 4, 20, 2, 20
        args.heartbeat_interval, args.samples = 1.0, 5
    if not 1 <= args.nics <= 15 or args.hosts < 1 or args.vms < 10:
        parser.error("give 1-15 --nics, at least 1 host and at least 10 VMs")
    return args, Size(args.hosts, args.vms, args.nics, args.ports_per_host)


def main(argv: list[str] | None = None) -> int:
    args, size = parse(argv)
    database = None if args.database_url == "sqlite" else args.database_url
    seeded_full = size.seeded_vms_per_host * size.hosts * size.nics
    print(f"fleet: {size.hosts} hosts, {size.vms} VMs x {size.nics} vNICs through the engine "
          f"({size.engine_ports} ports), {seeded_full} ports seeded; heartbeat every {args.heartbeat_interval:g} s; "
          f"{'PostgreSQL' if database else 'SQLite'}", flush=True)  # fmt: skip
    print(f"estimated time: {estimate(size, args.heartbeat_interval, args.steady_intervals) / 60:.0f} min",
          flush=True)  # fmt: skip
    began = time.monotonic()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="extnet-scale-bench-") as tmp:
        base = Path(tmp)
        provider_db = stack.enter_context(scratch_database(database))
        engine_db = stack.enter_context(scratch_database(database))
        provider = stack.enter_context(run_provider(base / "provider", provider_db,
                                                    env={"EXTNET_PROVIDER_LOG_LEVEL": "warning"}))  # fmt: skip
        # info: the engine logs each start's phases; a day's tokens: the simulator logs in once
        engine_env = {"EXTNET_LOG_LEVEL": "info", "EXTNET_TOKEN_TTL_SECONDS": "86400"}
        engine = stack.enter_context(run_engine(base / "engine", engine_db, env=engine_env))
        fleet = Fleet(base / "hosts", size.hosts, args.heartbeat_interval)
        fleet.start()
        stack.callback(fleet.stop)
        world = stack.enter_context(World.built(engine, provider, fleet, size.nics, base / "storm"))
        vms, seeded = size.tenth()
        tenth = Phase("a tenth", size.hosts)
        grow(world, tenth, vms, seeded, args)
        full = Phase("full size", size.hosts)
        grow(world, full, size.vms - vms, size.seeded_vms_per_host - seeded, args)
        print("\n" + table(tenth, full), flush=True)
        assert "Traceback" not in engine.log(), engine.log()[-4000:]
        assert "Traceback" not in provider.log(), provider.log()[-4000:]
    print(f"\ntotal time {time.monotonic() - began:.0f} s; load average after: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
