"""``extnet up`` starts the provider beside the engine and stops it with the engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.provider.process import wait_until_serving
from tests.servers import free_port

pytestmark = pytest.mark.database_agnostic  # extnet up runs on its embedded SQLite


def test_up_starts_and_stops_the_provider(tmp_path: Path) -> None:
    engine, network, identity = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "EXTNET_ADMIN_PASSWORD": "up-secret",
        "EXTNET_PROVIDER_LISTEN": f"127.0.0.1:{network}",
        "EXTNET_PROVIDER_KEYSTONE_LISTEN": f"127.0.0.1:{identity}",
        "EXTNET_HOST_LISTEN": f"127.0.0.1:{free_port()}",
        "EXTNET_HOST_RUNTIME": "noop",  # as root, up would plug into this machine's own namespace
    }
    env.pop("EXTNET_PROVIDER_DATABASE_URL", None)
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "extnet",
                "up",
                "--data-dir",
                str(tmp_path / "data"),
                "--listen",
                f"127.0.0.1:{engine}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_until_serving(f"http://127.0.0.1:{network}/", process, log_path)
        wait_until_serving(f"http://127.0.0.1:{identity}/v3", process, log_path)
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "up-secret"}},
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        token = httpx.post(f"http://127.0.0.1:{identity}/v3/auth/tokens", json=body).headers["X-Subject-Token"]
        networks = httpx.get(f"http://127.0.0.1:{network}/v2.0/networks", headers={"X-Auth-Token": token})
        assert networks.status_code == 200
        assert (tmp_path / "data" / "provider" / "provider.sqlite").exists()
        assert f"http://127.0.0.1:{network}/v2.0" in log_path.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{network}/", timeout=1)
        except httpx.TransportError:
            break
        assert time.monotonic() < deadline, "the provider outlived extnet up"
        time.sleep(0.1)
