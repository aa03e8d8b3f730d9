"""Shared fixtures: a real engine process on 127.0.0.1, driven by the real ovirtsdk4 and by HTTP (JSON).

``EXTNET_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) runs the engine on a
fresh database of that server instead of SQLite.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import pytest

from extnet.engine.store.db import Database
from tests.real_neutron import REAL_NEUTRON
from tests.servers import (
    ADMIN_PASSWORD,
    EngineProcess,
    HostAgentProcess,
    engine_token,
    run_engine,
    run_host_agent,
    scratch_database,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Against a real Neutron (``EXTNET_ENGINE_PROVIDER=neutron``) tests that need the built-in provider are skipped."""
    if not REAL_NEUTRON:
        return
    for item in items:
        marker = item.get_closest_marker("builtin_provider_only")
        if marker:
            why = f": {marker.args[0]}" if marker.args else ""
            item.add_marker(pytest.mark.skip(reason=f"real Neutron run; needs the built-in provider{why}"))


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
    return engine_token(engine)


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


@pytest.fixture
def host_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., HostAgentProcess]]:
    """Starts real ``extnet host --runtime noop`` processes (one per host: each its own data dir, and its own random
    loopback address 127.x.y.z and port, so that the hosts tests leave behind in the shared engine never hold the
    address:port of a later one), stopped after the test. ``agent.host_fields()`` is what adding a host paired with
    it needs (address, port, root_password)."""
    started: list[HostAgentProcess] = []
    with contextlib.ExitStack() as stack:

        def start(**kwargs: Any) -> HostAgentProcess:
            octets = (random.randint(1, 254), random.randint(0, 255), random.randint(1, 254))
            kwargs.setdefault("address", "127.{}.{}.{}".format(*octets))
            agent = stack.enter_context(run_host_agent(tmp_path_factory.mktemp("host"), **kwargs))
            started.append(agent)
            return agent

        yield start
        for agent in started:  # all told at once: each may take its graceful shutdown's time
            if agent.running() and agent.process is not None:
                agent.process.terminate()
