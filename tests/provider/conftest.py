"""Fixtures of the provider's own tests: one ``extnet provider`` process for the session (SQLite, or a fresh
database of ``EXTNET_TEST_DATABASE_URL``), an admin openstacksdk connection, and a raw HTTP client."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from openstack.connection import Connection

from tests.provider.process import ProviderProcess, run_provider
from tests.servers import scratch_database


def pytest_configure(config: pytest.Config) -> None:
    # openstacksdk announces its own future API changes on every call
    config.addinivalue_line("filterwarnings", "ignore::PendingDeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore::openstack.warnings.OpenStackWarning")


@pytest.fixture(scope="session")
def provider_database() -> Iterator[str | None]:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        yield url


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory, provider_database: str | None) -> Iterator[ProviderProcess]:
    with run_provider(tmp_path_factory.mktemp("provider"), provider_database) as process:
        yield process


@pytest.fixture(scope="session")
def admin(provider: ProviderProcess) -> Iterator[Connection]:
    connection = provider.connect()
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def admin_token(admin: Connection) -> str:
    return str(admin.session.get_token())


@pytest.fixture
def api(provider: ProviderProcess, admin_token: str) -> Iterator[httpx.Client]:
    """Plain HTTP to the networking API's ``/v2.0`` as the admin."""
    headers = {"X-Auth-Token": admin_token, "Content-Type": "application/json"}
    with httpx.Client(base_url=f"{provider.network_url}/v2.0", headers=headers, timeout=120) as client:
        yield client
