"""External networks: importing a provider's network into a data center (oVirt's ImportExternalNetwork), the checks
before a network is created on or removed from its provider (AddNetworkOnProvider, RemoveNetwork with
removeFromNetworkProvider), and the checks of a subnet before it is sent to the provider (AddSubnetToProvider).

Provider calls happen outside these commands: the checks run before them, and the import after them, each in its
own short transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.external_subnets import SubnetInput, subnet_values, subnet_violations
from extnet.engine.commands.inputs import Ref, reference, wire
from extnet.engine.commands.networks import (
    NetworkInput,
    NetworkRules,
    RemoveNetwork,
    input_violations,
    listing,
    lock_row,
    parse_vlan,
    resolve_data_center,
)
from extnet.engine.domain.rules import mtu_problem, name_problem, vlan_problem
from extnet.engine.errors import BadRequest
from extnet.engine.providers.neutron import ProviderNetwork
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Cluster, DataCenter, Network, NetworkCluster, Provider, VnicProfile
from extnet.engine.store.queries import resolve

Entity = dict[str, Any]

NOT_VM_NETWORK = "An external network cannot be a non-VM network"


def read_only_violation(provider: Provider, what: str) -> Violation | None:
    if provider.read_only:
        return Violation(f"Provider '{provider.name}' is read-only: {what} cannot be changed on it")
    return None


def imported_copy(session: Session, data_center_id: str, provider_id: str, external_id: str) -> Network | None:
    """The network of ``data_center_id`` imported from that provider network, if any."""
    stmt = select(Network).where(
        Network.data_center_id == data_center_id,
        Network.external_provider_id == provider_id,
        Network.external_id == external_id,
    )
    return session.scalars(stmt.limit(1)).first()


def imported_into(session: Session, provider_id: str) -> dict[str, list[str]]:
    """external id -> ids of the data centers it is imported into, for every network of the provider."""
    stmt = (
        select(Network.external_id, Network.data_center_id)
        .where(Network.external_provider_id == provider_id)
        .order_by(Network.data_center_id)
    )
    found: dict[str, list[str]] = {}
    for external_id, dc_id in session.execute(stmt):
        found.setdefault(str(external_id), []).append(dc_id)
    return found


def engine_copies(session: Session, provider_id: str) -> list[ProviderNetwork]:
    """The networks of an unmanaged provider as the engine knows them (it never asks the provider)."""
    stmt = select(Network).where(Network.external_provider_id == provider_id).order_by(Network.name, Network.id)
    found: dict[str, ProviderNetwork] = {}
    for network in session.scalars(stmt):
        if network.external_id and network.external_id not in found:
            found[network.external_id] = as_provider_network(network)
    return list(found.values())


def as_provider_network(network: Network) -> ProviderNetwork:
    return ProviderNetwork(
        id=str(network.external_id),
        name=network.name,
        description=network.description or "",
        mtu=network.mtu or None,
        network_type="vlan" if network.vlan_id is not None else None,
        physical_network=network.provider_physical_network,
        segmentation_id=network.vlan_id,
        project_id=None,
    )


@dataclass(frozen=True)
class ImportInput:
    """The options of a provider network's ``import`` action."""

    data_center: Ref | None = wire(convert=Ref.of)
    attach_to_all_clusters: bool | None = wire()
    public_use: bool | None = wire()


@dataclass(frozen=True)
class ImportOptions:
    attach_to_all_clusters: bool = False
    # extnet has no per-object permissions: every vNIC profile is usable by every user, as a public one is in oVirt
    public_use: bool = False
    description: str | None = None  # None: the provider's
    comment: str | None = None
    created_on_provider: bool = False  # the network was just created there (another event than an import)
    by_sync: bool = False  # the synchronization of the provider imports it (said in the event)


class ImportExternalNetwork(Command[Network]):
    """Bring a provider's network into a data center as a VM network with a vNIC profile of its name."""

    verb, noun = "import", "Network"

    def __init__(
        self,
        session: Session,
        provider: Provider,
        source: ProviderNetwork,
        data_center: Ref | None,
        options: ImportOptions | None = None,
    ) -> None:
        super().__init__(session)
        self.provider = provider
        self.source = source
        self.data_center = data_center
        self.options = options or ImportOptions()
        self.dc: DataCenter | None = None
        self.dc_name = "?"
        self.provider_name = provider.name
        if self.options.created_on_provider:
            self.verb = "add"

    def validate(self) -> Iterable[Violation]:
        try:
            self.dc = import_target(self.session, self.data_center, self.source)
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        dc, source, provider = self.dc, self.source, self.provider
        self.dc_name = dc.name  # for integrity_message: after a failed flush the session cannot load it
        lock_row(self.session, DataCenter, dc.id)  # concurrent imports into one data center take turns
        copy = imported_copy(self.session, dc.id, provider.id, source.id)
        if copy is not None:
            yield Violation(
                f"network '{source.name}' is already imported into data center '{dc.name}' as '{copy.name}'"
            )
            return
        problem = name_problem(source.name, "network")
        if problem:
            yield Violation(f"{problem}; rename network {source.id} on provider '{provider.name}' first")
        elif self._named(source.name, dc) is not None and self.options.created_on_provider:
            yield Violation(f"network '{source.name}' already exists in data center '{dc.name}'")
        elif self._named(source.name, dc) is not None:
            yield Violation(
                f"data center '{dc.name}' already has a network named '{source.name}'; rename that network first "
                f"to bring in network {source.id} of provider '{provider.name}'"
            )
        for problem in (mtu_problem(source.mtu), vlan_problem(source.vlan_id)):
            if problem:
                yield Violation(f"{problem} (network '{source.name}' of provider '{provider.name}')")

    def _named(self, name: str, dc: DataCenter) -> Network | None:
        stmt = select(Network).where(Network.data_center_id == dc.id, Network.name == name)
        return self.session.scalars(stmt.limit(1)).first()

    def execute(self) -> Network:
        assert self.dc is not None
        source, options = self.source, self.options
        network = Network(
            name=source.name,
            description=options.description if options.description is not None else source.description or None,
            comment=options.comment,
            data_center_id=self.dc.id,
            vlan_id=source.vlan_id,
            mtu=source.mtu or 0,
            stp=False,
            vm_network=True,
            port_isolation=False,
            external_provider_id=self.provider.id,
            external_id=source.id,
            provider_physical_network=source.physical_network,
        )
        self.session.add(network)
        self.session.flush()
        self.session.add(VnicProfile(name=network.name, network_id=network.id))
        if options.attach_to_all_clusters:
            self._attach_everywhere(network)
        self._record(network)
        return network

    def _attach_everywhere(self, network: Network) -> None:
        clusters = select(Cluster.id).where(Cluster.data_center_id == network.data_center_id)
        attach_to_clusters(self.session, network, list(self.session.scalars(clusters)))

    def _record(self, network: Network) -> None:
        assert self.dc is not None
        if self.options.created_on_provider:
            code = Code.NETWORK_ADDED_ON_PROVIDER
            text = f"Network {network.name} was created on provider {self.provider.name} and added to data center"
        else:
            code = Code.NETWORK_IMPORT_EXTERNAL_NETWORK
            text = f"Network {network.name} was imported from provider {self.provider.name} into data center"
        reason = " by the synchronization of the provider" if self.options.by_sync else ""
        record(
            self.session,
            code,
            f"{text} {self.dc.name}{reason}.",
            provider_id=self.provider.id,
            data_center_id=self.dc.id,
            network_id=network.id,
        )

    def integrity_message(self, error: IntegrityError) -> str:
        # only plain values here: the failed flush expired every row of the session
        dc, name = self.dc_name, self.source.name
        if "external_id" in str(error.orig) or "uq_networks_dc_external" in str(error.orig):
            return f"network '{name}' of provider '{self.provider_name}' is already imported into data center '{dc}'."
        return f"network '{name}' already exists in data center '{dc}': it was added or imported at the same time."


def attach_to_clusters(session: Session, network: Network, cluster_ids: Iterable[str]) -> None:
    """Attach an external network to clusters as it may be: not required, without any role."""
    for cluster_id in cluster_ids:
        roles = dict.fromkeys(("display", "migration", "management", "default_route", "gluster"), False)
        session.add(NetworkCluster(network_id=network.id, cluster_id=cluster_id, required=False, **roles))


def import_target(session: Session, data_center: Ref | None, source: ProviderNetwork) -> DataCenter:
    if data_center is None:
        raise BadRequest(f"Give the data center to import network '{source.name}' into: data_center by id or by name")
    return resolve_data_center(session, data_center.wire(), None)


def provider_of(session: Session, reference: Entity) -> Provider:
    provider: Provider = resolve(session, Provider, reference, "provider")
    return provider


@dataclass
class NetworkOnProvider:
    """What creating a network on a provider needs, checked before the provider is called."""

    data_center_id: str
    provider_id: str
    name: str
    mtu: int | None
    subnet: Entity | None  # Neutron's fields of the first subnet


class CheckNetworkOnProvider(Command[NetworkOnProvider]):
    """Every rule of ``POST /networks`` with an ``external_provider``, checked before the provider is called."""

    verb, noun = "add", "Network"

    def __init__(self, session: Session, given: NetworkInput, path_dc: DataCenter | None) -> None:
        super().__init__(session)
        self.given = given
        self.path_dc = path_dc
        self.dc: DataCenter | None = None
        self.provider: Provider | None = None

    def validate(self) -> Iterable[Violation]:
        given = self.given
        name = str(given.name)
        yield from input_violations(given)
        yield from self._value_violations(name)
        if given.openstack_subnet is not None:
            yield from subnet_violations(given.openstack_subnet)
        assert given.external_provider is not None  # a network without one is added by AddNetwork
        try:
            self.provider = provider_of(self.session, given.external_provider.wire())
        except BadRequest as err:
            yield Violation(err.detail, 400)
        else:
            violation = read_only_violation(self.provider, "networks")
            if violation:
                yield violation
            if self.provider.unmanaged and given.openstack_subnet is not None:
                yield Violation(f"Provider '{self.provider.name}' is unmanaged: extnet never calls it, so it cannot "
                                f"create a subnet of network '{name}' there")  # fmt: skip
        try:
            self.dc = resolve_data_center(self.session, reference(given.data_center), self.path_dc)
        except BadRequest as err:
            yield Violation(err.detail, 400)
        else:
            yield from NetworkRules(self.session, None).name(given.name, self.dc)

    def _value_violations(self, name: str) -> Iterable[Violation]:
        given = self.given
        if given.usages is not None and "vm" not in given.usages:
            yield Violation(f"{NOT_VM_NETWORK} (network '{name}')", 400)
        problem = mtu_problem(given.mtu)
        if problem:
            yield Violation(f"{problem} (network '{name}')", 400)
        if parse_vlan(given.vlan)[0] is not None:
            yield Violation(
                f"The VLAN of network '{name}' is chosen by its provider; create a VLAN network on the provider "
                "and import it instead",
                400,
            )
        if given.stp:
            yield Violation(f"STP cannot be enabled on external network '{name}'", 400)
        if given.port_isolation:
            yield Violation(f"Port isolation is not supported on external network '{name}'", 400)

    def execute(self) -> NetworkOnProvider:
        assert self.dc is not None and self.provider is not None
        subnet = self.given.openstack_subnet
        assert self.given.name is not None  # NetworkRules.name found it
        return NetworkOnProvider(
            data_center_id=self.dc.id,
            provider_id=self.provider.id,
            name=self.given.name,
            mtu=self.given.mtu or None,
            subnet=subnet_values(subnet) if subnet is not None else None,
        )


class CheckRemovalFromProvider(Command[None]):
    """The rules of removing a network from its provider too (the local removal's among them), checked before the
    provider is called."""

    verb, noun = "remove", "Network"

    def __init__(self, session: Session, network: Network) -> None:
        super().__init__(session)
        self.network = network

    def validate(self) -> Iterable[Violation]:
        network = self.network
        if network.external_provider_id is None:
            yield Violation(
                f"Network '{network.name}' is not an external network, so it has no provider to be removed from", 400
            )
            return
        provider = self.session.get(Provider, network.external_provider_id)
        assert provider is not None
        violation = read_only_violation(provider, "networks")
        if violation:
            yield violation
        if provider.unmanaged:
            yield Violation(
                f"Provider '{provider.name}' is unmanaged: extnet never calls it, so it cannot remove "
                f"network '{network.name}' from it; remove the network without remove_from_provider"
            )
        others = self._other_copies()
        if others:
            yield Violation(
                f"network '{network.name}' of provider '{provider.name}' is also imported into data center(s) "
                f"{listing(others)}; remove it there first, or remove it only from this data center"
            )
        yield from RemoveNetwork(self.session, network).validate()

    def _other_copies(self) -> list[str]:
        stmt = (
            select(DataCenter.name)
            .join(Network, Network.data_center_id == DataCenter.id)
            .where(
                Network.external_provider_id == self.network.external_provider_id,
                Network.external_id == self.network.external_id,
                Network.id != self.network.id,
            )
            .order_by(DataCenter.name)
        )
        return [f"'{name}'" for name in self.session.scalars(stmt)]

    def execute(self) -> None:
        return None


class CheckSubnetWrite(Command[None]):
    """A subnet may be added to (or removed from) a provider's network: the provider is writable, and the subnet
    (when adding) is valid."""

    def __init__(self, session: Session, provider: Provider, given: SubnetInput | None, verb: str) -> None:
        super().__init__(session)
        self.provider = provider
        self.given = given  # None: removing
        self.verb, self.noun = verb, "Subnet"

    def validate(self) -> Iterable[Violation]:
        if self.given is not None:
            yield from subnet_violations(self.given)
        violation = read_only_violation(self.provider, "subnets")
        if violation:
            yield violation

    def execute(self) -> None:
        return None


# --- subnets -------------------------------------------------------------------------------------------------------
