"""One engine per database: a second engine on the same database refuses to start, naming the one that runs; with
``--standby`` it waits and takes over when the first is gone (killed: once its lease expires)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.polling import until
from tests.servers import ADMIN_PASSWORD, EngineProcess, free_port, run_engine, scratch_database

LEASE_TTL = "3"  # seconds: the standby takes over a killed engine within about that


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """The database both engines are pointed at: a fresh one on the test server, else an SQLite file."""
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        yield url or f"sqlite:///{tmp_path / 'shared.sqlite'}"


@contextmanager
def second_engine(tmp_path: Path, database: str, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """``extnet engine`` on ``database`` with its own data dir and port, not waited for: (process, base URL, log)."""
    port = free_port()
    data_dir = tmp_path / "second"
    data_dir.mkdir()
    log = data_dir / "engine.log"
    args = [sys.executable, "-m", "extnet", "engine", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
            "--database-url", database, *extra]  # fmt: skip
    env = {**os.environ, "EXTNET_ADMIN_PASSWORD": ADMIN_PASSWORD, "EXTNET_LEASE_TTL": LEASE_TTL}
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process, f"http://127.0.0.1:{port}", log
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ovirt-engine/api", auth=("admin@internal", ADMIN_PASSWORD), timeout=2).is_success
    except httpx.TransportError:
        return False


def events(base: str) -> list[dict[str, str]]:
    response = httpx.get(f"{base}/ovirt-engine/api/events", auth=("admin@internal", ADMIN_PASSWORD),
                         headers={"Accept": "application/json"}, timeout=10)  # fmt: skip
    return list(response.json().get("event", []))


def holder_text(first: EngineProcess) -> str:
    return f"pid {first.process.pid}, serving http://{first.base.removeprefix('http://')}"


def test_a_second_engine_on_the_same_database_refuses_to_start(tmp_path: Path, database: str) -> None:
    with run_engine(tmp_path / "first", database, env={"EXTNET_LEASE_TTL": LEASE_TTL}) as first:
        with second_engine(tmp_path, database) as (process, base, log):
            assert process.wait(timeout=60) == 2
            said = log.read_text()
            assert "error: another engine runs on this database: engine on" in said and holder_text(first) in said
            assert "--standby" in said and not answers(base)
        # the first one went on as before, well past its lease's first renewals
        deadline = time.monotonic() + 2 * float(LEASE_TTL)
        while time.monotonic() < deadline:
            assert answers(first.base)
            time.sleep(0.5)
        assert "stopping" not in first.log()


def test_a_standby_engine_takes_over_when_the_first_is_killed(tmp_path: Path, database: str) -> None:
    with (
        run_engine(tmp_path / "first", database, env={"EXTNET_LEASE_TTL": "60"}) as first,
        second_engine(tmp_path, database, "--standby") as (process, base, log),
    ):
        until(lambda: "standby: waiting to take over the database from the engine on" in log.read_text(),
              "the standby to say whom it waits for")  # fmt: skip
        assert holder_text(first) in log.read_text()
        assert process.poll() is None and not answers(base)
        first.process.send_signal(signal.SIGKILL)  # no goodbye; its process gone, its lease need not run out
        first.process.wait()
        until(lambda: answers(base), "the standby to serve once the first engine was killed", deadline_s=20)
        taken = [e for e in events(base) if e["code"] == "9720"]
        assert taken and f"pid {first.process.pid}" in taken[0]["description"]


def test_a_paused_engine_loses_the_database_to_the_standby_and_stops(tmp_path: Path, database: str) -> None:
    with (
        run_engine(tmp_path / "first", database, env={"EXTNET_LEASE_TTL": LEASE_TTL}) as first,
        second_engine(tmp_path, database, "--standby") as (process, base, log),
    ):
        until(lambda: "standby: waiting" in log.read_text(), "the standby waiting")
        first.process.send_signal(signal.SIGSTOP)  # alive but silent: its lease has to run out
        paused_at = time.monotonic()
        try:
            until(lambda: answers(base), "the standby to serve once the lease ran out", deadline_s=60)
            assert time.monotonic() - paused_at >= float(LEASE_TTL) - 1.5  # not before the lease expired
        finally:
            first.process.send_signal(signal.SIGCONT)
        # back, the first finds its lease taken and stops serving rather than work beside the standby
        assert first.process.wait(timeout=30) is not None
        assert "stopping: another engine took over this database" in first.log()
        assert answers(base) and process.poll() is None


def test_a_standby_engine_takes_over_at_once_when_the_first_stops(tmp_path: Path, database: str) -> None:
    env = {"EXTNET_LEASE_TTL": "60"}  # the standby must not wait for this
    with (
        run_engine(tmp_path / "first", database, env=env) as first,
        second_engine(tmp_path, database, "--standby") as (process, base, log),
    ):
        until(lambda: "standby: waiting" in log.read_text(), "the standby waiting")
        first.process.terminate()
        first.process.wait(timeout=20)
        until(lambda: answers(base), "the standby to serve once the first engine stopped", deadline_s=20)
        assert process.poll() is None
