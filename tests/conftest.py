"""Shared fixtures: a real engine process on 127.0.0.1, driven by the real ovirtsdk4 and by HTTP (JSON).

``EXTNET_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) runs the engine on a
fresh database of that server instead of SQLite.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import pytest

from extnet.engine.store.db import Database
from tests.servers import ADMIN_PASSWORD, EngineProcess, run_engine, scratch_database


@pytest.fixture(scope="session")
def database_url() -> Iterator[str | None]:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[EngineProcess]:
    with run_engine(tmp_path_factory.mktemp("engine"), database_url) as process:
        yield process


@pytest.fixture
def connection(engine: EngineProcess) -> Iterator[sdk.Connection]:
    conn = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=60)
    yield conn
    conn.close()


@pytest.fixture
def system(connection: sdk.Connection) -> sdk.services.SystemService:
    return connection.system_service()


@pytest.fixture(scope="session")
def store(engine: EngineProcess) -> Iterator[Database]:
    """The engine's own database, for arranging rows that the API under test does not create (hosts, VMs)."""
    db = Database(engine.database_url or f"sqlite:///{engine.data_dir / 'engine.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def token(engine: EngineProcess) -> str:
    response = httpx.post(
        f"{engine.base}/ovirt-engine/sso/oauth/token",
        data={"grant_type": "password", "scope": "ovirt-app-api", "username": "admin@internal",
              "password": ADMIN_PASSWORD},
    )  # fmt: skip
    return str(response.json()["access_token"])


@pytest.fixture
def rest(engine: EngineProcess, token: str) -> Iterator[httpx.Client]:
    """An HTTP client speaking JSON to the API root, authenticated with a bearer token."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}
    with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
        yield client


_counter = itertools.count()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that no other test uses (the engine is shared by the whole session)."""
    run = uuid.uuid4().hex[:6]

    def make(prefix: str) -> str:
        return f"{prefix}-{run}{next(_counter)}"

    return make


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
