"""The ``extnet`` command line: ``engine user add`` and ``up``, run as real processes."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.servers import EngineProcess
from tests.up import DEADLINE_S, EXTNET, clean_env, running_up, up_env


def _user_add(engine: EngineProcess, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*EXTNET, "engine", "user", "add", *args, "--data-dir", str(engine.data_dir)]
    if engine.database_url:
        command += ["--database-url", engine.database_url]
    return subprocess.run(command, capture_output=True, text=True, env=env or clean_env(), stdin=subprocess.DEVNULL,
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
    added = _user_add(engine, name, env=clean_env(EXTNET_USER_PASSWORD="from-env"))
    assert added.returncode == 0, added.stderr
    assert "generated" not in added.stdout
    assert _login(engine.base, name, "from-env").json().get("access_token")


# --- extnet up ---------------------------------------------------------------------------------------------


@pytest.mark.database_agnostic  # extnet up runs on its embedded SQLite
def test_up_prints_where_and_how_to_log_in_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    with running_up(data_dir, up_env()) as up:
        up.wait_for(r"Press Ctrl-C to stop everything")
        banner = up.output()
        # the banner comes first: no log line of any library before it
        assert banner.lstrip().startswith("extnet is starting"), banner
        assert re.search(rf"API \(oVirt REST v4\):\s+http://127\.0\.0\.1:{up.port}/ovirt-engine/api\n", banner)
        assert re.search(rf"web portal:\s+http://127\.0\.0\.1:{up.port}/ovirt-engine/webadmin/\n", banner), banner
        assert re.search(r"user:\s+admin@internal: log in with it to the web portal and the API", banner), banner
        password = re.search(r"\n  password:\s+(\S+)  \(generated; shown only now, at the first start\)", banner)
        assert password, banner
        up.wait_for(r"extnet is ready")
        assert " INFO " not in up.output() and "INFO:" not in up.output()  # warnings only: the programs' own...
        assert "alembic" not in up.output() and "Uvicorn" not in up.output()  # ...and the libraries', children's too
        assert _login(up.base, "admin@internal", password.group(1)).json().get("access_token")
        assert up.interrupt() == 0, up.output()
        assert "Traceback" not in up.output()

    # the second start keeps the passwords and shows neither again
    with running_up(data_dir, up_env()) as up:
        up.wait_for(r"\n  password:\s+\(printed at the first start; set EXTNET_ADMIN_PASSWORD")
        up.wait_for(r"provider password:\s+\(printed at the first start; the engine keeps it for the provider\)")
        up.answers()
        assert password.group(1) not in up.output()
        assert _login(up.base, "admin@internal", password.group(1)).json().get("access_token")
        assert up.interrupt() == 0, up.output()


@pytest.mark.database_agnostic  # extnet up runs on its embedded SQLite
def test_up_with_the_admin_password_from_the_environment(tmp_path: Path) -> None:
    with running_up(tmp_path / "state", up_env(EXTNET_ADMIN_PASSWORD="chosen-pw")) as up:
        up.wait_for(r"\n  password:\s+\(the one in EXTNET_ADMIN_PASSWORD\)")
        up.wait_for(r"provider password:\s+\(the one in EXTNET_ADMIN_PASSWORD, as the engine's\)")
        up.answers()
        assert "chosen-pw" not in up.output()  # a password the user chose is never printed
        assert _login(up.base, "admin@internal", "chosen-pw").json().get("access_token")
        assert up.interrupt() == 0, up.output()
        assert "Traceback" not in up.output()


@pytest.mark.database_agnostic  # extnet up runs on its embedded SQLite
def test_up_verbose_logs_what_the_programs_do(tmp_path: Path) -> None:
    with running_up(tmp_path / "state", up_env(), "--verbose") as up:
        up.wait_for(r"logs:\s+everything\n")
        up.wait_for(r"extnet is ready")
        # the banner first still, then what was logged while up made the databases (alembic's migrations)
        assert up.output().lstrip().startswith("extnet is starting"), up.output()
        after_banner = up.output().split("Press Ctrl-C to stop everything", 1)[1]
        assert re.search(r" INFO alembic\.runtime\.migration: Running upgrade  -> 0001", after_banner), up.output()
        assert re.search(r" INFO extnet\.engine\.bootstrap: the built-in provider at \S+ is registered as "
                         r"'extnet-builtin'", up.output()), up.output()  # fmt: skip
        assert "Uvicorn running on" in up.output()  # the libraries' logs too
        assert up.interrupt() == 0, up.output()


@pytest.mark.database_agnostic  # extnet up runs on its embedded SQLite
def test_up_refuses_an_unusable_listen_address(tmp_path: Path) -> None:
    result = subprocess.run([*EXTNET, "up", "--listen", "no-port-here", "--data-dir", str(tmp_path / "s")],
                            capture_output=True, text=True, env=clean_env(), timeout=DEADLINE_S)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--listen" in result.stderr and "HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr
