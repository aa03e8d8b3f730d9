"""The ``extnet`` command line: ``engine user add`` and ``up``, run as real processes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import EngineProcess, free_port

EXTNET = [sys.executable, "-m", "extnet"]
DEADLINE_S = 60.0


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTNET_")}
    return {**env, **extra}


def _up_env(**extra: str) -> dict[str, str]:
    """``extnet up`` also starts the built-in provider and a host agent: free ports for them, so that runs never
    collide."""
    return _env(EXTNET_PROVIDER_LISTEN=f"127.0.0.1:{free_port()}",
                EXTNET_PROVIDER_KEYSTONE_LISTEN=f"127.0.0.1:{free_port()}",
                EXTNET_HOST_LISTEN=f"127.0.0.1:{free_port()}", **extra)  # fmt: skip


def _user_add(engine: EngineProcess, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*EXTNET, "engine", "user", "add", *args, "--data-dir", str(engine.data_dir)]
    if engine.database_url:
        command += ["--database-url", engine.database_url]
    return subprocess.run(command, capture_output=True, text=True, env=env or _env(), stdin=subprocess.DEVNULL,
                          timeout=DEADLINE_S)  # fmt: skip


def _login(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/ovirt-engine/sso/oauth/token",
                      data={"grant_type": "password", "scope": "ovirt-app-api", "username": username,
                            "password": password})  # fmt: skip


# --- engine user add ---------------------------------------------------------------------------------------


def test_user_add_then_duplicate(engine: EngineProcess, unique: Callable[[str], str]) -> None:
    name = f"{unique('cli')}@internal"
    added = _user_add(engine, name, "--password", "first-pw")
    assert added.returncode == 0, added.stderr
    assert f"Added user {name}" in added.stdout
    assert _login(engine.base, name, "first-pw").json().get("access_token")

    again = _user_add(engine, name, "--password", "other-pw")
    assert again.returncode == 2
    assert f"error: User '{name}' already exists" in again.stderr
    assert "Traceback" not in again.stderr
    assert "access_token" not in _login(engine.base, name, "other-pw").json()  # the first user is untouched


BAD_NAMES = ["no-domain", "two words@internal", "x@otherdomain", "@internal", "a" * 65 + "@internal", "semi;c@internal"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_user_add_refuses_bad_names(engine: EngineProcess, name: str) -> None:
    result = _user_add(engine, name, "--password", "pw")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"User name '{name}' must look like NAME@internal" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_add_generates_a_password_without_a_terminal(engine: EngineProcess, unique: Callable[[str], str]) -> None:
    name = f"{unique('gen')}@internal"
    added = _user_add(engine, name, "--read-only")
    assert added.returncode == 0, added.stderr
    match = re.search(rf"Added read-only user {re.escape(name)} with the generated password: (\S+)", added.stdout)
    assert match, added.stdout
    token = _login(engine.base, name, match.group(1)).json()["access_token"]
    refused = httpx.post(f"{engine.url}/datacenters", content="<data_center><name>ro</name></data_center>",
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"})  # fmt: skip
    assert refused.status_code == 403


def test_user_add_takes_the_password_from_the_environment(engine: EngineProcess, unique: Callable[[str], str]) -> None:
    name = f"{unique('envpw')}@internal"
    added = _user_add(engine, name, env=_env(EXTNET_USER_PASSWORD="from-env"))
    assert added.returncode == 0, added.stderr
    assert "generated" not in added.stdout
    assert _login(engine.base, name, "from-env").json().get("access_token")


# --- extnet up ---------------------------------------------------------------------------------------------


class Up:
    """``extnet up`` running as a subprocess, its output collected in a file."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.output_path = data_dir.parent / f"up-{self.port}.log"
        with self.output_path.open("wb") as out:
            self.process = subprocess.Popen([*EXTNET, "up", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
                                             str(data_dir)], stdout=out, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output())
            if match:
                return match
            assert self.process.poll() is None, f"extnet up exited with {self.process.returncode}:\n{self.output()}"
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the output of extnet up within {DEADLINE_S}s:\n{self.output()}")

    def answers(self) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base + "/ovirt-engine/api", timeout=2)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.output()
                time.sleep(0.1)
        raise AssertionError(f"extnet up did not answer within {DEADLINE_S}s:\n{self.output()}")

    def interrupt(self) -> int:
        """Ctrl-C as a terminal sends it: to the whole process group (extnet up and the provider it started)."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=DEADLINE_S)


@contextmanager
def running_up(data_dir: Path, env: dict[str, str]) -> Iterator[Up]:
    up = Up(data_dir, env)
    try:
        yield up
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group (e.g. after a failure)
            os.killpg(up.process.pid, signal.SIGKILL)
        up.process.wait()


def test_up_prints_where_and_how_to_log_in_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    with running_up(data_dir, _up_env()) as up:
        up.wait_for(rf"API \(oVirt REST v4\):\s+http://127\.0\.0\.1:{up.port}/ovirt-engine/api")
        up.wait_for(r"user:\s+admin@internal")
        password = up.wait_for(r"password:\s+(\S+)").group(1)
        assert f"Generated the password of admin@internal (shown once): {password}" in up.output()
        up.answers()
        assert _login(up.base, "admin@internal", password).json().get("access_token")
        assert up.interrupt() == 0, up.output()
        assert "Traceback" not in up.output()

    # the second start keeps the password and does not show it again
    with running_up(data_dir, _up_env()) as up:
        up.wait_for(r"password:\s+\(generated and printed at the first start")
        up.answers()
        assert "Generated the password" not in up.output()
        assert _login(up.base, "admin@internal", password).json().get("access_token")
        assert up.interrupt() == 0, up.output()


def test_up_with_the_admin_password_from_the_environment(tmp_path: Path) -> None:
    with running_up(tmp_path / "state", _up_env(EXTNET_ADMIN_PASSWORD="chosen-pw")) as up:
        up.wait_for(r"password:\s+chosen-pw\s+\(from EXTNET_ADMIN_PASSWORD\)")
        up.answers()
        assert "Generated the password" not in up.output()
        assert _login(up.base, "admin@internal", "chosen-pw").json().get("access_token")
        assert up.interrupt() == 0, up.output()
        assert "Traceback" not in up.output()


def test_up_refuses_an_unusable_listen_address(tmp_path: Path) -> None:
    result = subprocess.run([*EXTNET, "up", "--listen", "no-port-here", "--data-dir", str(tmp_path / "s")],
                            capture_output=True, text=True, env=_env(), timeout=DEADLINE_S)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--listen" in result.stderr and "HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr
