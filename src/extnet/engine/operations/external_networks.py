"""External networks and their subnets, on the provider and in the engine: a provider's networks read live (each
with the data centers it is imported into), importing one into a data center, creating a network on its provider
(``POST /networks`` with an ``external_provider``), removing it from there (``remove_from_provider``), and the
subnets of a provider network.

Every provider call runs outside any database transaction: the rules are checked in a short read transaction before
the call, and the engine's side is written in a short write transaction after it (undone on the provider if that
write fails).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from extnet.engine.commands.base import run
from extnet.engine.commands.external_networks import (
    CheckNetworkOnProvider,
    CheckRemovalFromProvider,
    CheckSubnetWrite,
    ImportExternalNetwork,
    ImportInput,
    ImportOptions,
    engine_copies,
    imported_into,
)
from extnet.engine.commands.external_subnets import SubnetInput, subnet_values
from extnet.engine.commands.inputs import Ref
from extnet.engine.commands.networks import NetworkInput, RemoveNetwork, resolve_data_center
from extnet.engine.errors import BadRequest, Fault, NotFound
from extnet.engine.operations.provider_calls import ProviderCall, fetch_network, guarded, remote
from extnet.engine.providers.client import ProviderError
from extnet.engine.providers.neutron import ProviderNetwork, ProviderSubnet
from extnet.engine.providers.protocol import NetworkProvider
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import DataCenter, Network, Provider
from extnet.engine.store.queries import Entity, load

Placed = tuple[ProviderNetwork, list[str]]  # a provider network and the ids of the data centers it is imported into


def list_networks(call: ProviderCall, limit: int | None) -> list[Placed]:
    if limit == 0:
        return []
    if call.unmanaged:
        with call.database.transaction(write=False) as session:
            networks = engine_copies(session, call.provider_id)[:limit]
    else:
        networks = remote(call, lambda client: client.list_networks(limit))
    with call.database.transaction(write=False) as session:
        where = imported_into(session, call.provider_id)
    return [(network, where.get(network.id, [])) for network in networks]


def get_network(call: ProviderCall, network_id: str) -> Placed:
    network = guarded(call, lambda: fetch_network(call, network_id))
    with call.database.transaction(write=False) as session:
        where = imported_into(session, call.provider_id)
    return network, where.get(network.id, [])


def import_network(call: ProviderCall, network_id: str, given: ImportInput) -> Network:
    """``POST …/networks/{nid}/import``: read the network on the provider, then bring it into the data center."""
    if given.data_center is None:
        raise BadRequest(f"Give the data center to import network '{network_id}' into: data_center by id or by name")
    with call.database.transaction(write=False) as session:  # a wrong data center needs no provider call
        dc = resolve_data_center(session, given.data_center.wire(), None)
        dc_id, dc_name = dc.id, dc.name
    failure = f"Failed to import network {network_id} of provider {call.name} into data center {dc_name}: "
    source = guarded(
        call,
        lambda: fetch_network(call, network_id, f"import network {network_id}"),
        Code.NETWORK_IMPORT_EXTERNAL_NETWORK_FAILED,
        failure,
        data_center_id=dc_id,
    )
    options = ImportOptions(bool(given.attach_to_all_clusters), bool(given.public_use))
    with call.database.transaction() as session:
        provider = load(session, Provider, call.provider_id, "provider")
        network: Network = run(ImportExternalNetwork(session, provider, source, Ref(id=dc_id), options))
        return network


# --- POST /networks with external_provider, DELETE /networks/{id}?remove_from_provider=true -------------------------


def create_external_network(
    database: Database, services: EngineServices, path_dc: Callable[[Session], DataCenter | None], given: NetworkInput
) -> Network:
    """Create the network on its provider (with its first subnet, if given), then add it to the data center;
    undo it on the provider if the engine's side fails."""
    with database.transaction(write=False) as session:
        plan = run(CheckNetworkOnProvider(session, given, path_dc(session)))
    call = ProviderCall(database, services, plan.provider_id)
    if call.unmanaged:  # the network exists only in the engine: it gets an id of its own, as in oVirt
        source = ProviderNetwork(str(uuid.uuid4()), plan.name, "", plan.mtu, None, None, None, None)
    else:
        source = create_on_provider(call, plan.name, plan.mtu, plan.subnet)
    options = ImportOptions(description=given.description, comment=given.comment, created_on_provider=True)
    try:
        with database.transaction() as session:
            provider = load(session, Provider, plan.provider_id, "provider")
            dc_ref = Ref(id=plan.data_center_id)
            network: Network = run(ImportExternalNetwork(session, provider, source, dc_ref, options))
            return network
    except BaseException:
        if not call.unmanaged:
            undo_creation(call, source)
        raise


def create_on_provider(call: ProviderCall, name: str, mtu: int | None, subnet: Entity | None) -> ProviderNetwork:
    failure = f"Failed to create network {name} on provider {call.name}: "
    source = remote(call, lambda client: client.create_network(name, mtu), Code.NETWORK_ADD_ON_PROVIDER_FAILED, failure)
    if subnet is None:
        return source
    try:
        added = remote(
            call,
            lambda client: client.create_subnet(source, subnet),
            Code.SUBNET_ADDITION_FAILED,
            f"Failed to add subnet {subnet['name']} to network {name} on provider {call.name}: ",
        )
    except BaseException:
        undo_creation(call, source)
        raise
    call.event(
        Code.SUBNET_ADDED, f"Subnet {added.name} ({added.cidr}) was added to network {name} on provider {call.name}."
    )
    return source


def undo_creation(call: ProviderCall, source: ProviderNetwork) -> None:
    """Remove a network the engine just created on the provider; if that fails too, say so in an event."""
    try:
        call.client().delete_network(source.id)
    except ProviderError as err:
        call.event(
            Code.NETWORK_ADD_ON_PROVIDER_FAILED,
            f"Network {source.name} ({source.id}) was created on provider {call.name} but could not be removed "
            f"from it after the engine failed to add it; remove it on the provider. {err.message}",
            "error",
        )


def remove_external_network(database: Database, services: EngineServices,
                            network_of: Callable[[Session], Network]) -> None:  # fmt: skip
    """Remove the network from its provider, then from the engine (nothing is removed if the provider fails)."""
    with database.transaction(write=False) as session:
        network = network_of(session)
        run(CheckRemovalFromProvider(session, network))
        provider_id, external_id, name = str(network.external_provider_id), str(network.external_id), network.name
    call = ProviderCall(database, services, provider_id)

    def delete(client: NetworkProvider) -> None:
        try:
            client.delete_network(external_id)
        except ProviderError as err:
            if err.kind != "not_found":  # already gone: what is left is removing it from the engine
                raise

    remote(
        call,
        delete,
        Code.NETWORK_REMOVE_FROM_PROVIDER_FAILED,
        f"Failed to remove network {name} from provider {call.name}: ",
        network_id=network.id,
    )
    with database.transaction() as session:
        network = network_of(session)
        run(RemoveNetwork(session, network))
        record(
            session,
            Code.NETWORK_REMOVED_FROM_PROVIDER,
            f"Network {name} was removed from provider {call.name}.",
            provider_id=provider_id,
            data_center_id=network.data_center_id,
            network_id=network.id,
        )


# --- subnets ---------------------------------------------------------------------------------------------------------


def subnet_call(database: Database, services: EngineServices, provider_id: str) -> ProviderCall:
    """The provider whose subnets are asked for: a managed one (an unmanaged one is never called)."""
    call = ProviderCall(database, services, provider_id)
    if call.unmanaged:
        raise Fault(
            f"Provider '{call.name}' is unmanaged: extnet never calls it, so it knows no subnets of it", status=409
        )
    return call


def list_subnets(call: ProviderCall, network_id: str) -> list[ProviderSubnet]:
    subnets = remote(call, lambda client: client.list_subnets(network_id))
    if not subnets:  # an unknown network has no subnets either: tell them apart
        guarded(call, lambda: fetch_network(call, network_id))
    return subnets


def get_subnet(call: ProviderCall, network_id: str, subnet_id: str, failure: Code | None = None,
               describe: str = "") -> ProviderSubnet:  # fmt: skip
    def fetch() -> ProviderSubnet | None:
        try:
            return call.client().get_subnet(subnet_id)
        except ProviderError as err:
            if err.kind == "not_found":
                return None
            raise

    subnet = guarded(call, fetch, failure, describe)
    if subnet is None or subnet.network_id != network_id:
        raise NotFound(f"Entity not found: subnet '{subnet_id}' of network '{network_id}' on provider '{call.name}'")
    return subnet


def add_subnet(call: ProviderCall, network_id: str, given: SubnetInput) -> ProviderSubnet:
    if (given.openstack_network.id if given.openstack_network else None) not in (None, network_id):
        raise BadRequest(f"The network given in the body is not network '{network_id}' of the path")
    _check_subnet_write(call, given, "add")
    failure = f"Failed to add subnet {given.name} to network {network_id} on provider {call.name}: "
    network = guarded(call, lambda: fetch_network(call, network_id), Code.SUBNET_ADDITION_FAILED, failure)
    values = subnet_values(given)
    subnet = remote(call, lambda client: client.create_subnet(network, values), Code.SUBNET_ADDITION_FAILED, failure)
    call.event(
        Code.SUBNET_ADDED,
        f"Subnet {subnet.name} ({subnet.cidr}) was added to network {network.name} on provider {call.name}.",
    )
    return subnet


def remove_subnet(call: ProviderCall, network_id: str, subnet_id: str) -> None:
    _check_subnet_write(call, None, "remove")
    failure = f"Failed to remove subnet {subnet_id} from network {network_id} on provider {call.name}: "
    subnet = get_subnet(call, network_id, subnet_id, Code.SUBNET_REMOVAL_FAILED, failure)
    network = guarded(call, lambda: fetch_network(call, network_id), Code.SUBNET_REMOVAL_FAILED, failure)
    remote(call, lambda client: client.delete_subnet(subnet.id), Code.SUBNET_REMOVAL_FAILED, failure)
    call.event(
        Code.SUBNET_REMOVED,
        f"Subnet {subnet.name} ({subnet.cidr}) was removed from network {network.name} on provider {call.name}.",
    )


def _check_subnet_write(call: ProviderCall, given: SubnetInput | None, verb: str) -> None:
    with call.database.transaction(write=False) as session:
        provider = load(session, Provider, call.provider_id, "provider")
        run(CheckSubnetWrite(session, provider, given, verb))
