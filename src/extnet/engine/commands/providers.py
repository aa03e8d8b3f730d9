"""External network providers: add, update, remove (oVirt's AddProvider, UpdateProvider, RemoveProvider)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Entity, Property, wire
from extnet.engine.domain.rules import name_problem
from extnet.engine.secrets import SecretBox
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import (
    Cluster,
    ClusterProvider,
    Network,
    NetworkCluster,
    Provider,
    Vm,
    VmNic,
    VnicProfile,
)

PASSWORD_MAX = 200
AUTH_URL = re.compile(r"^https?://[^/\s]+(/[^\s]*)?/(v3|v2\.0)/?$")
SIMPLE_FIELDS = (
    "name", "description", "comment", "url", "requires_authentication", "username", "authentication_url",
    "tenant_name", "user_domain_name", "project_name", "project_domain_name", "read_only", "unmanaged", "auto_sync",
)  # fmt: skip


@dataclass(frozen=True)
class ProviderInput:
    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    provider_type: str | None = wire("type")
    url: str | None = wire()
    requires_authentication: bool | None = wire()
    username: str | None = wire()
    password: str | None = wire()  # "" removes the password
    authentication_url: str | None = wire()
    tenant_name: str | None = wire()
    user_domain_name: str | None = wire()
    project_name: str | None = wire()
    project_domain_name: str | None = wire()
    plugin_type: str | None = wire()
    external_plugin_type: str | None = wire()
    read_only: bool | None = wire()
    unmanaged: bool | None = wire()
    auto_sync: bool | None = wire()
    properties: tuple[Property, ...] | None = wire(convert=Property.of)

    def simple(self) -> dict[str, Any]:
        """The given values of ``SIMPLE_FIELDS``."""
        return {field: value for field in SIMPLE_FIELDS if (value := getattr(self, field)) is not None}


def plugin_type_of(given: ProviderInput) -> str | None:
    if given.external_plugin_type:
        return str(given.external_plugin_type)
    if given.plugin_type:
        return "OPEN_VSWITCH"
    return None


def url_problem(url: str | None, what: str) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"The {what} '{url}' must be an http:// or https:// URL with a host"
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return f"The {what} '{url}' has an invalid port"
    return None


class ProviderRules:
    """The rules a provider's settings must keep, after add or update (``merged`` is the resulting state)."""

    def __init__(self, session: Session, merged: Entity, provider_id: str | None) -> None:
        self.session = session
        self.merged = merged
        self.provider_id = provider_id

    def violations(self) -> Iterable[Violation]:
        state = self.merged
        name = state.get("name")
        problem = name_problem(name, "provider")
        if problem:
            yield Violation(problem, 400)
        else:
            clash = select(Provider.id).where(Provider.name == name)
            if self.provider_id:
                clash = clash.where(Provider.id != self.provider_id)
            if self.session.scalar(clash):
                yield Violation(f"The provider name '{name}' is already in use")
        if not state.get("unmanaged") and not state.get("url"):
            yield Violation(f"Provider '{name}' needs a url (only an unmanaged provider may have none)", 400)
        for field in ("url", "authentication_url"):
            problem = url_problem(state.get(field), field)
            if problem:
                yield Violation(problem, 400)
        if state["provider_type"] == "neutron" and not state.get("plugin_type"):
            yield Violation(
                f"Provider '{name}' is of type neutron and needs a plugin type (plugin_type=open_vswitch or "
                "external_plugin_type)",
                400,
            )
        yield from self.authentication_violations(name)

    def authentication_violations(self, name: str | None) -> Iterable[Violation]:
        state = self.merged
        password = state.get("password")
        if password is not None and len(password) > PASSWORD_MAX:
            yield Violation(f"The password of provider '{name}' is longer than {PASSWORD_MAX} characters", 400)
        if not state.get("requires_authentication"):
            return
        if not state.get("username"):
            yield Violation(f"Provider '{name}' requires authentication but has no username", 400)
        if not state.get("has_password"):
            yield Violation(f"Provider '{name}' requires authentication but has no password", 400)
        auth_url = state.get("authentication_url")
        if not auth_url:
            yield Violation(f"Provider '{name}' requires authentication but has no authentication_url", 400)
        elif not AUTH_URL.match(auth_url):
            yield Violation(
                f"The authentication_url '{auth_url}' of provider '{name}' must be a Keystone URL ending in /v3 or "
                "/v2.0",
                400,
            )
        elif auth_url.rstrip("/").endswith("/v2.0") and not state.get("tenant_name"):
            yield Violation(f"Provider '{name}' authenticates with Keystone v2.0 and needs a tenant_name", 400)
        elif auth_url.rstrip("/").endswith("/v3") and not (state.get("project_name") or state.get("tenant_name")):
            yield Violation(
                f"Provider '{name}' authenticates with Keystone v3 and needs a project_name (or tenant_name)", 400
            )


def _state_of(provider: Provider) -> Entity:
    state = {field: getattr(provider, field) for field in SIMPLE_FIELDS}
    state.update(provider_type=provider.provider_type, plugin_type=provider.plugin_type,
                 has_password=provider.password_encrypted is not None)  # fmt: skip
    return state


class AddProvider(Command[Provider]):
    verb, noun = "add", "Provider"

    def __init__(self, session: Session, secrets: SecretBox, given: ProviderInput) -> None:
        super().__init__(session)
        self.secrets = secrets
        self.given = given
        self.state: Entity = {field: getattr(given, field) for field in SIMPLE_FIELDS}
        requires = given.requires_authentication
        self.state.update(
            provider_type=given.provider_type or "neutron",
            plugin_type=plugin_type_of(given),
            password=given.password,
            has_password=bool(given.password),
            requires_authentication=bool(given.username) if requires is None else requires,
        )

    def validate(self) -> Iterable[Violation]:
        return ProviderRules(self.session, self.state, None).violations()

    def execute(self) -> Provider:
        state = self.state
        provider = Provider(provider_type=state["provider_type"], plugin_type=state["plugin_type"],
                            properties=properties_of(self.given.properties), certificates=[])  # fmt: skip
        for field in SIMPLE_FIELDS:
            if state.get(field) is not None:
                setattr(provider, field, state[field])
        provider.requires_authentication = bool(state["requires_authentication"])
        if state.get("password"):
            provider.password_encrypted = self.secrets.encrypt(state["password"])
        self.session.add(provider)
        self.session.flush()
        record(self.session, Code.PROVIDER_ADDED, f"Provider {provider.name} was added.", provider_id=provider.id)
        return provider

    def integrity_message(self, error: Exception) -> str:
        return f"The provider name '{self.given.name}' is already in use."


class UpdateProvider(Command[Provider]):
    verb, noun = "update", "Provider"

    def __init__(self, session: Session, secrets: SecretBox, provider: Provider, given: ProviderInput) -> None:
        super().__init__(session)
        self.secrets = secrets
        self.provider = provider
        self.given = given
        self.state = _state_of(provider)
        self.state.update(given.simple())
        if given.password is not None:
            self.state.update(password=given.password, has_password=bool(given.password))
        if plugin_type_of(given):
            self.state["plugin_type"] = plugin_type_of(given)

    def validate(self) -> Iterable[Violation]:
        new_type = self.given.provider_type
        if new_type and new_type != self.provider.provider_type:
            yield Violation(
                f"The type of provider '{self.provider.name}' cannot be changed from {self.provider.provider_type} "
                f"to {new_type}; remove the provider and add it again",
                400,
            )
        yield from ProviderRules(self.session, self.state, self.provider.id).violations()

    def execute(self) -> Provider:
        provider = self.provider
        for field, value in self.given.simple().items():
            setattr(provider, field, value)
        provider.plugin_type = self.state["plugin_type"]
        password = self.given.password
        if password is not None:
            provider.password_encrypted = self.secrets.encrypt(password) if password else None
        if self.given.properties is not None:
            provider.properties = properties_of(self.given.properties)
        record(self.session, Code.PROVIDER_UPDATED, f"Provider {provider.name} was updated.", provider_id=provider.id)
        return provider

    def integrity_message(self, error: Exception) -> str:
        return f"The provider name '{self.given.name}' is already in use."


def properties_of(properties: tuple[Property, ...] | None) -> list[dict[str, str]]:
    return [{"name": p.name, "value": p.value} for p in properties or ()]


def vms_on_provider(session: Session, provider_id: str) -> list[tuple[str, str]]:
    """(VM name, network name) of every vNIC on a network of the provider."""
    rows = session.execute(
        select(Vm.name, Network.name)
        .join(VmNic, VmNic.vm_id == Vm.id)
        .join(VnicProfile, VnicProfile.id == VmNic.vnic_profile_id)
        .join(Network, Network.id == VnicProfile.network_id)
        .where(Network.external_provider_id == provider_id)
        .distinct()
        .order_by(Network.name, Vm.name)
    )
    return [(vm, network) for vm, network in rows]


def detach_vnics_from_networks(session: Session, network_ids: Any) -> None:
    """Unplug the vNICs on the given networks and leave them without a profile."""
    profile_ids = select(VnicProfile.id).where(VnicProfile.network_id.in_(network_ids)).scalar_subquery()
    session.execute(
        update(VmNic).where(VmNic.vnic_profile_id.in_(profile_ids)).values(vnic_profile_id=None, plugged=False)
    )


def remove_networks(session: Session, network_ids: Any) -> None:
    """Remove networks with their profiles and cluster attachments (their vNICs must be detached already)."""
    session.execute(delete(NetworkCluster).where(NetworkCluster.network_id.in_(network_ids)))
    session.execute(delete(VnicProfile).where(VnicProfile.network_id.in_(network_ids)))
    session.execute(delete(Network).where(Network.id.in_(network_ids)))


class RemoveProvider(Command[None]):
    verb, noun = "remove", "Provider"

    def __init__(self, session: Session, provider: Provider, force: bool) -> None:
        super().__init__(session)
        self.provider = provider
        self.force = force

    def validate(self) -> Iterable[Violation]:
        if self.force:
            return
        clusters = self.session.scalars(
            select(Cluster.name)
            .join(ClusterProvider, ClusterProvider.cluster_id == Cluster.id)
            .where(ClusterProvider.provider_id == self.provider.id)
            .order_by(Cluster.name)
        ).all()
        if clusters:
            yield Violation(
                f"Provider '{self.provider.name}' is an external network provider of cluster(s) "
                f"{', '.join(clusters)}; remove it from their external_network_providers first, or remove the "
                "provider with force=true"
            )
        users = vms_on_provider(self.session, self.provider.id)
        if users:
            shown = ", ".join(f"VM '{vm}' on network '{network}'" for vm, network in users[:10])
            more = f" and {len(users) - 10} more" if len(users) > 10 else ""
            yield Violation(
                f"The networks of provider '{self.provider.name}' are used by virtual machines: {shown}{more}. "
                "Move those vNICs to other networks, or remove the provider with force=true to unplug them"
            )

    def execute(self) -> None:
        network_ids = select(Network.id).where(Network.external_provider_id == self.provider.id).scalar_subquery()
        detach_vnics_from_networks(self.session, network_ids)
        remove_networks(self.session, network_ids)
        record(self.session, Code.PROVIDER_REMOVED, f"Provider {self.provider.name} was removed.",
               provider_id=self.provider.id)  # fmt: skip
        self.session.delete(self.provider)
