"""External network providers: the entity, its write-only password, and testconnectivity against real providers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest
from sqlalchemy import select

from extnet.engine.store.models import Provider
from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD
from tests.real_neutron import provider_fields
from tests.servers import ADMIN_PASSWORD, EngineProcess, free_port

Store = Any


def test_crud_and_password_is_write_only(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], engine: EngineProcess, store: Store,
    builtin_provider: Any,
) -> None:  # fmt: skip
    provider = add_provider(description="first")
    password = provider_fields(builtin_provider)["password"]
    assert provider.password is None
    assert provider.type == types.OpenStackNetworkProviderType.EXTERNAL
    assert provider.requires_authentication is True and provider.username == "admin"
    service = system.openstack_network_providers_service().provider_service(provider.id)
    assert service.get().password is None
    raw = httpx.get(f"{engine.url}/openstacknetworkproviders/{provider.id}", auth=("admin@internal", ADMIN_PASSWORD))
    assert password not in raw.text and "<password>" not in raw.text
    updated = service.update(types.OpenStackNetworkProvider(description="second"))
    assert updated.description == "second"
    with store.transaction() as session:
        row = session.scalars(select(Provider).where(Provider.id == provider.id)).one()
        assert row.password_encrypted and password not in row.password_encrypted
    assert password not in engine.log()
    found = system.openstack_network_providers_service().list(search=f'name="{provider.name}"')
    assert [p.id for p in found] == [provider.id]
    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_testconnectivity_ok(system: sdk.services.SystemService, add_provider: Callable[..., Any]) -> None:
    provider = add_provider()
    system.openstack_network_providers_service().provider_service(provider.id).test_connectivity()


def test_tenant_name_only(system: sdk.services.SystemService, add_provider: Callable[..., Any]) -> None:
    """Ansible sends a v3 URL with tenant_name only: the tenant is the project in domain Default."""
    v3 = add_provider(project_name=None, user_domain_name=None, project_domain_name=None, tenant_name="admin")
    system.openstack_network_providers_service().provider_service(v3.id).test_connectivity()


@pytest.mark.builtin_provider_only("Keystone v2.0, which real Keystone removed")
def test_keystone_v2(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], builtin_provider: Any
) -> None:
    v2 = add_provider(authentication_url=builtin_provider.identity_url + "/v2.0", tenant_name="admin",
                      project_name=None, user_domain_name=None, project_domain_name=None)  # fmt: skip
    system.openstack_network_providers_service().provider_service(v2.id).test_connectivity()


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"password": "wrong"}, "authentication failed"),
        ({"url": "http://127.0.0.1:{closed}"}, "unreachable (connection refused)"),
        ({"url": "{engine}"}, "not a Neutron API"),
    ],
)
def test_testconnectivity_failures(
    system: sdk.services.SystemService, add_provider: Callable[..., Any], engine: EngineProcess,
    overrides: dict[str, str], fragment: str,
) -> None:  # fmt: skip
    fields = {k: v.format(closed=free_port(), engine=engine.base) for k, v in overrides.items()}
    provider = add_provider(**fields)
    with pytest.raises(sdk.Error) as err:
        system.openstack_network_providers_service().provider_service(provider.id).test_connectivity()
    assert err.value.code == 400 and fragment in str(err.value) and provider.name in str(err.value)
    events = system.events_service().list(search=f"provider={provider.id}")
    assert any(fragment in (e.description or "") and e.severity == types.LogSeverity.ERROR for e in events)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"authentication_url": "http://127.0.0.1:5000/v4"}, "must be a Keystone URL ending in /v3 or /v2.0"),
        ({"password": "x" * 201}, "longer than 200 characters"),
        ({"username": None}, "has no username"),
        ({"url": "ftp://x"}, "must be an http:// or https:// URL"),
        ({"type": types.OpenStackNetworkProviderType.NEUTRON}, "needs a plugin type"),
        ({"name": "bad name!"}, "may contain only"),
    ],
)
def test_invalid_providers(add_provider: Callable[..., Any], overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(sdk.Error) as err:
        add_provider(**overrides)
    assert err.value.code == 400 and fragment in str(err.value)
    assert PROVIDER_PASSWORD not in str(err.value) and "x" * 201 not in str(err.value)


def test_duplicate_name_and_type_change(system: sdk.services.SystemService, add_provider: Callable[..., Any]) -> None:
    provider = add_provider()
    with pytest.raises(sdk.Error) as err:
        add_provider(name=provider.name)
    assert err.value.code == 409 and f"'{provider.name}' is already in use" in str(err.value)
    service = system.openstack_network_providers_service().provider_service(provider.id)
    with pytest.raises(sdk.Error) as err:
        service.update(types.OpenStackNetworkProvider(type=types.OpenStackNetworkProviderType.NEUTRON))
    assert err.value.code == 400 and "cannot be changed" in str(err.value)
    assert service.get().type == types.OpenStackNetworkProviderType.EXTERNAL


def test_neutron_type_with_plugin(add_provider: Callable[..., Any]) -> None:
    provider = add_provider(type=types.OpenStackNetworkProviderType.NEUTRON,
                            plugin_type=types.NetworkPluginType.OPEN_VSWITCH)  # fmt: skip
    assert provider.type == types.OpenStackNetworkProviderType.NEUTRON
    assert provider.plugin_type == types.NetworkPluginType.OPEN_VSWITCH
    assert provider.external_plugin_type == "OPEN_VSWITCH"
