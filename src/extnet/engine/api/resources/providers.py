"""``/openstacknetworkproviders``: external network providers (oVirt's OpenStackNetworkProvider)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from extnet.engine.api.hrefs import href
from extnet.engine.api.inputs import action_input, to_input
from extnet.engine.api.mappers import Field, Mapper, attr, identity, link_fields
from extnet.engine.api.resources.base import Collection, Ctx, completed, services_of
from extnet.engine.api.resources.provider_networks import ProviderNetworks
from extnet.engine.api.resources.provider_routers import ProviderRouters
from extnet.engine.api.resources.provider_security_groups import ProviderSecurityGroups
from extnet.engine.api.schema import List
from extnet.engine.api.search import Matcher, column_matcher
from extnet.engine.commands.base import run
from extnet.engine.commands.provider_certificates import ImportCertificatesInput, ImportProviderCertificates
from extnet.engine.commands.providers import ProviderInput
from extnet.engine.errors import NotFound
from extnet.engine.operations import provider_admin as admin
from extnet.engine.providers.certificates import Certificate
from extnet.engine.store.models import Provider
from extnet.engine.store.queries import Entity, load

T = TypeVar("T")
PROVIDER_LINKS = ("networks", "certificates", "routers", "securitygroups")


def _plugin_type(provider: Provider, extra: Entity) -> str | None:
    plugin = provider.plugin_type
    return "open_vswitch" if plugin and plugin.upper() == "OPEN_VSWITCH" else None


def _text(name: str) -> Field:
    return Field(name, "str", attr(name))


PROVIDER = Mapper("OpenStackNetworkProvider", "openstack_network_provider", "openstack_network_providers", (
    *identity("openstacknetworkproviders", Provider),
    Field("type", ("neutron", "external"), attr("provider_type"), search=column_matcher(Provider.provider_type)),
    Field("url", "str", attr("url"), search=column_matcher(Provider.url)),
    Field("requires_authentication", "bool", attr("requires_authentication")),
    _text("username"),
    Field("password", "str", None, "in"),  # write-only: never rendered
    _text("authentication_url"), _text("tenant_name"), _text("user_domain_name"), _text("project_name"),
    _text("project_domain_name"),
    Field("plugin_type", ("open_vswitch",), _plugin_type),
    Field("external_plugin_type", "str", attr("plugin_type")),
    Field("read_only", "bool", attr("read_only")),
    Field("unmanaged", "bool", attr("unmanaged")),
    Field("auto_sync", "bool", attr("auto_sync")),
    Field("properties", List("property", "Property"),
          lambda provider, extra: {"property": provider.properties} if provider.properties else None),
    Field("certificates", List("certificate", "Certificate"), lambda provider, extra: imported_certificates(provider)),
    *link_fields("openstacknetworkproviders", *PROVIDER_LINKS),
    Field("agent_configuration", "AgentConfiguration"),
    Field("networks", List("openstack_network", "OpenStackNetwork")),
    Field("subnets", List("openstack_subnet", "OpenStackSubnet")),
))  # fmt: skip


def render_provider(provider: Provider) -> Entity:
    return PROVIDER.render(provider)


def imported_certificates(provider: Provider) -> Entity | None:
    """The certificates the provider is verified with (ids: SHA-256 fingerprints); the ``certificates`` link is the
    chain it presents now."""
    if not provider.certificates:
        return None
    return {"certificate": [CERTIFICATE.render(Certificate.from_pem(pem), imported=True)
                            for pem in provider.certificates]}  # fmt: skip


def _certificate_id(cert: Certificate, extra: Entity) -> str:
    position = extra.get("position")
    return cert.fingerprint if position is None else str(position)


def _certificate_href(cert: Certificate, extra: Entity) -> str | None:
    base = extra.get("base")
    return f"{base}/{extra['position']}" if base else None


# rendered with ``imported`` (whether the provider is verified with it); one of the chain the provider presents
# also with its ``position`` in the chain (its id there) and the chain's ``base`` href
CERTIFICATE = Mapper("Certificate", "certificate", "certificates", (
    Field("id", "id", _certificate_id),
    Field("subject", "str", attr("subject")),
    Field("organization", "str", attr("organization")),
    Field("content", "str", attr("pem")),
    Field("description", "str", lambda cert, extra: "imported: the provider is verified with it" if extra["imported"]
          else "not imported"),
    Field("href", "str", _certificate_href, "out"),
    Field("name", "str"),
    Field("comment", "str"),
))  # fmt: skip


def presented_chain(ctx: Ctx, provider_id: str) -> list[Entity]:
    base = href("openstacknetworkproviders", provider_id, "certificates")
    chain = admin.presented_chain(ctx.database, services_of(ctx), provider_id)
    return [CERTIFICATE.render(cert, imported=trusted, position=position, base=base)
            for position, (cert, trusted) in enumerate(chain)]  # fmt: skip


class ProviderCertificates(Collection):
    """``…/openstacknetworkproviders/{id}/certificates``: the chain the provider presents, read live and unverified
    (ids are positions in the chain, as in oVirt), each saying whether it is imported."""

    type_name = CERTIFICATE.type_name
    what = "certificate"
    id_kind = "int"
    self_managed = frozenset({"list_", "get"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        limit = ctx.max_results()
        return presented_chain(ctx, parents[0])[:limit]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        chain = presented_chain(ctx, parents[0])
        if not entity_id.isdecimal() or int(entity_id) >= len(chain):
            raise NotFound(f"Entity not found: certificate '{entity_id}' of provider '{parents[0]}' (it presents "
                           f"{len(chain)})")  # fmt: skip
        return chain[int(entity_id)]


class OpenStackNetworkProviders(Collection):
    required_on_add = PROVIDER.required()
    type_name = PROVIDER.type_name
    what = "provider"
    subs: ClassVar[dict[str, type[Collection]]] = {"certificates": ProviderCertificates, "networks": ProviderNetworks,
                                                   "routers": ProviderRouters,
                                                   "securitygroups": ProviderSecurityGroups}
    actions = ("testconnectivity", "importcertificates", "sync")
    self_managed = frozenset({"action:testconnectivity", "action:sync"})
    search_fields: ClassVar[dict[str, Matcher] | None] = PROVIDER.search_fields()

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = self.apply_search(ctx, select(Provider).order_by(Provider.name), {"name": Provider.name})
        return [render_provider(p) for p in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_provider(load(ctx.db, Provider, entity_id, "provider"))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        given = to_input(PROVIDER, body, ProviderInput)
        return render_provider(admin.add_provider(ctx.db, services_of(ctx), given))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        provider = provider_for_update(ctx.db, entity_id)
        given = to_input(PROVIDER, body, ProviderInput)
        return render_provider(admin.update_provider(ctx.db, services_of(ctx), provider, given))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        provider = provider_for_update(ctx.db, entity_id)
        admin.remove_provider(ctx.db, services_of(ctx), provider, ctx.flag("force"))

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        handler = _ACTIONS.get(name)
        if handler is None:
            return super().action(ctx, parents, entity_id, name, body)
        return handler(ctx, entity_id, body)


def provider_for_update(session: Session, provider_id: str) -> Provider:
    provider = load(session, Provider, provider_id, "provider")
    session.refresh(provider, with_for_update=True)
    return provider


def import_certificates(ctx: Ctx, provider_id: str, body: Entity) -> Entity:
    provider = provider_for_update(ctx.db, provider_id)
    given = action_input(body, ImportCertificatesInput)
    run(ImportProviderCertificates(ctx.db, provider, given.certificates or ()))
    return completed()


def test_connectivity(ctx: Ctx, provider_id: str, body: Entity) -> Entity:
    admin.test_connectivity(ctx.database, services_of(ctx), provider_id)
    return completed()


def sync(ctx: Ctx, provider_id: str, body: Entity) -> Entity:
    """Synchronize the provider's networks now (whether or not it has auto_sync); answers when done."""
    admin.sync_now(ctx.database, services_of(ctx), provider_id)
    return completed()


_ACTIONS: dict[str, Callable[[Ctx, str, Entity], Entity]] = {
    "testconnectivity": test_connectivity,
    "importcertificates": import_certificates,
    "sync": sync,
}
