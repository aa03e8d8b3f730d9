"""What is read live of a provider besides its networks: a vNIC's port as the provider reports it now, the
provider's routers with their interfaces and its security groups with their rules (extnet's additions to oVirt's
API, for the portal).

Each read is one provider call outside any transaction (``ProviderCall``); a provider that fails answers its usual
fault. An unmanaged provider is never called: the engine knows no port of it, no router and no security group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from extnet.engine.errors import NotFound
from extnet.engine.operations.provider_calls import ProviderCall, guarded, remote
from extnet.engine.providers.client import ProviderError
from extnet.engine.providers.neutron import ProviderPort, ProviderRouter, ProviderSecurityGroup
from extnet.engine.providers.protocol import NetworkProvider
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.models import Provider
from extnet.engine.store.queries import nic_in, vm_of

T = TypeVar("T")


@dataclass(frozen=True)
class NicPort:
    """A vNIC's port as its provider reports it."""

    vm_id: str
    nic_id: str
    provider_id: str
    port: ProviderPort


def nic_port(database: Database, services: EngineServices, vm_id: str, nic_id: str) -> NicPort | None:
    """The port of the vNIC ``nic_id`` of the VM ``vm_id`` as its provider reports it now; None when the vNIC has no
    port (never started on an external network, its port gone, or its provider unmanaged or removed); NotFound if
    there is no such vNIC."""
    with database.transaction(write=False) as session:
        nic = nic_in(session, vm_of(session, vm_id), nic_id)
        port_id, provider_id, nic_name, vm_id, nic_id = nic.port_id, nic.port_provider_id, nic.name, nic.vm_id, nic.id
        provider = fetch(session, Provider, provider_id) if provider_id else None
        if port_id is None or provider is None or provider.unmanaged:
            return None
        provider_id = provider.id
    call = ProviderCall(database, services, provider_id)
    found = remote(call, lambda client: client.find_ports(f"read the port of vNIC '{nic_name}'", {"id": [port_id]}))
    port = next((port for port in found if port.id == port_id), None)
    return NicPort(vm_id, nic_id, call.provider_id, port) if port else None


def list_routers(call: ProviderCall, limit: int | None) -> list[ProviderRouter]:
    return _listed(call, limit, lambda client: client.list_routers(limit))


def get_router(call: ProviderCall, router_id: str) -> ProviderRouter:
    missing = NotFound(f"Entity not found: router '{router_id}' on provider '{call.name}'")
    return _one_of(call, lambda client: client.get_router(router_id), missing)


def list_security_groups(call: ProviderCall, limit: int | None) -> list[ProviderSecurityGroup]:
    return _listed(call, limit, lambda client: client.list_security_groups(limit))


def get_security_group(call: ProviderCall, group_id: str) -> ProviderSecurityGroup:
    missing = NotFound(f"Entity not found: security group '{group_id}' on provider '{call.name}'")
    return _one_of(call, lambda client: client.get_security_group(group_id), missing)


def _listed(call: ProviderCall, limit: int | None, read: Callable[[NetworkProvider], list[T]]) -> list[T]:
    """What ``read`` lists, at most ``limit``; nothing when none is asked for or the provider is unmanaged."""
    if limit == 0 or call.unmanaged:
        return []
    return remote(call, read)[:limit]


def _one_of(call: ProviderCall, read: Callable[[NetworkProvider], T], missing: NotFound) -> T:
    """What ``read`` answers; ``missing`` when the provider has no such object, or is unmanaged (never called)."""
    if call.unmanaged:
        raise missing

    def found() -> T | None:
        try:
            return read(call.client())
        except ProviderError as err:  # other failures are the provider's usual faults
            if err.kind == "not_found":
                return None
            raise

    answer = guarded(call, found)
    if answer is None:
        raise missing
    return answer
