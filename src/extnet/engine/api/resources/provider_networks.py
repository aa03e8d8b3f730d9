"""``/openstacknetworkproviders/{id}/networks``: a provider's networks, read live from it (never cached), each with
the data centers it is imported into (extnet's ``data_centers``); their ``import`` action; and
``…/networks/{nid}/subnets``, live on the provider too. The work is ``operations/external_networks.py``'s.
"""

from __future__ import annotations

from extnet.engine.api.hrefs import href, links, ref
from extnet.engine.api.resources.base import Collection, Ctx, completed, services_of
from extnet.engine.operations import external_networks as ops
from extnet.engine.operations.provider_calls import ProviderCall
from extnet.engine.providers.neutron import ProviderNetwork, ProviderSubnet
from extnet.engine.store.queries import Entity

PROVIDERS = "openstacknetworkproviders"


def provider_call(ctx: Ctx, provider_id: str) -> ProviderCall:
    return ProviderCall(ctx.database, services_of(ctx), provider_id)


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
        placed = ops.list_networks(call, ctx.max_results())
        return [render_network(call.provider_id, network, where) for network, where in placed]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        call = provider_call(ctx, parents[-1])
        network, where = ops.get_network(call, entity_id)
        return render_network(call.provider_id, network, where)

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        if name != "import":
            return super().action(ctx, parents, entity_id, name, body)
        ops.import_network(provider_call(ctx, parents[-1]), entity_id, body)
        return completed()


class ProviderSubnets(Collection):
    """``…/networks/{nid}/subnets``: the subnets of a provider network, live (the provider filters by network)."""

    type_name = "OpenStackSubnet"
    what = "provider subnet"
    self_managed = frozenset({"list_", "add", "get", "remove"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        call, network_id = self.scope(ctx, parents)
        subnets = ops.list_subnets(call, network_id)
        return [render_subnet(call.provider_id, network_id, s) for s in subnets][: ctx.max_results()]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        call, network_id = self.scope(ctx, parents)
        return render_subnet(call.provider_id, network_id, ops.get_subnet(call, network_id, entity_id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        call, network_id = self.scope(ctx, parents)
        return render_subnet(call.provider_id, network_id, ops.add_subnet(call, network_id, body))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        call, network_id = self.scope(ctx, parents)
        ops.remove_subnet(call, network_id, entity_id)

    @staticmethod
    def scope(ctx: Ctx, parents: list[str]) -> tuple[ProviderCall, str]:
        return ops.subnet_call(ctx.database, services_of(ctx), parents[-2]), parents[-1]


ProviderNetworks.subs = {"subnets": ProviderSubnets}
