"""Logical networks of a data center: add, update, remove (oVirt's AddNetwork, UpdateNetwork, RemoveNetwork)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.external_subnets import SubnetInput
from extnet.engine.commands.inputs import Entity, Ref, reference, wire
from extnet.engine.domain.rules import mtu_problem, name_problem, vlan_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import (
    Cluster,
    DataCenter,
    Network,
    NetworkCluster,
    Provider,
    Vm,
    VmNic,
    VnicProfile,
)
from extnet.engine.store.queries import resolve

VDSM_NAME_MAX = 15


@dataclass(frozen=True)
class Vlan:
    id: str | None = None  # None or empty: untagged

    @classmethod
    def of(cls, value: Entity) -> Vlan:
        return cls(value.get("id"))


@dataclass(frozen=True)
class NetworkInput:
    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    mtu: int | None = wire()
    stp: bool | None = wire()
    port_isolation: bool | None = wire()
    usages: tuple[str, ...] | None = wire()
    vlan: Vlan | None = wire(convert=Vlan.of)
    data_center: Ref | None = wire(convert=Ref.of)
    external_provider: Ref | None = wire(convert=Ref.of)
    profile_required: bool | None = wire()
    openstack_subnet: SubnetInput | None = wire(convert=SubnetInput.of)  # extnet: a first subnet
    # handled by other collections or features: refused here
    physical_network: Ref | None = wire("external_provider_physical_network", Ref.of)
    vnic_profiles: tuple[Ref | None, ...] | None = wire(convert=Ref.of)
    # only meaningful for a network in a cluster (/clusters/{id}/networks): refused here, even when empty
    cluster: Ref | None = wire(convert=Ref.always)
    required: bool | None = wire()
    display: bool | None = wire()


def lock_row(session: Session, model: Any, row_id: str) -> None:
    """Serialize commands that check rules across the row's children (FOR UPDATE; SQLite serializes writers)."""
    session.execute(select(model.id).where(model.id == row_id).with_for_update())


def listing(names: list[str], limit: int = 10) -> str:
    """'a, b, c' (at most ``limit`` names, then 'and N more')."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def vms_using_network(session: Session, network_id: str, cluster_id: str | None = None) -> list[str]:
    """Names of the VMs with a vNIC on a profile of the network (optionally only VMs of one cluster)."""
    stmt = (
        select(Vm.name)
        .join(VmNic, VmNic.vm_id == Vm.id)
        .join(VnicProfile, VnicProfile.id == VmNic.vnic_profile_id)
        .where(VnicProfile.network_id == network_id)
        .distinct()
        .order_by(Vm.name)
    )
    if cluster_id is not None:
        stmt = stmt.where(Vm.cluster_id == cluster_id)
    return list(session.scalars(stmt))


def management_clusters(session: Session, network_id: str) -> list[str]:
    """Names of the clusters where the network has the management role."""
    stmt = (
        select(Cluster.name)
        .join(NetworkCluster, NetworkCluster.cluster_id == Cluster.id)
        .where(NetworkCluster.network_id == network_id, NetworkCluster.management.is_(True))
        .order_by(Cluster.name)
    )
    return list(session.scalars(stmt))


def vdsm_name(network: Network) -> str:
    """The name hosts know the network by: its own if short enough for a Linux bridge, else derived from the id."""
    if len(network.name) <= VDSM_NAME_MAX:
        return network.name
    return "on" + network.id.replace("-", "")[:13]


def parse_vlan(vlan: Vlan | None) -> tuple[int | None, str | None]:
    """The VLAN id of ``<vlan id="10"/>`` (None: untagged) and the problem with it, if any."""
    if vlan is None or vlan.id in (None, ""):
        return None, None
    text = str(vlan.id).strip()
    try:
        number = int(text)
    except ValueError:
        return None, f"VLAN id '{text[:40]}' is not a number"
    return number, vlan_problem(number)


class NetworkRules:
    """The value and inventory rules shared by adding and updating a network."""

    def __init__(self, session: Session, network_id: str | None) -> None:
        self.session = session
        self.network_id = network_id  # None while adding

    def name(self, name: str | None, dc: DataCenter) -> Iterable[Violation]:
        problem = name_problem(name, "network")
        if problem:
            yield Violation(problem, 400)
            return
        assert name is not None
        if name.lower().startswith("bond"):
            yield Violation(f"The network name '{name}' must not start with 'bond' (bond devices are named so)", 400)
        if self._other(Network.name == name, dc.id) is not None:
            yield Violation(f"network '{name}' already exists in data center '{dc.name}'")

    def vlan(self, vlan: Vlan | None, dc: DataCenter) -> Iterable[Violation]:
        number, problem = parse_vlan(vlan)
        if problem:
            yield Violation(problem, 400)
        elif number is not None:
            # an external network's VLAN is its provider's segment, on the provider's physical network
            other = self._other((Network.vlan_id == number) & Network.external_provider_id.is_(None), dc.id)
            if other is not None:
                yield Violation(
                    f"VLAN id {number} is already used by network '{other.name}' in data center '{dc.name}'"
                )

    def values(
        self, name: str, vm_network: bool, stp: bool, port_isolation: bool, mtu: int | None
    ) -> Iterable[Violation]:
        problem = mtu_problem(mtu)
        if problem:
            yield Violation(f"{problem} (network '{name}')", 400)
        if stp and not vm_network:
            yield Violation(f"STP can be enabled only on a VM network; network '{name}' is not a VM network", 400)
        if port_isolation and not vm_network:
            yield Violation(f"Port isolation needs a VM network; network '{name}' is not a VM network", 400)

    def _other(self, clause: Any, dc_id: str) -> Network | None:
        stmt = select(Network).where(clause, Network.data_center_id == dc_id)
        if self.network_id is not None:
            stmt = stmt.where(Network.id != self.network_id)
        return self.session.scalars(stmt.limit(1)).first()


class ExternalNetworkRules:
    """An external network's details are its provider's: only its name, description and comment change here."""

    FIXED = (("mtu", "MTU"), ("stp", "STP setting"), ("port_isolation", "port isolation"))

    def __init__(self, session: Session, network: Network) -> None:
        self.session = session
        self.network = network
        provider = session.get(Provider, network.external_provider_id)
        self.provider_name = provider.name if provider else "?"

    def update(self, given: NetworkInput) -> Iterable[Violation]:
        """What a change of the network breaks (a field given with its current value changes nothing)."""
        name = self.network.name
        if given.usages is not None and "vm" not in given.usages:
            yield Violation(f"An external network cannot be a non-VM network (network '{name}')", 409)
        for field, label in self.FIXED:
            value = getattr(given, field)
            if value is not None and value != getattr(self.network, field):
                yield Violation(self._fixed(label))
        if given.vlan is not None and parse_vlan(given.vlan)[0] != self.network.vlan_id:
            yield Violation(self._fixed("VLAN"))
        reference = given.external_provider
        if reference and not refers_to(reference.wire(), _Named(self.network.external_provider_id,
                                                                 self.provider_name)):  # fmt: skip
            yield Violation(f"The provider of external network '{name}' cannot be changed")

    def _fixed(self, label: str) -> str:
        return (f"The {label} of external network '{self.network.name}' comes from provider '{self.provider_name}' "
                "and cannot be changed here; only its name, description and comment can")  # fmt: skip


@dataclass(frozen=True)
class _Named:
    id: str | None
    name: str


def input_violations(given: NetworkInput) -> Iterable[Violation]:
    """Fields of <network> this collection does not take."""
    for field, value in (("cluster", given.cluster), ("required", given.required), ("display", given.display)):
        if value is not None:
            yield Violation(
                f"'{field}' is a property of a network in a cluster; set it through /clusters/{{id}}/networks", 400
            )
    if given.physical_network:
        yield Violation("Linking a network to a physical network is not supported yet", 400)
    if given.vnic_profiles:
        yield Violation("Create vNIC profiles through /networks/{id}/vnicprofiles, not inside the network", 400)
    for usage in given.usages or ():
        if usage != "vm":
            yield Violation(
                f"Usage '{usage}' is a role of a network in a cluster; set it through /clusters/{{id}}/networks", 400
            )


def resolve_data_center(session: Session, reference: Entity | None, path_dc: DataCenter | None) -> DataCenter:
    """The network's data center: the one of the path, or the one ``data_center`` names (by id or by name)."""
    if path_dc is not None:
        if reference and not refers_to(reference, path_dc):
            raise BadRequest(f"The data center given in the body is not data center '{path_dc.name}' of the path")
        return path_dc
    if not reference:
        raise BadRequest("A network needs a data center: give data_center by id or by name")
    dc: DataCenter = resolve(session, DataCenter, reference, "data center")
    return dc


def refers_to(reference: Entity, row: Any) -> bool:
    """Whether a reference (by id, else by name) points at ``row``."""
    if reference.get("id"):
        return str(reference["id"]).strip().lower() == row.id
    return reference.get("name") in (None, row.name)


class AddNetwork(Command[Network]):
    verb, noun = "add", "Network"

    def __init__(self, session: Session, given: NetworkInput, path_dc: DataCenter | None = None) -> None:
        super().__init__(session)
        self.given = given
        self.path_dc = path_dc
        self.dc: DataCenter | None = None

    def validate(self) -> Iterable[Violation]:
        given = self.given
        yield from input_violations(given)
        if given.openstack_subnet:
            yield Violation("A first subnet (openstack_subnet) can be given only with an external_provider", 400)
        try:
            self.dc = resolve_data_center(self.session, reference(given.data_center), self.path_dc)
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        lock_row(self.session, DataCenter, self.dc.id)  # the VLAN rule has no constraint behind it
        rules = NetworkRules(self.session, None)
        yield from rules.name(given.name, self.dc)
        yield from rules.vlan(given.vlan, self.dc)
        yield from rules.values(str(given.name), self.vm_network, bool(given.stp), bool(given.port_isolation),
                                given.mtu)  # fmt: skip

    @property
    def vm_network(self) -> bool:
        return True if self.given.usages is None else "vm" in self.given.usages

    def execute(self) -> Network:
        assert self.dc is not None
        given = self.given
        network = Network(
            name=given.name,
            description=given.description,
            comment=given.comment,
            data_center_id=self.dc.id,
            vlan_id=parse_vlan(given.vlan)[0],
            mtu=0 if given.mtu is None else given.mtu,
            stp=bool(given.stp),
            vm_network=self.vm_network,
            port_isolation=bool(given.port_isolation),
        )
        self.session.add(network)
        self.session.flush()
        # oVirt gives every new VM network a vNIC profile of its own name, unless asked not to
        if network.vm_network and given.profile_required is not False:
            self.session.add(VnicProfile(name=network.name, network_id=network.id))
        return network

    def integrity_message(self, error: IntegrityError) -> str:
        dc = self.dc.name if self.dc else "?"
        return f"network '{self.given.name}' already exists in data center '{dc}'."


class UpdateNetwork(Command[Network]):
    verb, noun = "update", "Network"

    def __init__(self, session: Session, network: Network, given: NetworkInput) -> None:
        super().__init__(session)
        self.network = network
        self.given = given

    def new(self, field: str) -> Any:
        """The field's value after the update: the given one, else the network's."""
        value = getattr(self.given, field)
        return getattr(self.network, field) if value is None else value

    @property
    def vm_network(self) -> bool:
        usages = self.given.usages
        return self.network.vm_network if usages is None else "vm" in usages

    def validate(self) -> Iterable[Violation]:
        given = self.given
        yield from input_violations(given)
        dc = self.network.data_center
        lock_row(self.session, DataCenter, dc.id)
        if given.data_center and not refers_to(given.data_center.wire(), dc):
            yield Violation(f"The data center of network '{self.network.name}' cannot be changed", 400)
        if given.openstack_subnet:
            yield Violation(f"Add subnets to network '{self.network.name}' through its provider's "
                            "/openstacknetworkproviders/{id}/networks/{id}/subnets", 400)  # fmt: skip
        if self.network.external_provider_id is not None:
            yield from ExternalNetworkRules(self.session, self.network).update(given)
            name = self.new("name")
            if name != self.network.name:
                yield from NetworkRules(self.session, self.network.id).name(name, dc)
            return
        if given.external_provider:
            yield Violation(f"Network '{self.network.name}' is not an external network; a provider cannot be set on "
                            "it (create a network with external_provider instead)", 400)  # fmt: skip
        rules = NetworkRules(self.session, self.network.id)
        name = self.new("name")
        if name != self.network.name:
            yield from rules.name(name, dc)
        if given.vlan is not None:
            yield from rules.vlan(given.vlan, dc)
        yield from rules.values(
            str(name), self.vm_network, self.new("stp"), self.new("port_isolation"), self.new("mtu")
        )
        if self.new("port_isolation") != self.network.port_isolation:
            yield Violation(f"Port isolation of network '{self.network.name}' cannot be changed after it is created")
        if self.network.vm_network and not self.vm_network:
            vms = vms_using_network(self.session, self.network.id)
            if vms:
                yield Violation(
                    f"Network '{self.network.name}' cannot become a non-VM network while VMs use it: {listing(vms)}"
                )

    def execute(self) -> Network:
        old_name = self.network.name
        for field in ("name", "description", "comment", "mtu", "stp", "port_isolation"):
            value = getattr(self.given, field)
            if value is not None:
                setattr(self.network, field, value)
        if self.given.vlan is not None:
            self.network.vlan_id = parse_vlan(self.given.vlan)[0]
        if self.network.vm_network and not self.vm_network:
            self.session.execute(delete(VnicProfile).where(VnicProfile.network_id == self.network.id))
        self.network.vm_network = self.vm_network
        if self.network.name != old_name:
            self._rename_default_profile(old_name)
        return self.network

    def _rename_default_profile(self, old_name: str) -> None:
        profiles = {
            p.name: p
            for p in self.session.scalars(select(VnicProfile).where(VnicProfile.network_id == self.network.id))
        }
        if old_name in profiles and self.network.name not in profiles:
            profiles[old_name].name = self.network.name

    def integrity_message(self, error: IntegrityError) -> str:
        return f"network '{self.given.name}' already exists in data center '{self.network.data_center.name}'."


class RemoveNetwork(Command[None]):
    verb, noun = "remove", "Network"

    def __init__(self, session: Session, network: Network) -> None:
        super().__init__(session)
        self.network = network

    def validate(self) -> Iterable[Violation]:
        clusters = management_clusters(self.session, self.network.id)
        if clusters:
            yield Violation(
                f"Network '{self.network.name}' is the management network of cluster(s) {listing(clusters)} and "
                "cannot be removed; make another network the management network there first"
            )
        vms = vms_using_network(self.session, self.network.id)
        if vms:
            yield Violation(
                f"Network '{self.network.name}' is used by vNICs of VM(s) {listing(vms)}; "
                "move those vNICs to another profile first"
            )

    def execute(self) -> None:
        network_id = self.network.id
        self.session.execute(delete(NetworkCluster).where(NetworkCluster.network_id == network_id))
        self.session.execute(delete(VnicProfile).where(VnicProfile.network_id == network_id))
        self.session.execute(delete(Network).where(Network.id == network_id))
