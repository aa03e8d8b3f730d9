"""What is read live of a provider besides its networks: a vNIC's port as the provider reports it now, and the
provider's routers with their interfaces (extnet's additions to oVirt's API, for the portal).

Each read is one provider call outside any transaction (``ProviderCall``); a provider that fails answers its usual
fault. An unmanaged provider is never called: the engine knows no port of it and no router of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from extnet.engine.errors import NotFound
from extnet.engine.operations.provider_calls import ProviderCall, guarded, remote
from extnet.engine.providers.client import ProviderError
from extnet.engine.providers.neutron import ProviderPort, ProviderRouter
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.models import Provider
from extnet.engine.store.queries import nic_in, vm_of


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
    if limit == 0 or call.unmanaged:
        return []
    return remote(call, lambda client: client.list_routers(limit))[:limit]


def get_router(call: ProviderCall, router_id: str) -> ProviderRouter:
    missing = NotFound(f"Entity not found: router '{router_id}' on provider '{call.name}'")
    if call.unmanaged:
        raise missing

    def read() -> ProviderRouter | None:
        try:
            return call.client().get_router(router_id)
        except ProviderError as err:  # other failures are the provider's usual faults
            if err.kind == "not_found":
                return None
            raise

    router = guarded(call, read)
    if router is None:
        raise missing
    return router
