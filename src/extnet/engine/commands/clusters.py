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
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.cluster_settings import TEXT_MAX, ClusterSettings
from extnet.engine.commands.networks import listing, lock_row, refers_to
from extnet.engine.commands.provider_sync import NamedProviders
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store import inventory
from extnet.engine.store.models import Cluster, DataCenter, Host, MacPool, Network, NetworkCluster, Vm
from extnet.engine.store.queries import resolve

Entity = dict[str, Any]

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


def hosts_of(session: Session, cluster_id: str) -> list[str]:
    return list(session.scalars(select(Host.name).where(Host.cluster_id == cluster_id).order_by(Host.name)))


def vms_of(session: Session, cluster_id: str) -> list[str]:
    return list(session.scalars(select(Vm.name).where(Vm.cluster_id == cluster_id).order_by(Vm.name)))


def roles_of(attachment: NetworkCluster) -> set[str]:
    return {role for role in ROLES if getattr(attachment, role)}


def requested_roles(body: Entity, current: set[str]) -> set[str]:
    """The roles a <network> body asks for: ``usages`` (without the network-level 'vm') and the ``display`` flag."""
    roles = set(current)
    if "usages" in body:
        roles = {usage for usage in body["usages"] if usage != "vm"}
    if "display" in body:
        roles = roles | {"display"} if body["display"] else roles - {"display"}
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


def version_violations(body: Entity, name: str, dc: DataCenter) -> Iterable[Violation]:
    version = body.get("version")
    if not version:
        return
    pair = (version.get("major"), version.get("minor"))
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


def architecture_of(body: Entity) -> str | None:
    architecture = (body.get("cpu") or {}).get("architecture")
    return None if architecture is None else str(architecture).lower()


def cpu_violations(body: Entity, name: str) -> Iterable[Violation]:
    architecture = architecture_of(body)
    if architecture is not None and architecture not in ARCHITECTURES:
        yield Violation(
            f"Unknown CPU architecture '{architecture[:40]}' for cluster '{name}'; expected one of "
            f"{', '.join(ARCHITECTURES)}",
            400,
        )
    cpu_type = (body.get("cpu") or {}).get("type")
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

    def __init__(self, session: Session, body: Entity, path_dc: DataCenter | None = None) -> None:
        super().__init__(session)
        self.body = body
        self.path_dc = path_dc
        self.dc: DataCenter | None = None
        self.mac_pool: MacPool | None = None
        self.management: Network | None = None
        self.settings = ClusterSettings(body, None, str(body.get("name")))
        self.providers = NamedProviders(session, body, str(body.get("name")))

    def validate(self) -> Iterable[Violation]:
        name = self.body.get("name")
        yield from name_violations(self.session, name, None)
        yield from cpu_violations(self.body, str(name))
        yield from self.settings.violations()
        yield from self.providers.violations()
        try:
            self.mac_pool = resolve(self.session, MacPool, self.body.get("mac_pool"), "MAC pool")
        except BadRequest as err:
            yield Violation(err.detail, 400)
        try:
            self.dc = self._data_center()
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        yield from version_violations(self.body, str(name), self.dc)
        try:
            self.management = self._management_network(self.dc)
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        if self.management.external_provider_id is not None:
            yield from external_role_violations(self.management.name, str(name), {"management"}, False)

    def _data_center(self) -> DataCenter:
        reference = self.body.get("data_center")
        if self.path_dc is not None:
            if reference and not refers_to(reference, self.path_dc):
                raise BadRequest(
                    f"The data center given in the body is not data center '{self.path_dc.name}' of the path"
                )
            return self.path_dc
        if not reference:
            raise BadRequest("A cluster needs a data center: give data_center by id or by name")
        dc: DataCenter = resolve(self.session, DataCenter, reference, "data center")
        return dc

    def _management_network(self, dc: DataCenter) -> Network:
        reference = self.body.get("management_network")
        if reference:
            network = network_in(self.session, reference, dc)
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
        version = self.body.get("version") or {}
        cluster = Cluster(
            name=self.body["name"],
            data_center_id=self.dc.id,
            cpu_type=(self.body.get("cpu") or {}).get("type"),
            cpu_architecture=architecture_of(self.body) or "x86_64",
            version_major=version.get("major", LATEST_VERSION[0]),
            version_minor=version.get("minor", LATEST_VERSION[1]),
            mac_pool_id=self.mac_pool.id if self.mac_pool else self.dc.mac_pool_id,
            **{field: self.body[field] for field in PLAIN_FIELDS if field in self.body},
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
        return f"The cluster name '{self.body.get('name')}' is already in use."


class UpdateCluster(Command[Cluster]):
    verb, noun = "update", "Cluster"

    def __init__(self, session: Session, cluster: Cluster, body: Entity) -> None:
        super().__init__(session)
        self.cluster = cluster
        self.body = body
        self.mac_pool: MacPool | None = None
        self.settings = ClusterSettings(body, cluster, cluster.name)
        self.providers = NamedProviders(session, body, cluster.name)

    def validate(self) -> Iterable[Violation]:
        cluster, dc = self.cluster, self.cluster.data_center
        yield from self.providers.violations()
        if "name" in self.body and self.body["name"] != cluster.name:
            yield from name_violations(self.session, self.body["name"], cluster.id)
        if self.body.get("data_center") and not refers_to(self.body["data_center"], dc):
            yield Violation(f"The data center of cluster '{cluster.name}' cannot be changed", 400)
        yield from cpu_violations(self.body, cluster.name)
        yield from self.settings.violations()
        yield from version_violations(self.body, cluster.name, dc)
        yield from self._architecture_violations()
        yield from self._management_violations(dc)
        try:
            self.mac_pool = resolve(self.session, MacPool, self.body.get("mac_pool"), "MAC pool")
        except BadRequest as err:
            yield Violation(err.detail, 400)

    def _architecture_violations(self) -> Iterable[Violation]:
        architecture = architecture_of(self.body)
        if architecture is None or architecture == self.cluster.cpu_architecture:
            return
        users = hosts_of(self.session, self.cluster.id) + vms_of(self.session, self.cluster.id)
        if users:
            yield Violation(
                f"The CPU architecture of cluster '{self.cluster.name}' cannot change while it has hosts "
                f"or VMs ({listing(users)})"
            )

    def _management_violations(self, dc: DataCenter) -> Iterable[Violation]:
        reference = self.body.get("management_network")
        if not reference:
            return
        try:
            network = network_in(self.session, reference, dc)
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
        for field in ("name", *PLAIN_FIELDS):
            if field in self.body:
                setattr(cluster, field, self.body[field])
        cpu = self.body.get("cpu") or {}
        if "type" in cpu:
            cluster.cpu_type = cpu["type"]
        cluster.cpu_architecture = architecture_of(self.body) or cluster.cpu_architecture
        version = self.body.get("version")
        if version:
            cluster.version_major, cluster.version_minor = version["major"], version["minor"]
        if self.mac_pool is not None:
            cluster.mac_pool_id = self.mac_pool.id
        self.settings.apply(cluster)
        self.providers.apply(cluster.id)
        return cluster

    def integrity_message(self, error: IntegrityError) -> str:
        return f"The cluster name '{self.body.get('name')}' is already in use."


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
