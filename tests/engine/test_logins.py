"""Wrong passwords are throttled per user and client address: after 5 within 5 minutes that address waits out a
cool-down (growing with each lockout) for that user, on the SSO and on HTTP Basic alike, and an event says so; an
unknown user costs what a known one costs; the SSO takes credentials only in a POST body. The engine's data are
readable by their owner only."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import ovirtsdk4 as sdk
import pytest

from tests.polling import until
from tests.servers import ADMIN_PASSWORD, EngineProcess, run_engine, scratch_database

COOLDOWN_S = 4  # long enough for the checks made while locked out, on a busy machine


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine of this module's own (its lockouts must not lock other tests out), with a short cool-down."""
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_engine(tmp_path_factory.mktemp("logins"), url, env={"EXTNET_LOGIN_COOLDOWN": str(COOLDOWN_S)}) as engine,
    ):
        yield engine


def add_user(engine: EngineProcess, name: str, password: str) -> None:
    args = [sys.executable, "-m", "extnet", "engine", "user", "add", name, "--password", password, "--data-dir",
            str(engine.data_dir)]  # fmt: skip
    args += ["--database-url", engine.database_url] if engine.database_url else []
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def sso(engine: EngineProcess, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{engine.base}/ovirt-engine/sso/oauth/token", timeout=30,
                      data={"grant_type": "password", "scope": "ovirt-app-api", "username": username,
                            "password": password})  # fmt: skip


def basic(engine: EngineProcess, username: str, password: str) -> httpx.Response:
    return httpx.get(f"{engine.url}/datacenters", auth=(username, password), timeout=30,
                     headers={"Accept": "application/json"})  # fmt: skip


def new_user(engine: EngineProcess) -> tuple[str, str]:
    name, password = f"u{uuid.uuid4().hex[:8]}@internal", uuid.uuid4().hex
    add_user(engine, name, password)
    return name, password


def test_five_wrong_passwords_lock_that_user_out_from_that_address(guarded: EngineProcess) -> None:
    user, password = new_user(guarded)
    bystander, bystander_password = new_user(guarded)
    for _ in range(5):
        assert sso(guarded, user, "wrong").json()["error"] == "access_denied"
    refused = sso(guarded, user, password)  # the right password, too, waits out the cool-down
    assert refused.status_code == 429 and refused.json()["error"] == "invalid_grant"
    assert f"Too many wrong passwords for user {user} from 127.0.0.1" in refused.json()["error_description"]
    assert 1 <= int(refused.headers["Retry-After"]) <= COOLDOWN_S
    basic_refused = basic(guarded, user, password)
    # with the SDK, the lockout reads as an authentication error saying why
    with pytest.raises(sdk.AuthError) as err:
        sdk.Connection(url=guarded.url, username=user, password=password).authenticate()
    assert "Too many wrong passwords" in str(err.value)
    assert basic_refused.status_code == 429 and basic_refused.json()["reason"] == "Too Many Requests"
    assert "Too many wrong passwords" in basic_refused.json()["detail"]
    assert sso(guarded, bystander, bystander_password).status_code == 200  # another user is not affected
    listing = httpx.get(f"{guarded.url}/events", auth=("admin@internal", ADMIN_PASSWORD),
                        headers={"Accept": "application/json"}, timeout=30).json()["event"]  # fmt: skip
    lockouts = [e for e in listing if e["code"] == "9710" and user in e["description"]]
    assert lockouts and "5 wrong passwords" in lockouts[0]["description"] and "127.0.0.1" in lockouts[0]["description"]
    assert password not in str(listing)
    # after the cool-down the right password works again
    until(lambda: sso(guarded, user, password).status_code == 200, "the login after the cool-down", deadline_s=30)


def test_the_cool_down_grows_with_each_lockout(guarded: EngineProcess) -> None:
    user, password = new_user(guarded)
    for _ in range(5):
        assert basic(guarded, user, "wrong").status_code == 401
    waits = []
    for _ in range(2):
        locked_at = time.monotonic()
        assert basic(guarded, user, "wrong").status_code == 429
        # polled with a wrong password: the first one past the cool-down counts again, as the first of five
        until(lambda: basic(guarded, user, "wrong").status_code == 401, "the cool-down to end", deadline_s=40)
        waits.append(time.monotonic() - locked_at)
        for _ in range(4):
            assert basic(guarded, user, "wrong").status_code == 401
    assert waits[0] >= COOLDOWN_S - 0.5 and waits[1] >= 2 * COOLDOWN_S - 0.5, waits
    until(lambda: basic(guarded, user, password).status_code == 200, "the right password after the third cool-down",
          deadline_s=60)  # fmt: skip


def test_an_unknown_user_costs_what_a_known_one_costs(guarded: EngineProcess) -> None:
    known = [new_user(guarded)[0] for _ in range(3)]

    def cost(username: str) -> float:
        started = time.perf_counter()
        assert sso(guarded, username, "wrong").status_code == 401
        return time.perf_counter() - started

    known_costs, unknown_costs = [], []
    for i in range(6):  # interleaved, so that the machine's load weighs on both alike; each known user twice
        known_costs.append(cost(known[i % 3]))
        unknown_costs.append(cost(f"nobody{uuid.uuid4().hex[:6]}@internal"))
    # without the decoy check an unknown user answered in well under half the password hash's time
    assert statistics.median(unknown_costs) > 0.6 * statistics.median(known_costs), (known_costs, unknown_costs)


def test_the_sso_takes_credentials_only_in_a_post_body(guarded: EngineProcess) -> None:
    query = {"grant_type": "password", "scope": "ovirt-app-api", "username": "admin@internal",
             "password": ADMIN_PASSWORD}  # fmt: skip
    in_url = httpx.post(f"{guarded.base}/ovirt-engine/sso/oauth/token", params=query, timeout=30)
    assert in_url.status_code == 400 and in_url.json()["error"] == "invalid_request"
    assert "never in the URL" in in_url.json()["error_description"]
    by_get = httpx.get(f"{guarded.base}/ovirt-engine/sso/oauth/token", params=query, timeout=30)
    assert by_get.status_code == 405 and "access_token" not in by_get.text
    assert sso(guarded, "admin@internal", ADMIN_PASSWORD).status_code == 200


def test_the_data_directory_and_database_are_private(guarded: EngineProcess) -> None:
    assert guarded.data_dir.stat().st_mode & 0o777 == 0o700
    keys = [p for p in guarded.data_dir.iterdir() if "key" in p.name]
    assert keys and all(p.stat().st_mode & 0o777 == 0o600 for p in keys), keys
    if guarded.database_url is None:
        database = guarded.data_dir / "engine.sqlite"
        assert database.stat().st_mode & 0o777 == 0o600
