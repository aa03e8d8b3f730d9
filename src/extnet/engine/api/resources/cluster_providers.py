"""``/clusters/{id}/externalnetworkproviders``: the providers a cluster names in ``external_network_providers``
(oVirt's ClusterExternalProvidersService); auto-sync brings their networks into the cluster."""

from __future__ import annotations

from extnet.engine.api.hrefs import href
from extnet.engine.api.mappers import Field, Mapper, attr, identity, link_fields
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.schema import List
from extnet.engine.commands.provider_sync import providers_of_clusters
from extnet.engine.errors import NotFound
from extnet.engine.store.models import Cluster, Provider
from extnet.engine.store.queries import Entity, load, parse_uuid

PROVIDERS = "openstacknetworkproviders"


def provider_references(providers: list[Provider]) -> Entity | None:
    """A cluster's ``external_network_providers``, as references to the providers."""
    if not providers:
        return None
    return {"external_provider": [{"href": href(PROVIDERS, p.id), "id": p.id, "name": p.name} for p in providers]}


EXTERNAL_PROVIDER = Mapper("ExternalProvider", "external_provider", "external_providers", (
    *identity(PROVIDERS),
    Field("url", "str", attr("url")),
    Field("requires_authentication", "bool", attr("requires_authentication")),
    Field("username", "str", attr("username")),
    Field("password", "str", None, "in"),  # write-only: never rendered
    Field("authentication_url", "str", attr("authentication_url")),
    Field("properties", List("property", "Property")),
    *link_fields(PROVIDERS),
))  # fmt: skip


def render_external_provider(provider: Provider) -> Entity:
    return EXTERNAL_PROVIDER.render(provider)


class ClusterExternalProviders(Collection):
    type_name = EXTERNAL_PROVIDER.type_name
    what = "external network provider"

    def cluster(self, ctx: Ctx, parents: list[str]) -> Cluster:
        cluster: Cluster = load(ctx.db, Cluster, parents[-1], "cluster")
        if len(parents) > 1 and cluster.data_center_id != parse_uuid(parents[0], "data center"):
            raise NotFound(f"Entity not found: cluster '{parents[-1]}' in data center '{parents[0]}'")
        return cluster

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        cluster = self.cluster(ctx, parents)
        providers = providers_of_clusters(ctx.db, [cluster.id]).get(cluster.id, [])
        return [render_external_provider(p) for p in providers][: ctx.max_results()]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        cluster = self.cluster(ctx, parents)
        for provider in providers_of_clusters(ctx.db, [cluster.id]).get(cluster.id, []):
            if provider.id == parse_uuid(entity_id, "provider"):
                return render_external_provider(provider)
        raise NotFound(f"Entity not found: provider '{entity_id}' is not an external network provider of cluster "
                       f"'{cluster.name}'")  # fmt: skip
