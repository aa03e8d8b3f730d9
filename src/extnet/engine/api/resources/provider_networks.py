"""``/openstacknetworkproviders/{id}/networks``: a provider's networks, read live from it (never cached), each with
the data centers it is imported into (extnet's ``data_centers``); their ``import`` action; and
``…/networks/{nid}/subnets``, live on the provider too.

Also the provider half of ``POST /networks`` with an ``external_provider`` and of
``DELETE /networks/{id}?remove_from_provider=true``. Every provider call runs outside any database transaction:
the rules are checked in a short read transaction before the call, and the engine's side is written in a short
write transaction after it (undone on the provider if that write fails).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from extnet.engine.api.faults import BadRequest, Fault, NotFound
from extnet.engine.api.resources.base import Collection, Ctx, Entity, completed, href, links, load, ref
from extnet.engine.commands.base import run
from extnet.engine.commands.external_networks import (
    CheckNetworkOnProvider,
    CheckRemovalFromProvider,
    CheckSubnetWrite,
    ImportExternalNetwork,
    ImportOptions,
    engine_copies,
    imported_into,
    subnet_values,
)
from extnet.engine.commands.networks import RemoveNetwork, resolve_data_center
from extnet.engine.providers.client import ProviderClient, ProviderError
from extnet.engine.providers.neutron import ProviderNetwork, ProviderSubnet
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import DataCenter, Network, Provider

if TYPE_CHECKING:
    from extnet.engine.api.resources.providers import ProviderCall

T = TypeVar("T")
PROVIDERS = "openstacknetworkproviders"


def provider_call(ctx: Ctx, provider_id: str) -> ProviderCall:
    # imported here: providers.py imports this module to register its collections
    from extnet.engine.api.resources.providers import ProviderCall

    return ProviderCall(ctx, provider_id)


def guarded(
    call: ProviderCall, func: Callable[[], T], failure: Code | None = None, describe: str = "", **ids: Any
) -> T:
    """Run provider calls; a failure becomes a fault (and an error event ``failure``: ``describe`` + the reason)."""
    from extnet.engine.api.resources.providers import provider_fault

    try:
        return func()
    except ProviderError as err:
        if failure is not None:
            call.event(failure, f"{describe}{err.message}", "error", **ids)
        raise provider_fault(err) from None


def remote(
    call: ProviderCall, what: Callable[[ProviderClient], T], failure: Code | None = None, describe: str = "", **ids: Any
) -> T:
    """``guarded`` for a call on the provider's client."""
    return guarded(call, lambda: what(call.client()), failure, describe, **ids)


def missing_network(call: ProviderCall, network_id: str) -> NotFound:
    return NotFound(f"Entity not found: network '{network_id}' on provider '{call.name}'")


def fetch_network(call: ProviderCall, network_id: str, what: str | None = None) -> ProviderNetwork:
    """One network of the provider, live (from the engine's copies for an unmanaged provider)."""
    if call.unmanaged:
        with call.ctx.database.transaction(write=False) as session:
            found = [n for n in engine_copies(session, call.provider_id) if n.id == network_id]
        if not found:
            raise missing_network(call, network_id)
        return found[0]
    try:
        return call.client().get_network(network_id, what)
    except ProviderError as err:  # other failures are the caller's to report
        if err.kind == "not_found":
            raise missing_network(call, network_id) from None
        raise


def render_network(provider_id: str, network: ProviderNetwork, data_centers: list[str]) -> Entity:
    base = href(PROVIDERS, provider_id, "networks", network.id)
    return {
        "href": base,
        "id": network.id,
        "name": network.name,
        "description": network.description or None,
        "openstack_network_provider": ref(PROVIDERS, provider_id),
        "data_centers": {"data_center": [ref("datacenters", dc) for dc in data_centers]},
        "link": links(base, "subnets"),
    }


def render_subnet(provider_id: str, network_id: str, subnet: ProviderSubnet) -> Entity:
    network = href(PROVIDERS, provider_id, "networks", network_id)
    return {
        "href": f"{network}/subnets/{subnet.id}",
        "id": subnet.id,
        "name": subnet.name,
        "cidr": subnet.cidr,
        "ip_version": f"v{subnet.ip_version}",
        "gateway": subnet.gateway,
        "dns_servers": {"dns_server": list(subnet.dns_servers)} if subnet.dns_servers else None,
        "openstack_network": {"href": network, "id": network_id},
    }


class ProviderNetworks(Collection):
    """The networks on a provider (ids are the provider's), with the ``import`` action."""

    type_name = "OpenStackNetwork"
    what = "provider network"
    actions = ("import",)
    self_managed = frozenset({"list_", "get", "action:import"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        call = provider_call(ctx, parents[-1])
        limit = ctx.max_results()
        if limit == 0:
            return []
        if call.unmanaged:
            with ctx.database.transaction(write=False) as session:
                networks = engine_copies(session, call.provider_id)[:limit]
        else:
            networks = remote(call, lambda client: client.list_networks(limit))
        with ctx.database.transaction(write=False) as session:
            where = imported_into(session, call.provider_id)
        return [render_network(call.provider_id, n, where.get(n.id, [])) for n in networks]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        call = provider_call(ctx, parents[-1])
        network = guarded(call, lambda: fetch_network(call, entity_id))
        with ctx.database.transaction(write=False) as session:
            where = imported_into(session, call.provider_id)
        return render_network(call.provider_id, network, where.get(network.id, []))

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        if name != "import":
            return super().action(ctx, parents, entity_id, name, body)
        import_network(ctx, parents[-1], entity_id, body)
        return completed()


def import_network(ctx: Ctx, provider_id: str, network_id: str, body: Entity) -> Network:
    """``POST …/networks/{nid}/import``: read the network on the provider, then bring it into the data center."""
    call = provider_call(ctx, provider_id)
    reference = body.get("data_center")
    if not reference:
        raise BadRequest(f"Give the data center to import network '{network_id}' into: data_center by id or by name")
    with ctx.database.transaction(write=False) as session:  # a wrong data center needs no provider call
        dc = resolve_data_center(session, reference, None)
        dc_id, dc_name = dc.id, dc.name
    failure = f"Failed to import network {network_id} of provider {call.name} into data center {dc_name}: "
    source = guarded(
        call,
        lambda: fetch_network(call, network_id, f"import network {network_id}"),
        Code.NETWORK_IMPORT_EXTERNAL_NETWORK_FAILED,
        failure,
        data_center_id=dc_id,
    )
    options = ImportOptions(bool(body.get("attach_to_all_clusters")), bool(body.get("public_use")))
    with ctx.database.transaction() as session:
        provider = load(session, Provider, provider_id, "provider")
        network: Network = run(ImportExternalNetwork(session, provider, source, {"id": dc_id}, options))
        return network


# --- POST /networks with external_provider, DELETE /networks/{id}?remove_from_provider=true -------------------------


def create_external_network(ctx: Ctx, path_dc: Callable[[Session], DataCenter | None], body: Entity) -> Network:
    """Create the network on its provider (with its first subnet, if given), then add it to the data center;
    undo it on the provider if the engine's side fails."""
    with ctx.database.transaction(write=False) as session:
        plan = run(CheckNetworkOnProvider(session, body, path_dc(session)))
    call = provider_call(ctx, plan.provider_id)
    if call.unmanaged:  # the network exists only in the engine: it gets an id of its own, as in oVirt
        source = ProviderNetwork(str(uuid.uuid4()), plan.name, "", plan.mtu, None, None, None, None)
    else:
        source = create_on_provider(call, plan.name, plan.mtu, plan.subnet)
    options = ImportOptions(description=body.get("description"), comment=body.get("comment"), created_on_provider=True)
    try:
        with ctx.database.transaction() as session:
            provider = load(session, Provider, plan.provider_id, "provider")
            dc_ref = {"id": plan.data_center_id}
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


def remove_external_network(ctx: Ctx, network_of: Callable[[Session], Network]) -> None:
    """Remove the network from its provider, then from the engine (nothing is removed if the provider fails)."""
    with ctx.database.transaction(write=False) as session:
        network = network_of(session)
        run(CheckRemovalFromProvider(session, network))
        provider_id, external_id, name = str(network.external_provider_id), str(network.external_id), network.name
    call = provider_call(ctx, provider_id)

    def delete(client: ProviderClient) -> None:
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
    with ctx.database.transaction() as session:
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


class ProviderSubnets(Collection):
    """``…/networks/{nid}/subnets``: the subnets of a provider network, live (the provider filters by network)."""

    type_name = "OpenStackSubnet"
    what = "provider subnet"
    self_managed = frozenset({"list_", "add", "get", "remove"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        call, network_id = self.scope(ctx, parents)
        subnets = remote(call, lambda client: client.list_subnets(network_id))
        if not subnets:  # an unknown network has no subnets either: tell them apart
            guarded(call, lambda: fetch_network(call, network_id))
        return [render_subnet(call.provider_id, network_id, s) for s in subnets][: ctx.max_results()]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        call, network_id = self.scope(ctx, parents)
        return render_subnet(call.provider_id, network_id, self.subnet(call, network_id, entity_id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        call, network_id = self.scope(ctx, parents)
        if (body.get("openstack_network") or {}).get("id") not in (None, network_id):
            raise BadRequest(f"The network given in the body is not network '{network_id}' of the path")
        self.check(ctx, call, body, "add")
        failure = f"Failed to add subnet {body['name']} to network {network_id} on provider {call.name}: "
        network = guarded(call, lambda: fetch_network(call, network_id), Code.SUBNET_ADDITION_FAILED, failure)
        values = subnet_values(body)
        subnet = remote(
            call, lambda client: client.create_subnet(network, values), Code.SUBNET_ADDITION_FAILED, failure
        )
        call.event(
            Code.SUBNET_ADDED,
            f"Subnet {subnet.name} ({subnet.cidr}) was added to network {network.name} on provider {call.name}.",
        )
        return render_subnet(call.provider_id, network_id, subnet)

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        call, network_id = self.scope(ctx, parents)
        self.check(ctx, call, None, "remove")
        failure = f"Failed to remove subnet {entity_id} from network {network_id} on provider {call.name}: "
        subnet = self.subnet(call, network_id, entity_id, Code.SUBNET_REMOVAL_FAILED, failure)
        remote(call, lambda client: client.delete_subnet(subnet.id), Code.SUBNET_REMOVAL_FAILED, failure)
        call.event(
            Code.SUBNET_REMOVED,
            f"Subnet {subnet.name} ({subnet.cidr}) was removed from network {network_id} on provider {call.name}.",
        )

    def scope(self, ctx: Ctx, parents: list[str]) -> tuple[ProviderCall, str]:
        call = provider_call(ctx, parents[-2])
        if call.unmanaged:
            raise Fault(
                f"Provider '{call.name}' is unmanaged: extnet never calls it, so it knows no subnets of it", status=409
            )
        return call, parents[-1]

    def subnet(
        self, call: ProviderCall, network_id: str, subnet_id: str, failure: Code | None = None, describe: str = ""
    ) -> ProviderSubnet:
        def fetch() -> ProviderSubnet | None:
            try:
                return call.client().get_subnet(subnet_id)
            except ProviderError as err:
                if err.kind == "not_found":
                    return None
                raise

        subnet = guarded(call, fetch, failure, describe)
        if subnet is None or subnet.network_id != network_id:
            raise NotFound(
                f"Entity not found: subnet '{subnet_id}' of network '{network_id}' on provider '{call.name}'"
            )
        return subnet

    def check(self, ctx: Ctx, call: ProviderCall, body: Entity | None, verb: str) -> None:
        with ctx.database.transaction(write=False) as session:
            provider = load(session, Provider, call.provider_id, "provider")
            run(CheckSubnetWrite(session, provider, body, verb))


ProviderNetworks.subs = {"subnets": ProviderSubnets}
