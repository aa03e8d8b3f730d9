"""Fixtures of the engine's suites (``tests/engine``): the built-in provider (or a real Neutron), providers registered
in the engine, openstacksdk on the provider's side, and admin ovirtsdk4 connections to engines a module starts itself.

The shared engine and what drives it (``engine``, ``connection``, ``system``, ``rest``, ``store``, ``unique``,
``host_agent``) are in ``tests/conftest.py``: the end-to-end suites use them too.

Scopes: ``builtin_provider`` is one process per session (per xdist worker); ``neutron`` is one connection per test
module (``--dist loadfile`` keeps a module on one worker). A module with a provider of its own overrides ``neutron``
(``test_host_agent``, ``test_provider_sync``); ``make_net`` then makes its networks there. With
``EXTNET_ENGINE_PROVIDER=neutron`` the provider is a real Neutron + Keystone (``tests/real_neutron.py``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from tests.engine.external_helpers import provider_side
from tests.real_neutron import REAL_NEUTRON, provider_fields, real_neutron
from tests.servers import ADMIN_PASSWORD, EngineProcess, scratch_database


@pytest.fixture(scope="session")
def builtin_provider(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[Any]:
    """extnet's built-in network provider as a real process (Neutron API + Keystone), shared by the session.

    With ``EXTNET_ENGINE_PROVIDER=neutron`` it is a real Neutron + Keystone instead (``tests/real_neutron.py``): the
    same interface, nothing started."""
    from tests.provider.process import run_provider

    if REAL_NEUTRON:
        yield real_neutron()
        return
    server = os.environ.get("EXTNET_TEST_DATABASE_URL") if database_url else None
    with (
        scratch_database(server) as provider_db,
        run_provider(tmp_path_factory.mktemp("provider"), provider_db) as proc,
    ):
        yield proc


@pytest.fixture
def add_provider(
    system: sdk.services.SystemService, builtin_provider: Any, unique: Callable[[str], str]
) -> Iterator[Callable[..., Any]]:
    """Registers the built-in provider (or the real Neutron) in the engine (Keystone v3 auth) and removes it (force)
    after the test."""
    made: list[str] = []
    service = system.openstack_network_providers_service()

    def make(**overrides: Any) -> Any:
        fields: dict[str, Any] = {
            "name": unique("prov"), "type": t.OpenStackNetworkProviderType.EXTERNAL,
            "requires_authentication": True, **provider_fields(builtin_provider),
            "user_domain_name": "Default", "project_domain_name": "Default",
        }  # fmt: skip
        fields.update(overrides)
        provider = service.add(t.OpenStackNetworkProvider(**fields))
        made.append(provider.id)
        return provider

    yield make
    for provider_id in made:
        with contextlib.suppress(sdk.NotFoundError):
            service.provider_service(provider_id).remove(query={"force": "true"})  # the SDK's remove has no force


@pytest.fixture
def provider(add_provider: Callable[..., Any]) -> t.OpenStackNetworkProvider:
    """The built-in provider (or the real Neutron) registered in the shared engine for this test."""
    return add_provider()


@pytest.fixture(scope="module")
def neutron(builtin_provider: Any) -> Iterator[Connection]:
    """openstacksdk on the built-in provider (or the real Neutron), as its admin: the provider's side of a test."""
    connection = builtin_provider.connect()
    yield connection
    connection.close()


@pytest.fixture
def make_net(neutron: Connection) -> Iterator[Callable[..., Any]]:
    """Makes networks on the provider (``make(name, **fields)``); removes those still there after the test."""
    with provider_side(neutron) as make:
        yield make


@pytest.fixture
def system_of() -> Iterator[Callable[[EngineProcess], sdk.services.SystemService]]:
    """The system service of an admin ovirtsdk4 connection to an engine (one a module starts itself; the shared
    engine has ``system``); the connections are closed after the test."""
    opened: list[sdk.Connection] = []

    def connect(engine: EngineProcess) -> sdk.services.SystemService:
        connection = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=60)
        opened.append(connection)
        return connection.system_service()

    yield connect
    for connection in opened:
        connection.close()
