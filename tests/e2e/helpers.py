"""Helpers of the end-to-end tests: a built-in provider process that can be stopped and started again on the same
ports, a proxy in front of it that can go down at a chosen moment, what a host agent's noop runtime holds, and
polling with a deadline."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from openstack.connection import Connection

from extnet.host.runtime.noop import STATE
from extnet.host.runtime.state import read_state
from tests.provider.process import ADMIN_PASSWORD, connect, wait_until_serving
from tests.servers import HostAgentProcess, free_port

T = TypeVar("T")


@dataclass
class Provider:
    """``extnet provider`` as a real process that can be stopped and started again on the same ports and data."""

    data_dir: Path
    database_url: str | None
    port: int = field(default_factory=free_port)
    keystone_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def network_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.keystone_port}/v3"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "provider.log"

    def start(self) -> None:
        args = [sys.executable, "-m", "extnet", "provider", "--listen", f"127.0.0.1:{self.port}", "--keystone-listen",
                f"127.0.0.1:{self.keystone_port}", "--data-dir", str(self.data_dir)]  # fmt: skip
        if self.database_url:
            args += ["--database-url", self.database_url]
        env = {**os.environ, "EXTNET_ADMIN_PASSWORD": ADMIN_PASSWORD, **self.env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_until_serving(self.network_url + "/", self.process, self.log_path)
        wait_until_serving(self.auth_url, self.process, self.log_path)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def connect(self) -> Connection:
        return connect(self.auth_url, "admin", ADMIN_PASSWORD, "admin")


@contextmanager
def provider_process(data_dir: Path, database_url: str | None, env: dict[str, str] | None = None) -> Iterator[Provider]:
    data_dir.mkdir(parents=True, exist_ok=True)
    provider = Provider(data_dir, database_url, env=env or {})
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


class _Forward(BaseHTTPRequestHandler):
    """Forwards every request to the proxy's target, unless the proxy is down: then it drops the connection."""

    server: FlakyProxy
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.server.refuses(self.command, self.path):
            self.server.hold(self.command, self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        target = urlsplit(self.server.target)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()
        self.server.passed(self.command, self.path)

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FlakyProxy(ThreadingHTTPServer):
    """A provider's network API behind a switch: ``down()``, ``up()``, or ``down_after(method, path)``: down from
    the moment a request of that method to a path starting with ``path`` went through."""

    daemon_threads = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.target = target
        self.is_down = False
        self.trigger: tuple[str, str] | None = None
        self.seen: list[tuple[str, str]] = []
        self.hanging: tuple[str, str, float] | None = None
        self.held = 0
        self.released = threading.Event()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def down(self) -> None:
        self.is_down = True

    def hang(self, method: str, path: str, seconds: float) -> None:
        """Requests of ``method`` to paths starting with ``path`` hang ``seconds``, then the connection drops."""
        self.hanging = (method, path, seconds)

    def hold(self, method: str, path: str) -> None:
        if self.hanging and method == self.hanging[0] and path.startswith(self.hanging[1]):
            with self._lock:
                self.held += 1
            self.released.wait(self.hanging[2])

    def up(self) -> None:
        self.is_down, self.trigger, self.hanging = False, None, None
        self.released.set()
        self.released = threading.Event()

    def down_after(self, method: str, path: str) -> None:
        self.trigger = (method, path)

    def refuses(self, method: str, path: str) -> bool:
        with self._lock:
            self.seen.append((method, path))
            hangs = self.hanging is not None and method == self.hanging[0] and path.startswith(self.hanging[1])
            return self.is_down or hangs

    def passed(self, method: str, path: str) -> None:
        with self._lock:
            if self.trigger and method == self.trigger[0] and path.startswith(self.trigger[1]):
                self.is_down, self.trigger = True, None


@contextmanager
def flaky_proxy(target: str) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(target)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)


def host_vms(agent: HostAgentProcess) -> dict[str, Any]:
    """What the agent's noop runtime runs now: {vm id: {"name", "vnics": [{"vif", "plugged"}]}}."""
    return read_state(agent.data_dir / STATE)


def plugged_ports(agent: HostAgentProcess, vm_id: str) -> dict[str, str]:
    """{vNIC id: port id} of the VIFs plugged into the VM on the agent's host."""
    vm = host_vms(agent).get(vm_id) or {}
    return {v["vif"]["vnic_id"]: v["vif"]["port_id"] for v in vm.get("vnics", []) if v["plugged"]}


@dataclass
class EngineRun:
    """An engine process that can be killed (SIGKILL) and started again on the same data dir and database."""

    data_dir: Path
    database_url: str | None
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ovirt-engine/api"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "engine.log"

    def args(self, *command: str) -> list[str]:
        args = [sys.executable, "-m", "extnet", "engine", *command, "--data-dir", str(self.data_dir)]
        return args + (["--database-url", self.database_url] if self.database_url else [])

    def start(self) -> None:
        from tests.servers import ADMIN_PASSWORD as ENGINE_PASSWORD
        from tests.servers import wait_for_http

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {**os.environ, "EXTNET_ADMIN_PASSWORD": ENGINE_PASSWORD, **self.env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([*self.args(), "--listen", f"127.0.0.1:{self.port}"], stdout=log,
                                            stderr=subprocess.STDOUT, env=env)  # fmt: skip
        wait_for_http(f"http://127.0.0.1:{self.port}/ovirt-engine/sso/oauth/token", self.process, self.log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def reconcile(self) -> subprocess.CompletedProcess[str]:
        """``extnet engine reconcile`` on the engine's data dir and database."""
        return subprocess.run(self.args("reconcile"), capture_output=True, text=True, timeout=300,
                              env={**os.environ, **self.env})  # fmt: skip
