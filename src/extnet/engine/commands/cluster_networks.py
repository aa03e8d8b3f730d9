"""A cluster's networks: attaching a network to a cluster, changing its roles there, detaching it (oVirt's
``/clusters/{id}/networks``), with the rules on roles and on external networks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.clusters import (
    FALLS_BACK_TO_MANAGEMENT,
    ROLES,
    assign_role,
    external_role_violations,
    hosts_of,
    lock_cluster,
    management_attachment,
    network_in,
    requested_roles,
    roles_of,
)
from extnet.engine.commands.inputs import wire
from extnet.engine.commands.networks import listing, refers_to, vms_using_network
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import Cluster, DataCenter, Network, NetworkCluster
from extnet.engine.store.queries import resolve


@dataclass(frozen=True)
class ClusterNetworkInput:
    """A ``<network>`` given to ``/clusters/{id}/networks``: the network (by id or by name) and its roles there."""

    id: str | None = wire()
    name: str | None = wire()
    required: bool | None = wire()
    display: bool | None = wire()
    usages: tuple[str, ...] | None = wire()

    def roles(self, current: set[str]) -> set[str]:
        """The roles asked for over ``current``."""
        return requested_roles(self.usages, self.display, current)


class RoleRules:
    """The rules on roles shared by attaching a network to a cluster and updating the attachment."""

    def __init__(self, session: Session, cluster: Cluster, network: Network) -> None:
        self.session = session
        self.cluster = cluster
        self.network = network

    def check(self, old: set[str], new: set[str], required: bool) -> Iterable[Violation]:
        cluster, network = self.cluster.name, self.network.name
        if self.network.external_provider_id is not None:
            external = list(external_role_violations(network, cluster, new - old, required))
            if external:  # the other role rules would only add noise to these
                yield from external
                return
        if "management" in new and "management" not in old:
            hosts = hosts_of(self.session, self.cluster.id)
            if hosts:
                yield Violation(
                    f"The management network of cluster '{cluster}' can change only while the cluster has "
                    f"no hosts (it has {listing(hosts)})"
                )
        if "management" in new and not required:
            yield Violation(
                f"Network '{network}' is the management network of cluster '{cluster}', so it must be required", 400
            )
        if "management" in old and "management" not in new:
            yield Violation(
                f"Network '{network}' is the management network of cluster '{cluster}'; to change that, "
                "give the management role to another network"
            )
        if "management" in old:
            for role in sorted((old - new) & set(FALLS_BACK_TO_MANAGEMENT)):
                yield Violation(
                    f"The {role} role of cluster '{cluster}' falls back to its management network "
                    f"'{network}'; give the role to another network instead"
                )

    def apply(self, attachment: NetworkCluster, old: set[str], new: set[str]) -> None:
        for role in sorted(new - old, key=ROLES.index):  # management first: fallbacks below go to the new one
            assign_role(self.session, self.cluster.id, role, self.network.id)
        management = management_attachment(self.session, self.cluster.id)
        for role in old - new:
            fallback = management.network_id if management and role in FALLS_BACK_TO_MANAGEMENT else None
            assign_role(self.session, self.cluster.id, role, fallback)


class AttachNetwork(Command[NetworkCluster]):
    verb, noun = "attach", "Network"

    def __init__(self, session: Session, cluster: Cluster, given: ClusterNetworkInput) -> None:
        super().__init__(session)
        self.cluster = cluster
        self.given = given
        self.network: Network | None = None

    @property
    def required(self) -> bool:
        if self.given.required is not None:
            return self.given.required
        # by default a network is required in the cluster, an external network is not
        return self.network is None or self.network.external_provider_id is None

    def validate(self) -> Iterable[Violation]:
        lock_cluster(self.session, self.cluster)
        dc = self.cluster.data_center
        try:
            self.network = self._network(dc)
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        network = self.network
        if network.data_center_id != dc.id:
            yield Violation(
                f"Network '{network.name}' belongs to data center '{network.data_center.name}', but "
                f"cluster '{self.cluster.name}' is in data center '{dc.name}'"
            )
            return
        if self.session.get(NetworkCluster, (network.id, self.cluster.id)) is not None:
            yield Violation(f"Network '{network.name}' is already attached to cluster '{self.cluster.name}'")
            return
        rules = RoleRules(self.session, self.cluster, network)
        yield from rules.check(set(), self.given.roles(set()), self.required)

    def _network(self, dc: DataCenter) -> Network:
        given = self.given
        if not given.id and not given.name:
            raise BadRequest(f"Give the network to attach to cluster '{self.cluster.name}' by id or by name")
        if given.id:
            network: Network = resolve(self.session, Network, {"id": given.id}, "network")
            return network
        return network_in(self.session, {"name": given.name}, dc)

    def execute(self) -> NetworkCluster:
        assert self.network is not None
        attachment = NetworkCluster(
            network_id=self.network.id,
            cluster_id=self.cluster.id,
            required=self.required,
            **{role: False for role in ROLES},
        )
        self.session.add(attachment)
        self.session.flush()
        RoleRules(self.session, self.cluster, self.network).apply(attachment, set(), self.given.roles(set()))
        return attachment

    def integrity_message(self, error: IntegrityError) -> str:
        name = self.network.name if self.network else "?"
        return f"Network '{name}' is already attached to cluster '{self.cluster.name}'."


class UpdateNetworkOnCluster(Command[NetworkCluster]):
    verb, noun = "update", "Network"

    def __init__(self, session: Session, cluster: Cluster, attachment: NetworkCluster,
                 given: ClusterNetworkInput) -> None:  # fmt: skip
        super().__init__(session)
        self.cluster = cluster
        self.attachment = attachment
        self.given = given
        self.network = session.get(Network, attachment.network_id)
        self.old = roles_of(attachment)
        self.new = given.roles(self.old)

    @property
    def required(self) -> bool:
        return bool(self.attachment.required if self.given.required is None else self.given.required)

    def validate(self) -> Iterable[Violation]:
        assert self.network is not None
        lock_cluster(self.session, self.cluster)
        if self.given.id and not refers_to({"id": self.given.id}, self.network):
            yield Violation(f"The body names another network than '{self.network.name}' of the path", 400)
        if self.given.name not in (None, self.network.name):
            yield Violation(
                f"Rename network '{self.network.name}' through /networks/{self.network.id}, not through "
                f"cluster '{self.cluster.name}'",
                400,
            )
        yield from RoleRules(self.session, self.cluster, self.network).check(self.old, self.new, self.required)

    def execute(self) -> NetworkCluster:
        assert self.network is not None
        self.attachment.required = self.required
        RoleRules(self.session, self.cluster, self.network).apply(self.attachment, self.old, self.new)
        return self.attachment


class DetachNetwork(Command[None]):
    verb, noun = "detach", "Network"

    def __init__(self, session: Session, cluster: Cluster, attachment: NetworkCluster) -> None:
        super().__init__(session)
        self.cluster = cluster
        self.attachment = attachment
        network = session.get(Network, attachment.network_id)
        assert network is not None
        self.network = network

    def validate(self) -> Iterable[Violation]:
        lock_cluster(self.session, self.cluster)
        name = self.network.name
        if self.attachment.management:
            yield Violation(
                f"Network '{name}' is the management network of cluster '{self.cluster.name}' and cannot "
                "be detached from it"
            )
        vms = vms_using_network(self.session, self.network.id, self.cluster.id)
        if vms:
            yield Violation(
                f"Network '{name}' is used by vNICs of VM(s) {listing(vms)} in cluster '{self.cluster.name}'"
            )

    def execute(self) -> None:
        roles = roles_of(self.attachment)
        self.session.delete(self.attachment)
        self.session.flush()
        management = management_attachment(self.session, self.cluster.id)
        for role in roles & set(FALLS_BACK_TO_MANAGEMENT):
            assign_role(self.session, self.cluster.id, role, management.network_id if management else None)
