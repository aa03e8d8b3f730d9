"""Acceptance: the unmodified ``ovirt.ovirt`` modules register an external network provider
(``ovirt_external_provider``), import its networks (``ovirt_network`` with ``external_provider``, one attached to a
cluster) and put a vNIC profile with a security group on one (``ovirt_vnic_profile``); a re-run changes nothing;
removal removes it all from the engine and nothing from the provider.

The playbooks are ``tests/engine/ansible/providers_*.yml``. Between runs, ovirtsdk4 checks what the engine holds and
openstacksdk checks that the provider's side is exactly as the test left it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from tests.engine.ansible_helpers import changed, requires_ansible, run_playbook
from tests.engine.external_helpers import find_network, provider_networks, provider_side
from tests.provider.process import ProviderProcess
from tests.real_neutron import provider_fields
from tests.servers import ADMIN_PASSWORD, EngineProcess

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

Names = Callable[[str], str]
System = sdk.services.SystemService
PLAYBOOKS = Path(__file__).parent / "ansible"
CREATE_TASKS = 6  # data center, cluster, provider, network (+ cluster), network into Default, vNIC profile
REMOVE_TASKS = 6  # vNIC profile, the two networks, provider, cluster, data center


def provider_state(neutron: Connection, prefix: str) -> dict[str, Any]:
    """Everything on the provider the engine could have touched for this test, with what changes on every write:
    what is named after the test's prefix (as all it asks the engine for is), and the subnets and ports of those
    networks. Not the whole provider: tests on other workers share a real Neutron."""
    networks = [n for n in neutron.network.networks() if n.name.startswith(prefix)]
    ids = {n.id for n in networks}
    return {
        "networks": {n.id: (n.name, n.description, n.mtu, n.revision_number, n.updated_at) for n in networks},
        "subnets": sorted(s.id for s in neutron.network.subnets() if s.network_id in ids or s.name.startswith(prefix)),
        "ports": sorted(p.id for p in neutron.network.ports() if p.network_id in ids or p.name.startswith(prefix)),
        "security_groups": {g.id: (g.name, g.revision_number) for g in neutron.network.security_groups()
                            if g.name.startswith(prefix)},
    }  # fmt: skip


def by_name(service: Any, name: str) -> Any:
    found = service.list(search=f"name={name}")
    assert len(found) <= 1
    return found[0] if found else None


def remove_leftovers(system: System, prefix: str) -> None:
    """Whatever a failed run left in the shared engine (removing the provider with force removes its networks)."""
    providers = system.openstack_network_providers_service()
    for provider in providers.list(search=f"name={prefix}-*"):
        with contextlib.suppress(sdk.Error):
            providers.provider_service(provider.id).remove(force=True)
    for cluster in system.clusters_service().list(search=f"name={prefix}-*"):
        with contextlib.suppress(sdk.Error):
            system.clusters_service().cluster_service(cluster.id).remove()
    for dc in system.data_centers_service().list(search=f"name={prefix}-*"):
        with contextlib.suppress(sdk.Error):
            system.data_centers_service().data_center_service(dc.id).remove(force=True)


@requires_ansible
def test_ansible_provider_import_and_profile_lifecycle(
    engine: EngineProcess, system: System, rest: httpx.Client, builtin_provider: ProviderProcess, neutron: Connection,
    unique: Names, tmp_path: Path,
) -> None:  # fmt: skip
    prefix = unique("apv")
    create = (PLAYBOOKS / "providers_create.yml").read_text()
    remove = (PLAYBOOKS / "providers_remove.yml").read_text()
    with provider_side(neutron) as make:
        here = make(f"{prefix}-net", description="imported by Ansible", mtu=1400)
        default = make(f"{prefix}-dnet")
        group = neutron.network.create_security_group(name=f"{prefix}-sg")
        own = provider_fields(builtin_provider)
        extra = {
            "engine_url": engine.url, "engine_username": "admin@internal", "engine_password": ADMIN_PASSWORD,
            "prefix": prefix, "provider_url": own["url"], "provider_auth_url": own["authentication_url"],
            "provider_username": own["username"], "provider_password": own["password"],
            "provider_tenant": own["project_name"], "network": here.name,
            "default_network": default.name, "security_group": group.id,
        }  # fmt: skip
        before = provider_state(neutron, prefix)
        try:
            first = run_playbook(create, extra, tmp_path)
            assert changed(first) == [True] * CREATE_TASKS
            check_created(system, rest, builtin_provider, prefix, here, default, group.id)
            assert provider_state(neutron, prefix) == before

            again = run_playbook(create, extra, tmp_path)
            assert changed(again) == [False] * CREATE_TASKS
            assert [r["id"] for r in again] == [r["id"] for r in first]
            assert provider_state(neutron, prefix) == before

            gone = run_playbook(remove, extra, tmp_path)
            assert changed(gone) == [True] * REMOVE_TASKS
            check_removed(system, prefix, here, default)
            assert provider_state(neutron, prefix) == before  # removed from the engine only: the provider keeps them
        finally:
            remove_leftovers(system, prefix)
            neutron.network.delete_security_group(group, ignore_missing=True)


def check_created(
    system: System, rest: httpx.Client, builtin: ProviderProcess, prefix: str, here: Any, default: Any, group_id: str
) -> None:
    provider = by_name(system.openstack_network_providers_service(), f"{prefix}-provider")
    assert provider is not None
    assert provider.type == t.OpenStackNetworkProviderType.EXTERNAL and provider.requires_authentication
    assert (provider.url, provider.authentication_url) == (builtin.network_url, builtin.auth_url)
    assert (provider.username, provider.tenant_name, provider.password) == (
        provider_fields(builtin)["username"], provider_fields(builtin)["project_name"], None)  # fmt: skip
    assert provider.description == "Neutron by Ansible"
    # the module's v3 URL with only tenant_name authenticates (the project 'admin' in domain Default)
    system.openstack_network_providers_service().provider_service(provider.id).test_connectivity()

    dc = by_name(system.data_centers_service(), f"{prefix}-dc")
    default_dc = by_name(system.data_centers_service(), "Default")
    network, other = find_network(system, here.name, dc.name), find_network(system, default.name, "Default")
    assert network is not None and other is not None
    assert network.external_provider.id == provider.id == other.external_provider.id
    assert network.usages == [t.NetworkUsage.VM] and network.mtu == 1400
    assert network.description == "imported by Ansible"
    assert {n.name for n in provider_networks(system, provider.id).list()} >= {here.name, default.name}
    listed = rest.get(f"openstacknetworkproviders/{provider.id}/networks").json()["openstack_network"]
    where = {n["id"]: [d["id"] for d in n["data_centers"].get("data_center", [])] for n in listed}
    assert where[here.id] == [dc.id] and where[default.id] == [default_dc.id]  # extnet's addition to the SDK's type

    cluster = by_name(system.clusters_service(), f"{prefix}-cl")
    attached = system.clusters_service().cluster_service(cluster.id).networks_service().list()
    assert [(n.id, n.required) for n in attached if n.external_provider] == [(network.id, False)]

    profiles = {p.name: p for p in system.networks_service().network_service(network.id).vnic_profiles_service().list()}
    assert set(profiles) == {here.name, f"{prefix}-profile"}  # the import's own profile, and the play's
    profile = profiles[f"{prefix}-profile"]
    assert profile.description == "Ansible profile on an external network" and profile.port_mirroring is False
    assert [(p.name, p.value) for p in profile.custom_properties] == [("SecurityGroups", group_id)]


def check_removed(system: System, prefix: str, here: Any, default: Any) -> None:
    assert system.openstack_network_providers_service().list(search=f"name={prefix}-*") == []
    assert system.data_centers_service().list(search=f"name={prefix}-*") == []
    assert system.clusters_service().list(search=f"name={prefix}-*") == []
    assert find_network(system, default.name, "Default") is None
    assert system.networks_service().list(search=f"name={here.name}") == []
    assert [p for p in system.vnic_profiles_service().list() if p.name.startswith(prefix)] == []
