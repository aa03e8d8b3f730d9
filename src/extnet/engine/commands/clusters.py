"""Clusters and the networks attached to them, with their roles (oVirt's AddCluster, UpdateCluster, RemoveCluster,
AttachNetworkToCluster, UpdateNetworkOnCluster, DetachNetworkToCluster).

A role (management, display, migration, default_route, gluster) is held by at most one network of a cluster. As in
oVirt, giving a role to a network takes it from the network that had it, and display, migration and default_route
fall back to the management network when their network gives them up or is detached.

A cluster's other settings (memory, KSM, scheduling, migration, fencing, ...) are checked and written by
``cluster_settings.ClusterSettings``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.cluster_settings import TEXT_MAX, ClusterSettings, ClusterSettingsInput
from extnet.engine.commands.datacenters import Version
from extnet.engine.commands.inputs import Entity, Ref, reference, wire
from extnet.engine.commands.networks import listing, lock_row, refers_to
from extnet.engine.commands.provider_sync import NamedProviders
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store import inventory
from extnet.engine.store.models import Cluster, DataCenter, Host, MacPool, Network, NetworkCluster, Vm
from extnet.engine.store.queries import resolve

ROLES = ("management", "display", "migration", "default_route", "gluster")
FALLS_BACK_TO_MANAGEMENT = ("display", "migration", "default_route")
ARCHITECTURES = ("x86_64", "ppc64", "s390x", "undefined")
SUPPORTED_VERSIONS = [(4, minor) for minor in range(2, 8)]
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
FLAGS = (
    "virt_service",
    "gluster_service",
    "ballooning_enabled",
    "threads_as_cores",
    "trusted_service",
    "ha_reservation",
    "optional_reason",
    "maintenance_reason_required",
)
PLAIN_FIELDS = ("description", "comment", "switch_type", "firewall_type", *FLAGS)


@dataclass(frozen=True)
class Cpu:
    type: str | None = None
    architecture: str | None = None

    @classmethod
    def of(cls, value: Entity) -> Cpu:
        return cls(value.get("type"), value.get("architecture"))


@dataclass(frozen=True)
class ClusterInput(ClusterSettingsInput):
    """A ``<cluster>``: its identity, data center and networks, and its settings (``ClusterSettingsInput``)."""

    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    switch_type: str | None = wire()
    firewall_type: str | None = wire()
    virt_service: bool | None = wire()
    gluster_service: bool | None = wire()
    ballooning_enabled: bool | None = wire()
    threads_as_cores: bool | None = wire()
    trusted_service: bool | None = wire()
    ha_reservation: bool | None = wire()
    optional_reason: bool | None = wire()
    maintenance_reason_required: bool | None = wire()
    cpu: Cpu | None = wire(convert=Cpu.of)
    version: Version | None = wire(convert=Version.of)
    data_center: Ref | None = wire(convert=Ref.of)
    mac_pool: Ref | None = wire(convert=Ref.of)
    management_network: Ref | None = wire(convert=Ref.of)
    external_network_providers: tuple[Ref | None, ...] | None = wire(convert=Ref.of)

    def plain(self) -> dict[str, Any]:
        """The given values of ``PLAIN_FIELDS``."""
        return {field: value for field in PLAIN_FIELDS if (value := getattr(self, field)) is not None}


def hosts_of(session: Session, cluster_id: str) -> list[str]:
    return list(session.scalars(select(Host.name).where(Host.cluster_id == cluster_id).order_by(Host.name)))


def vms_of(session: Session, cluster_id: str) -> list[str]:
    return list(session.scalars(select(Vm.name).where(Vm.cluster_id == cluster_id).order_by(Vm.name)))


def roles_of(attachment: NetworkCluster) -> set[str]:
    return {role for role in ROLES if getattr(attachment, role)}


def requested_roles(usages: tuple[str, ...] | None, display: bool | None, current: set[str]) -> set[str]:
    """The roles a <network> asks for: ``usages`` (without the network-level 'vm') and the ``display`` flag (None:
    not given)."""
    roles = set(current)
    if usages is not None:
        roles = {usage for usage in usages if usage != "vm"}
    if display is not None:
        roles = roles | {"display"} if display else roles - {"display"}
    return roles


def attachments(session: Session, cluster_id: str) -> list[NetworkCluster]:
    return list(session.scalars(select(NetworkCluster).where(NetworkCluster.cluster_id == cluster_id)))


def management_attachment(session: Session, cluster_id: str) -> NetworkCluster | None:
    stmt = select(NetworkCluster).where(NetworkCluster.cluster_id == cluster_id, NetworkCluster.management.is_(True))
    return session.scalars(stmt.limit(1)).first()


def assign_role(session: Session, cluster_id: str, role: str, network_id: str | None) -> None:
    """Give ``role`` in the cluster to one network (None: to none), taking it from any other."""
    for attachment in attachments(session, cluster_id):
        setattr(attachment, role, attachment.network_id == network_id)


def lock_cluster(session: Session, cluster: Cluster) -> None:
    """Commands on a cluster's networks take turns: "one holder per role" has no database constraint behind it."""
    lock_row(session, Cluster, cluster.id)


def version_violations(version: Version | None, name: str, dc: DataCenter) -> Iterable[Violation]:
    if version is None:
        return
    pair = (version.major, version.minor)
    if pair not in SUPPORTED_VERSIONS:
        known = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_VERSIONS)
        yield Violation(
            f"Compatibility version {pair[0]}.{pair[1]} of cluster '{name}' is not supported; use one of {known}", 400
        )
    elif pair < (dc.version_major, dc.version_minor):
        yield Violation(
            f"Compatibility version {pair[0]}.{pair[1]} of cluster '{name}' is lower than version "
            f"{dc.version_major}.{dc.version_minor} of its data center '{dc.name}'"
        )


def architecture_of(cpu: Cpu | None) -> str | None:
    architecture = None if cpu is None else cpu.architecture
    return None if architecture is None else str(architecture).lower()


def cpu_violations(cpu: Cpu | None, name: str) -> Iterable[Violation]:
    architecture = architecture_of(cpu)
    if architecture is not None and architecture not in ARCHITECTURES:
        yield Violation(
            f"Unknown CPU architecture '{architecture[:40]}' for cluster '{name}'; expected one of "
            f"{', '.join(ARCHITECTURES)}",
            400,
        )
    cpu_type = None if cpu is None else cpu.type
    if cpu_type is not None and len(cpu_type) > TEXT_MAX:
        yield Violation(f"The CPU type of cluster '{name}' is longer than {TEXT_MAX} characters", 400)


def name_violations(session: Session, name: str | None, cluster_id: str | None) -> Iterable[Violation]:
    problem = name_problem(name, "cluster")
    if problem:
        yield Violation(problem, 400)
        return
    stmt = select(Cluster.id).where(Cluster.name == name)
    if cluster_id is not None:
        stmt = stmt.where(Cluster.id != cluster_id)
    if session.scalar(stmt.limit(1)) is not None:
        yield Violation(f"The cluster name '{name}' is already in use")


def network_in(session: Session, reference: Entity, dc: DataCenter) -> Network:
    """A network of ``dc`` referred to by id or by name; 400 if there is none."""
    network: Network = resolve(
        session, Network, reference, "network", lambda s: s.where(Network.data_center_id == dc.id)
    )
    return network


class AddCluster(Command[Cluster]):
    verb, noun = "add", "Cluster"

    def __init__(self, session: Session, given: ClusterInput, path_dc: DataCenter | None = None) -> None:
        super().__init__(session)
        self.given = given
        self.path_dc = path_dc
        self.dc: DataCenter | None = None
        self.mac_pool: MacPool | None = None
        self.management: Network | None = None
        self.settings = ClusterSettings(given, None, str(given.name))
        self.providers = NamedProviders(session, given.external_network_providers, str(given.name))

    def validate(self) -> Iterable[Violation]:
        name = self.given.name
        yield from name_violations(self.session, name, None)
        yield from cpu_violations(self.given.cpu, str(name))
        yield from self.settings.violations()
        yield from self.providers.violations()
        try:
            self.mac_pool = resolve(self.session, MacPool, reference(self.given.mac_pool), "MAC pool")
        except BadRequest as err:
            yield Violation(err.detail, 400)
        try:
            self.dc = self._data_center()
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        yield from version_violations(self.given.version, str(name), self.dc)
        try:
            self.management = self._management_network(self.dc)
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        if self.management.external_provider_id is not None:
            yield from external_role_violations(self.management.name, str(name), {"management"}, False)

    def _data_center(self) -> DataCenter:
        given = reference(self.given.data_center)
        if self.path_dc is not None:
            if given and not refers_to(given, self.path_dc):
                raise BadRequest(
                    f"The data center given in the body is not data center '{self.path_dc.name}' of the path"
                )
            return self.path_dc
        if not given:
            raise BadRequest("A cluster needs a data center: give data_center by id or by name")
        dc: DataCenter = resolve(self.session, DataCenter, given, "data center")
        return dc

    def _management_network(self, dc: DataCenter) -> Network:
        given = self.given.management_network
        if given:
            network = network_in(self.session, given.wire(), dc)
            if network.data_center_id != dc.id:
                raise BadRequest(f"The management network '{network.name}' is not a network of data center '{dc.name}'")
            return network
        stmt = select(Network).where(Network.data_center_id == dc.id, Network.name == inventory.MANAGEMENT_NETWORK)
        default = self.session.scalars(stmt.limit(1)).first()
        if default is None:
            raise BadRequest(
                f"Data center '{dc.name}' has no network named '{inventory.MANAGEMENT_NETWORK}'; name the "
                "cluster's management network in management_network"
            )
        return default

    def execute(self) -> Cluster:
        assert self.dc is not None and self.management is not None
        given = self.given
        major, minor = LATEST_VERSION if given.version is None else given.version.numbers()
        cluster = Cluster(
            name=given.name,
            data_center_id=self.dc.id,
            cpu_type=None if given.cpu is None else given.cpu.type,
            cpu_architecture=architecture_of(given.cpu) or "x86_64",
            version_major=major,
            version_minor=minor,
            mac_pool_id=self.mac_pool.id if self.mac_pool else self.dc.mac_pool_id,
            **given.plain(),
        )
        self.settings.apply(cluster)
        self.session.add(cluster)
        self.session.flush()
        self.providers.apply(cluster.id)
        self.session.add(
            NetworkCluster(
                network_id=self.management.id,
                cluster_id=cluster.id,
                required=True,
                management=True,
                display=True,
                migration=True,
                default_route=True,
            )
        )
        return cluster

    def integrity_message(self, error: IntegrityError) -> str:
        return f"The cluster name '{self.given.name}' is already in use."


class UpdateCluster(Command[Cluster]):
    verb, noun = "update", "Cluster"

    def __init__(self, session: Session, cluster: Cluster, given: ClusterInput) -> None:
        super().__init__(session)
        self.cluster = cluster
        self.given = given
        self.mac_pool: MacPool | None = None
        self.settings = ClusterSettings(given, cluster, cluster.name)
        self.providers = NamedProviders(session, given.external_network_providers, cluster.name)

    def validate(self) -> Iterable[Violation]:
        cluster, dc, given = self.cluster, self.cluster.data_center, self.given
        yield from self.providers.violations()
        if given.name is not None and given.name != cluster.name:
            yield from name_violations(self.session, given.name, cluster.id)
        if given.data_center and not refers_to(given.data_center.wire(), dc):
            yield Violation(f"The data center of cluster '{cluster.name}' cannot be changed", 400)
        yield from cpu_violations(given.cpu, cluster.name)
        yield from self.settings.violations()
        yield from version_violations(given.version, cluster.name, dc)
        yield from self._architecture_violations()
        yield from self._management_violations(dc)
        try:
            self.mac_pool = resolve(self.session, MacPool, reference(given.mac_pool), "MAC pool")
        except BadRequest as err:
            yield Violation(err.detail, 400)

    def _architecture_violations(self) -> Iterable[Violation]:
        architecture = architecture_of(self.given.cpu)
        if architecture is None or architecture == self.cluster.cpu_architecture:
            return
        users = hosts_of(self.session, self.cluster.id) + vms_of(self.session, self.cluster.id)
        if users:
            yield Violation(
                f"The CPU architecture of cluster '{self.cluster.name}' cannot change while it has hosts "
                f"or VMs ({listing(users)})"
            )

    def _management_violations(self, dc: DataCenter) -> Iterable[Violation]:
        given = self.given.management_network
        if not given:
            return
        try:
            network = network_in(self.session, given.wire(), dc)
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        current = management_attachment(self.session, self.cluster.id)
        if current is None or current.network_id != network.id:
            yield Violation(
                f"Give the management role of cluster '{self.cluster.name}' to network '{network.name}' "
                f"through /clusters/{self.cluster.id}/networks",
                400,
            )

    def execute(self) -> Cluster:
        cluster = self.cluster
        given = self.given
        for field, value in (("name", given.name), *given.plain().items()):
            if value is not None:
                setattr(cluster, field, value)
        if given.cpu is not None and given.cpu.type is not None:
            cluster.cpu_type = given.cpu.type
        cluster.cpu_architecture = architecture_of(given.cpu) or cluster.cpu_architecture
        if given.version is not None:
            cluster.version_major, cluster.version_minor = given.version.numbers()
        if self.mac_pool is not None:
            cluster.mac_pool_id = self.mac_pool.id
        self.settings.apply(cluster)
        self.providers.apply(cluster.id)
        return cluster

    def integrity_message(self, error: IntegrityError) -> str:
        return f"The cluster name '{self.given.name}' is already in use."


class RemoveCluster(Command[None]):
    verb, noun = "remove", "Cluster"

    def __init__(self, session: Session, cluster: Cluster) -> None:
        super().__init__(session)
        self.cluster = cluster

    def validate(self) -> Iterable[Violation]:
        hosts = hosts_of(self.session, self.cluster.id)
        if hosts:
            yield Violation(
                f"Cluster '{self.cluster.name}' still has hosts ({listing(hosts)}); remove them or move "
                "them to another cluster first"
            )
        vms = vms_of(self.session, self.cluster.id)
        if vms:
            yield Violation(f"Cluster '{self.cluster.name}' still has VMs ({listing(vms)}); remove them first")

    def execute(self) -> None:
        self.session.execute(delete(NetworkCluster).where(NetworkCluster.cluster_id == self.cluster.id))
        self.session.delete(self.cluster)


# The roles an external network cannot have: hosts do not carry it (its provider does), so nothing the engine or a
# host needs may depend on it. extnet also refuses migration, which oVirt let through.


EXTERNAL_FORBIDDEN_ROLES = {
    "management": "management network",
    "display": "display network",
    "migration": "migration network",
    "default_route": "default route network",
}


def external_role_violations(network: str, cluster: str, added: set[str], required: bool) -> Iterable[Violation]:
    for role, label in EXTERNAL_FORBIDDEN_ROLES.items():
        if role in added:
            yield Violation(f"External network '{network}' cannot be the {label} of cluster '{cluster}'")
    if required:
        yield Violation(
            f"External network '{network}' cannot be required in cluster '{cluster}': its hosts do not provide it, "
            "its provider does"
        )
