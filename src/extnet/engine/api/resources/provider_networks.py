"""``/openstacknetworkproviders/{id}/networks``: a provider's networks, read live from it (never cached), each with
the data centers it is imported into (extnet's ``data_centers``); their ``import`` action; and
``…/networks/{nid}/subnets``, live on the provider too. The work is ``operations/external_networks.py``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from extnet.engine.api.hrefs import href, links, ref
from extnet.engine.api.inputs import action_input, to_input
from extnet.engine.api.mappers import Field, Mapper, attr, link_fields
from extnet.engine.api.resources.base import Collection, Ctx, completed, services_of
from extnet.engine.api.schema import List
from extnet.engine.commands.external_networks import ImportInput
from extnet.engine.commands.external_subnets import SubnetInput
from extnet.engine.operations import external_networks as ops
from extnet.engine.operations.provider_calls import ProviderCall
from extnet.engine.providers.neutron import ProviderNetwork, ProviderSubnet
from extnet.engine.store.queries import Entity

PROVIDERS = "openstacknetworkproviders"


def provider_call(ctx: Ctx, provider_id: str) -> ProviderCall:
    return ProviderCall(ctx.database, services_of(ctx), provider_id)


class LiveProviderObjects(Collection):
    """A provider's objects of one kind, read live from it and read only (ids are the provider's): ``read_all`` and
    ``read_one`` fetch them, ``mapper`` renders them with ``provider_id``."""

    mapper: ClassVar[Mapper]
    self_managed = frozenset({"list_", "get"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        call = provider_call(ctx, parents[-1])
        return [self.mapper.render(item, provider_id=call.provider_id)
                for item in self.read_all(call, ctx.max_results())]  # fmt: skip

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        call = provider_call(ctx, parents[-1])
        return self.mapper.render(self.read_one(call, entity_id), provider_id=call.provider_id)

    def read_all(self, call: ProviderCall, limit: int | None) -> Sequence[object]:
        raise NotImplementedError

    def read_one(self, call: ProviderCall, object_id: str) -> object:
        raise NotImplementedError


def _network_href(provider_id: str, network_id: str) -> str:
    return href(PROVIDERS, provider_id, "networks", network_id)


def network_ref(provider_id: str, network_id: str) -> Entity:
    """A reference to a network of a provider: ``<openstack_network href=".." id=".."/>``."""
    return {"href": _network_href(provider_id, network_id), "id": network_id}


def _network_href_of(network: ProviderNetwork, extra: Entity) -> str:
    return _network_href(extra["provider_id"], network.id)


# the provider's networks: ``render`` them with ``provider_id`` and the ``data_centers`` they are imported into
OPENSTACK_NETWORK = Mapper("OpenStackNetwork", "openstack_network", "openstack_networks", (
    Field("href", "str", _network_href_of, "out"),
    Field("id", "id", attr("id")),
    Field("name", "str", attr("name")),
    Field("description", "str", lambda network, extra: network.description or None),
    Field("comment", "str"),
    Field("openstack_network_provider", "OpenStackNetworkProvider",
          lambda network, extra: ref(PROVIDERS, extra["provider_id"])),
    Field("data_centers", List("data_center", "DataCenter"),
          lambda network, extra: {"data_center": [ref("datacenters", dc) for dc in extra["data_centers"]]}),
    Field("link", List("link", "Link"), lambda network, extra: links(_network_href_of(network, extra), "subnets"),
          "out"),
    Field("actions", "Actions", None, "out"),
))  # fmt: skip


def render_network(provider_id: str, network: ProviderNetwork, data_centers: list[str]) -> Entity:
    return OPENSTACK_NETWORK.render(network, provider_id=provider_id, data_centers=data_centers)


# the subnets of a provider network: ``render`` them with ``provider_id`` and ``network_id``
OPENSTACK_SUBNET = Mapper("OpenStackSubnet", "openstack_subnet", "openstack_subnets", (
    Field("href", "str", lambda subnet, extra: f"{_network_href(extra['provider_id'], extra['network_id'])}/subnets/"
                                               f"{subnet.id}", "out"),
    Field("id", "id", attr("id")),
    Field("name", "str", attr("name")),
    Field("description", "str"),
    Field("comment", "str"),
    Field("cidr", "str", attr("cidr")),
    Field("ip_version", ("v4", "v6"), lambda subnet, extra: f"v{subnet.ip_version}"),
    Field("gateway", "str", attr("gateway")),
    Field("dns_servers", List("dns_server", "str"),
          lambda subnet, extra: {"dns_server": list(subnet.dns_servers)} if subnet.dns_servers else None),
    Field("openstack_network", "OpenStackNetwork",
          lambda subnet, extra: network_ref(extra["provider_id"], extra["network_id"])),
    *link_fields(PROVIDERS),
))  # fmt: skip


def render_subnet(provider_id: str, network_id: str, subnet: ProviderSubnet) -> Entity:
    return OPENSTACK_SUBNET.render(subnet, provider_id=provider_id, network_id=network_id)


class ProviderNetworks(Collection):
    """The networks on a provider (ids are the provider's), with the ``import`` action."""

    type_name = OPENSTACK_NETWORK.type_name
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
        ops.import_network(provider_call(ctx, parents[-1]), entity_id, action_input(body, ImportInput))
        return completed()


class ProviderSubnets(Collection):
    """``…/networks/{nid}/subnets``: the subnets of a provider network, live (the provider filters by network)."""

    type_name = OPENSTACK_SUBNET.type_name
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
        given = to_input(OPENSTACK_SUBNET, body, SubnetInput)
        return render_subnet(call.provider_id, network_id, ops.add_subnet(call, network_id, given))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        call, network_id = self.scope(ctx, parents)
        ops.remove_subnet(call, network_id, entity_id)

    @staticmethod
    def scope(ctx: Ctx, parents: list[str]) -> tuple[ProviderCall, str]:
        return ops.subnet_call(ctx.database, services_of(ctx), parents[-2]), parents[-1]


ProviderNetworks.subs = {"subnets": ProviderSubnets}
