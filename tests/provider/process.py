"""Running ``extnet provider`` as a real process on 127.0.0.1 for tests, and clients for it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openstack
from openstack.connection import Connection

from tests.servers import free_port

ADMIN_PASSWORD = "extnet-provider-admin"


@dataclass
class ProviderProcess:
    network_url: str  # http://127.0.0.1:PORT (no /v2.0)
    identity_url: str  # http://127.0.0.1:PORT
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str | None

    @property
    def auth_url(self) -> str:
        return f"{self.identity_url}/v3"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def connect(self, username: str = "admin", password: str = ADMIN_PASSWORD, project: str = "admin") -> Connection:
        return connect(self.auth_url, username, password, project)

    def token(self, username: str = "admin", password: str = ADMIN_PASSWORD, project: str = "admin") -> str:
        return issue_token(self.auth_url, username, password, project)


def connect(auth_url: str, username: str, password: str, project: str) -> Connection:
    return openstack.connect(
        auth_url=auth_url,
        username=username,
        password=password,
        project_name=project,
        user_domain_id="default",
        project_domain_id="default",
        identity_api_version="3",
    )


def issue_token(auth_url: str, username: str, password: str, project: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": username, "domain": {"id": "default"}, "password": password}},
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    response = httpx.post(f"{auth_url}/auth/tokens", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log_path: Path, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"provider exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"provider did not answer at {url} within {deadline_s}s:\n{log_path.read_text()}")


@contextmanager
def run_provider(
    data_dir: Path,
    database_url: str | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ProviderProcess]:
    port, keystone_port = free_port(), free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "provider.log"
    args = [
        sys.executable,
        "-m",
        "extnet",
        "provider",
        "--listen",
        f"127.0.0.1:{port}",
        "--keystone-listen",
        f"127.0.0.1:{keystone_port}",
        "--data-dir",
        str(data_dir),
    ]
    if database_url:
        args += ["--database-url", database_url]
    args += extra_args or []
    full_env: dict[str, Any] = {**os.environ, "EXTNET_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    network_url, identity_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{keystone_port}"
    try:
        wait_until_serving(network_url + "/", process, log_path)
        wait_until_serving(identity_url + "/v3", process, log_path)
        yield ProviderProcess(network_url, identity_url, data_dir, process, log_path, database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
