"""The built-in Keystone's limits: wrong passwords throttled per user and client address (5 within 5 minutes, then a
cool-down that grows), an unknown user costing what a known one costs, bodies past Keystone's size limit refused
with 413; and the provider's data readable by their owner only."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from openstack.connection import Connection

from tests.polling import until
from tests.provider.process import ADMIN_PASSWORD, ProviderProcess, run_provider
from tests.servers import scratch_database

COOLDOWN_S = 4  # long enough for the checks made while locked out, on a busy machine
KEYSTONE_LIMIT = 114688  # Keystone's max_request_body_size


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    """A provider of this module's own (its lockouts must not lock other tests out), with a short cool-down."""
    env = {"EXTNET_PROVIDER_LOGIN_COOLDOWN": str(COOLDOWN_S)}
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_provider(tmp_path_factory.mktemp("keystone-limits"), url, env=env) as process,
    ):
        yield process


@pytest.fixture(scope="module")
def admin(guarded: ProviderProcess) -> Iterator[Connection]:
    connection = guarded.connect()
    yield connection
    connection.close()


def token_request(guarded: ProviderProcess, user: str, password: str) -> httpx.Response:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}}}}  # fmt: skip
    return httpx.post(f"{guarded.auth_url}/auth/tokens", json=body, timeout=30)


def new_user(admin: Connection) -> tuple[str, str]:
    name, password = f"u{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.identity.create_user(name=name, password=password, domain_id="default")
    return name, password


def test_five_wrong_passwords_lock_that_user_out_from_that_address(guarded: ProviderProcess, admin: Connection) -> None:
    user, password = new_user(admin)
    bystander, bystander_password = new_user(admin)
    for _ in range(5):
        assert token_request(guarded, user, "wrong").status_code == 401
    refused = token_request(guarded, user, password)  # the right password, too, waits out the cool-down
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == 429 and error["title"] == "Too Many Requests"
    assert f"Too many wrong passwords for user {user} from 127.0.0.1" in error["message"]
    assert token_request(guarded, bystander, bystander_password).status_code == 201
    assert f"5 wrong passwords for user {user} from 127.0.0.1" in guarded.log() and password not in guarded.log()
    until(lambda: token_request(guarded, user, password).status_code == 201, "the login after the cool-down",
          deadline_s=30)  # fmt: skip


def test_the_cool_down_grows_with_each_lockout(guarded: ProviderProcess, admin: Connection) -> None:
    user, _ = new_user(admin)
    for _ in range(5):
        assert token_request(guarded, user, "wrong").status_code == 401
    waits = []
    for _ in range(2):
        locked_at = time.monotonic()
        assert token_request(guarded, user, "wrong").status_code == 429
        until(lambda: token_request(guarded, user, "wrong").status_code == 401, "the cool-down to end", deadline_s=40)
        waits.append(time.monotonic() - locked_at)
        for _ in range(4):
            assert token_request(guarded, user, "wrong").status_code == 401
    assert waits[0] >= COOLDOWN_S - 0.5 and waits[1] >= 2 * COOLDOWN_S - 0.5, waits


def test_an_unknown_user_costs_what_a_known_one_costs(guarded: ProviderProcess, admin: Connection) -> None:
    known = [new_user(admin)[0] for _ in range(3)]

    def cost(user: str) -> float:
        started = time.perf_counter()
        assert token_request(guarded, user, "wrong").status_code == 401
        return time.perf_counter() - started

    known_costs, unknown_costs = [], []
    for i in range(6):  # interleaved, so that the machine's load weighs on both alike; each known user twice
        known_costs.append(cost(known[i % 3]))
        unknown_costs.append(cost(f"nobody{uuid.uuid4().hex[:6]}"))
    assert statistics.median(unknown_costs) > 0.6 * statistics.median(known_costs), (known_costs, unknown_costs)


def test_a_body_past_keystones_limit_is_refused_with_413(guarded: ProviderProcess) -> None:
    padding = "x" * KEYSTONE_LIMIT
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}}}, "padding": padding}  # fmt: skip
    declared = httpx.post(f"{guarded.auth_url}/auth/tokens", json=body, timeout=30)
    assert declared.status_code == 413
    assert declared.json() == {"error": {"code": 413, "title": "Request Entity Too Large",
                                         "message": "Request is too large."}}  # fmt: skip

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"auth": {}, "padding": "'
        for _ in range(KEYSTONE_LIMIT // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    streamed = httpx.post(f"{guarded.auth_url}/auth/tokens", content=chunks(), timeout=30,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert streamed.status_code == 413
    small = httpx.post(f"{guarded.auth_url}/auth/tokens", json={**body, "padding": "x" * 1000}, timeout=30)
    assert small.status_code == 201


def test_the_data_directory_and_database_are_private(guarded: ProviderProcess) -> None:
    assert guarded.data_dir.stat().st_mode & 0o777 == 0o700
    if guarded.database_url is None:
        databases = [p for p in guarded.data_dir.iterdir() if p.suffix in (".sqlite", ".db")]
        assert databases and all(p.stat().st_mode & 0o777 == 0o600 for p in databases), databases
