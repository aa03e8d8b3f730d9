"""vNIC profiles of VM networks: add, update, remove (oVirt's AddVnicProfile, UpdateVnicProfile, RemoveVnicProfile)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Entity, Property, Ref, reference, wire
from extnet.engine.commands.networks import listing, refers_to
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import Network, Vm, VmNic, VnicProfile
from extnet.engine.store.queries import parse_uuid, resolve

PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# oVirt's definition of the interface custom property SecurityGroups (a list of Neutron security group ids)
KNOWN_PROPERTY_VALUES = {"SecurityGroups": re.compile(rf"^(?:(?:{_UUID}, *)*{_UUID}|)$")}


def vms_using_profile(session: Session, profile_id: str) -> list[str]:
    stmt = (
        select(Vm.name)
        .join(VmNic, VmNic.vm_id == Vm.id)
        .where(VmNic.vnic_profile_id == profile_id)
        .distinct()
        .order_by(Vm.name)
    )
    return list(session.scalars(stmt))


def _mode(value: Entity) -> str | None:
    mode: str | None = value.get("mode")
    return mode


@dataclass(frozen=True)
class VnicProfileInput:
    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    network: Ref | None = wire(convert=Ref.of)
    port_mirroring: bool | None = wire()
    migratable: bool | None = wire()
    pass_through_mode: str | None = wire("pass_through", _mode)  # None also for an empty <pass_through/>
    network_filter: Ref | None = wire(convert=Ref.always)  # an empty <network_filter/>: no filter
    custom_properties: tuple[Property, ...] | None = wire(convert=Property.of)
    qos: Ref | None = wire(convert=Ref.of)
    failover: Ref | None = wire(convert=Ref.of)


def custom_properties(given: tuple[Property, ...]) -> list[dict[str, str]]:
    return [{"name": p.name, "value": p.value} for p in given]


def property_violations(name: str, properties: list[dict[str, str]]) -> Iterable[Violation]:
    seen: set[str] = set()
    for prop in properties:
        key, value = prop["name"], prop["value"]
        if not PROPERTY_NAME.match(key):
            yield Violation(
                f"Custom property name '{key[:60]}' of vNIC profile '{name}' must be letters, digits or '_'", 400
            )
        elif key in seen:
            yield Violation(f"Custom property '{key}' is given more than once for vNIC profile '{name}'", 400)
        pattern = KNOWN_PROPERTY_VALUES.get(key)
        if pattern is not None and not pattern.match(value):
            yield Violation(
                f"Custom property {key} of vNIC profile '{name}' has the invalid value '{value[:80]}'; "
                "expected a comma-separated list of security group UUIDs",
                400,
            )
        seen.add(key)


def network_filter_id(ref: Ref | None, name: str) -> str | None:
    """The network filter a profile refers to (an empty ``<network_filter/>`` means none)."""
    if ref is None or ref.empty:
        return None
    if not ref.id:
        raise BadRequest(f"Refer to the network filter of vNIC profile '{name}' by id")
    return parse_uuid(str(ref.id), "network filter")


def unsupported_references(given: VnicProfileInput) -> Iterable[Violation]:
    qos = given.qos
    if qos:  # an empty <qos/> means "no QoS", as the Ansible module sends it
        what = qos.id or qos.name
        yield Violation(f"The QoS '{what}' does not exist (extnet has no network QoS entries)", 400)
    if given.failover:
        yield Violation("Failover vNIC profiles are not supported", 400)


class ProfileValues:
    """A profile's values after the request: the stored ones overlaid with those given."""

    def __init__(self, given: VnicProfileInput, profile: VnicProfile | None) -> None:
        self.given = given
        self.profile = profile

    def get(self, field: str, default: Any) -> Any:
        value = getattr(self.given, field)
        if value is not None:
            return value
        return getattr(self.profile, field) if self.profile is not None else default

    @property
    def name(self) -> str:
        return str(self.get("name", ""))

    @property
    def port_mirroring(self) -> bool:
        return bool(self.get("port_mirroring", False))

    @property
    def pass_through(self) -> str:
        mode = self.given.pass_through_mode
        if mode:
            return str(mode)
        return self.profile.pass_through_mode if self.profile is not None else "disabled"

    def filter_id(self) -> str | None:
        if self.given.network_filter is not None:
            return network_filter_id(self.given.network_filter, self.name)
        return self.profile.network_filter_id if self.profile is not None else None

    def properties(self) -> list[dict[str, str]]:
        if self.given.custom_properties is not None:
            return custom_properties(self.given.custom_properties)
        return list(self.profile.custom_properties) if self.profile is not None else []


def value_violations(values: ProfileValues) -> Iterable[Violation]:
    name = values.name
    problem = name_problem(name, "vNIC profile")
    if problem:
        yield Violation(problem, 400)
    passthrough = values.pass_through == "enabled"
    if passthrough and values.port_mirroring:
        yield Violation(f"vNIC profile '{name}' cannot have both port mirroring and pass-through", 400)
    try:
        filter_id = values.filter_id()
    except BadRequest as err:
        yield Violation(err.detail, 400)
    else:
        if passthrough and filter_id:
            yield Violation(f"vNIC profile '{name}' is a pass-through profile and cannot have a network filter", 400)
    yield from property_violations(name, values.properties())
    yield from unsupported_references(values.given)


def external_violations(network: Network, values: ProfileValues) -> Iterable[Violation]:
    if network.external_provider_id is not None and values.port_mirroring:
        yield Violation(
            f"Port mirroring cannot be enabled on vNIC profile '{values.name}': network '{network.name}' is an "
            "external network"
        )


def name_taken(session: Session, network: Network, name: str, profile_id: str | None) -> Violation | None:
    stmt = select(VnicProfile.id).where(VnicProfile.network_id == network.id, VnicProfile.name == name)
    if profile_id is not None:
        stmt = stmt.where(VnicProfile.id != profile_id)
    if session.scalar(stmt.limit(1)) is None:
        return None
    return Violation(f"vNIC profile '{name}' already exists on network '{network.name}'")


class AddVnicProfile(Command[VnicProfile]):
    verb, noun = "add", "VM network interface profile"

    def __init__(self, session: Session, given: VnicProfileInput, path_network: Network | None = None) -> None:
        super().__init__(session)
        self.given = given
        self.path_network = path_network
        self.network: Network | None = None

    def validate(self) -> Iterable[Violation]:
        values = ProfileValues(self.given, None)
        yield from value_violations(values)
        try:
            self.network = self._network()
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        if not self.network.vm_network:
            yield Violation(f"Network '{self.network.name}' is not a VM network, so it cannot have vNIC profiles")
        yield from external_violations(self.network, values)
        taken = name_taken(self.session, self.network, values.name, None)
        if taken:
            yield taken

    def _network(self) -> Network:
        ref = reference(self.given.network)
        if self.path_network is not None:
            if ref and not refers_to(ref, self.path_network):
                raise BadRequest(f"The network given in the body is not network '{self.path_network.name}' of the path")
            return self.path_network
        if not ref:
            raise BadRequest("A vNIC profile needs a network: give network by id")
        network: Network = resolve(self.session, Network, ref, "network")
        return network

    def execute(self) -> VnicProfile:
        assert self.network is not None
        values = ProfileValues(self.given, None)
        profile = VnicProfile(
            name=values.name,
            description=self.given.description,
            comment=self.given.comment,
            network_id=self.network.id,
            port_mirroring=values.port_mirroring,
            pass_through_mode=values.pass_through,
            migratable=bool(self.given.migratable),
            custom_properties=values.properties(),
            network_filter_id=values.filter_id(),
        )
        self.session.add(profile)
        return profile

    def integrity_message(self, error: IntegrityError) -> str:
        network = self.network.name if self.network else "?"
        return f"vNIC profile '{self.given.name}' already exists on network '{network}'."


class UpdateVnicProfile(Command[VnicProfile]):
    verb, noun = "update", "VM network interface profile"

    def __init__(self, session: Session, profile: VnicProfile, given: VnicProfileInput) -> None:
        super().__init__(session)
        self.profile = profile
        self.given = given
        self.values = ProfileValues(given, profile)

    def validate(self) -> Iterable[Violation]:
        network = self.session.get(Network, self.profile.network_id)
        assert network is not None
        if not refers_to(reference(self.given.network) or {}, network):
            yield Violation(f"The network of vNIC profile '{self.profile.name}' cannot be changed", 400)
        yield from value_violations(self.values)
        yield from external_violations(network, self.values)
        taken = name_taken(self.session, network, self.values.name, self.profile.id)
        if taken:
            yield taken
        yield from self._in_use_violations()

    def _in_use_violations(self) -> Iterable[Violation]:
        changes = []
        if self.values.port_mirroring != self.profile.port_mirroring:
            changes.append("Port mirroring")
        if self.values.pass_through != self.profile.pass_through_mode:
            changes.append("Pass-through")
        if not changes:
            return
        vms = vms_using_profile(self.session, self.profile.id)
        for change in changes if vms else []:
            yield Violation(
                f"{change} of vNIC profile '{self.profile.name}' cannot change while VM(s) {listing(vms)} use it"
            )

    def execute(self) -> VnicProfile:
        for field in ("name", "description", "comment", "port_mirroring", "migratable"):
            value = getattr(self.given, field)
            if value is not None:
                setattr(self.profile, field, value)
        self.profile.pass_through_mode = self.values.pass_through
        self.profile.custom_properties = self.values.properties()
        self.profile.network_filter_id = self.values.filter_id()
        return self.profile

    def integrity_message(self, error: IntegrityError) -> str:
        return f"vNIC profile '{self.given.name}' already exists on this network."


class RemoveVnicProfile(Command[None]):
    verb, noun = "remove", "VM network interface profile"

    def __init__(self, session: Session, profile: VnicProfile) -> None:
        super().__init__(session)
        self.profile = profile

    def validate(self) -> Iterable[Violation]:
        vms = vms_using_profile(self.session, self.profile.id)
        if vms:
            yield Violation(
                f"vNIC profile '{self.profile.name}' is used by vNICs of VM(s) {listing(vms)}; "
                "move those vNICs to another profile first"
            )

    def execute(self) -> None:
        self.session.delete(self.profile)
