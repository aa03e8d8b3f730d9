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
from sqlalchemy.pool import NullPool

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
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)  # holds no connection meanwhile
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


def engine_token(engine: EngineProcess) -> str:
    """An SSO access token of the engine's admin."""
    form = {"grant_type": "password", "scope": "ovirt-app-api", "username": "admin@internal",
            "password": ADMIN_PASSWORD}
    response = httpx.post(f"{engine.base}/ovirt-engine/sso/oauth/token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


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


HOST_PAIRING_PASSWORD = "extnet-test-pairing"


@dataclass
class HostAgentProcess:
    """A real ``extnet host`` process on 127.0.0.1 (its own port and data dir); ``stop``/``kill`` and ``start``
    again (same port, same data dir) to take it away and bring it back."""

    address: str
    port: int
    password: str  # the pairing password: the host's root_password
    data_dir: Path
    env: dict[str, str]
    runtime: str = "noop"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}/jsonrpc"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "host.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def host_fields(self) -> dict[str, object]:
        """What a host added to the engine needs to pair with this agent."""
        return {"address": self.address, "port": self.port, "root_password": self.password}

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the process (again: the same port and data dir) and wait until it answers."""
        args = [sys.executable, "-m", "extnet", "host", "--listen", f"{self.address}:{self.port}", "--data-dir",
                str(self.data_dir), "--runtime", self.runtime]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_for_http(self.url, self.process, self.log_path)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@contextmanager
def run_host_agent(
    data_dir: Path, password: str = HOST_PAIRING_PASSWORD, env: dict[str, str] | None = None, runtime: str = "noop",
    address: str = "127.0.0.1",
) -> Iterator[HostAgentProcess]:  # fmt: skip
    """``extnet host`` with a known pairing password and a short heartbeat interval; ``address`` may be any
    loopback address (127.x.y.z), for hosts that must differ by address."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "EXTNET_HOST_PAIRING_PASSWORD": password, "EXTNET_HOST_HEARTBEAT_INTERVAL": "0.5",
                **(env or {})}  # fmt: skip
    agent = HostAgentProcess(address, free_port(), password, data_dir, full_env, runtime)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()
