"""Starting extnet's programs as real processes on 127.0.0.1 for tests, and throwaway databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_PASSWORD = "extnet-test-admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_database(base_url: str | None) -> Iterator[str | None]:
    """A fresh database on the server of ``base_url`` (PostgreSQL or MariaDB), dropped afterwards.

    ``None`` (the default) means SQLite in the data dir."""
    if not base_url:
        yield None
        return
    url = make_url(base_url)
    name = f"extnet_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if url.get_backend_name() == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@dataclass
class EngineProcess:
    url: str  # .../ovirt-engine/api
    base: str  # scheme://host:port
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str | None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for_http(url: str, process: subprocess.Popen[bytes], log_path: Path, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            httpx.post(url, timeout=2, verify=False)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer at {url} within {deadline_s}s:\n{log_path.read_text()}")


@contextmanager
def run_engine(
    data_dir: Path, database_url: str | None = None, extra_args: list[str] | None = None,
    env: dict[str, str] | None = None, scheme: str = "http",
) -> Iterator[EngineProcess]:  # fmt: skip
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "engine.log"
    args = [sys.executable, "-m", "extnet", "engine", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    args += extra_args or []
    full_env = {**os.environ, "EXTNET_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/ovirt-engine/sso/oauth/token", process, log_path)
        yield EngineProcess(f"{base}/ovirt-engine/api", base, data_dir, process, log_path, database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
