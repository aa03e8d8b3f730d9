"""``/openstacknetworkproviders/{id}/routers`` (an extnet extension): a provider's routers, read live from it (never
cached), each with its interfaces on subnets. The reads are ``operations/provider_reads.py``'s."""

from __future__ import annotations

from extnet.engine.api.hrefs import href, ref
from extnet.engine.api.mappers import Field, Mapper, attr, link_fields
from extnet.engine.api.resources.provider_networks import PROVIDERS, LiveProviderObjects, network_ref
from extnet.engine.api.schema import List, define
from extnet.engine.operations import provider_reads as ops
from extnet.engine.operations.provider_calls import ProviderCall
from extnet.engine.providers.neutron import ProviderRouter
from extnet.engine.store.queries import Entity

define("OpenStackRouterInterface", "interface", "interfaces", {
    "subnet_id": "str", "port_id": "str", "ip_address": "str",
})  # fmt: skip


def _interfaces(router: ProviderRouter, extra: Entity) -> Entity:
    return {"interface": [{"subnet_id": i.subnet_id, "port_id": i.port_id, "ip_address": i.ip_address}
                          for i in router.interfaces]}  # fmt: skip


def _gateway(router: ProviderRouter, extra: Entity) -> Entity | None:
    network_id = router.gateway_network_id
    return network_ref(extra["provider_id"], network_id) if network_id else None


# a provider's router: ``render`` it with ``provider_id``
OPENSTACK_ROUTER = Mapper("OpenStackRouter", "openstack_router", "openstack_routers", (
    Field("href", "str", lambda router, extra: href(PROVIDERS, extra["provider_id"], "routers", router.id), "out"),
    Field("id", "id", attr("id")),
    Field("name", "str", attr("name")),
    Field("description", "str"),
    Field("comment", "str"),
    Field("status", "str", attr("status")),  # the provider's: ACTIVE, DOWN, BUILD, ERROR
    # the external network of its gateway, a network of the provider
    Field("external_gateway_network", "OpenStackNetwork", _gateway),
    Field("interfaces", List("interface", "OpenStackRouterInterface"), _interfaces),
    Field("openstack_network_provider", "OpenStackNetworkProvider",
          lambda router, extra: ref(PROVIDERS, extra["provider_id"])),
    *link_fields(PROVIDERS),
))  # fmt: skip


class ProviderRouters(LiveProviderObjects):
    """The routers of a provider (ids are the provider's), read only."""

    type_name = OPENSTACK_ROUTER.type_name
    what = "router"
    mapper = OPENSTACK_ROUTER

    def read_all(self, call: ProviderCall, limit: int | None) -> list[ProviderRouter]:
        return ops.list_routers(call, limit)

    def read_one(self, call: ProviderCall, object_id: str) -> ProviderRouter:
        return ops.get_router(call, object_id)
