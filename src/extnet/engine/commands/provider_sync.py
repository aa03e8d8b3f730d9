"""Synchronizing a provider's networks into the engine (oVirt's SyncNetworkProvider), and the providers a cluster
names in its ``external_network_providers``.

``ApplySync`` is the engine's half of a sync: given the networks the provider has now (read outside any
transaction), it imports those new on the provider into every data center that has a cluster naming the provider and
attaches them to those clusters, applies name, description, MTU, VLAN and physical network changes to every copy,
and marks copies whose network is gone from the provider (``missing_on_provider``), unplugging their vNICs. Each
change is an event; a change that cannot be made (a name taken in the data center, an invalid MTU) is skipped with
a warning event, and the rest of the sync goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation, run
from extnet.engine.commands.external_networks import ImportExternalNetwork, ImportOptions, attach_to_clusters
from extnet.engine.commands.inputs import Ref, reference
from extnet.engine.commands.networks import NetworkInput, UpdateNetwork, listing, lock_row
from extnet.engine.domain.rules import mtu_problem, vlan_problem
from extnet.engine.errors import BadRequest, Fault
from extnet.engine.providers.neutron import ProviderNetwork
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import (
    Cluster,
    ClusterProvider,
    Event,
    Network,
    NetworkCluster,
    Provider,
    Vm,
    VmNic,
    VnicProfile,
    utcnow,
)
from extnet.engine.store.queries import resolve

# the same warning (a change that keeps being skipped, a provider that stays down) is recorded at most this often
REPEAT_WARNINGS_AFTER = timedelta(hours=1)


# --- the providers a cluster names -------------------------------------------------------------------------------


class NamedProviders:
    """The ``external_network_providers`` of a cluster being added or updated (by id or by name); not given on an
    update, the cluster keeps its providers."""

    def __init__(self, session: Session, references: tuple[Ref | None, ...] | None, cluster_name: str) -> None:
        self.session = session
        self.given = references is not None
        self.references = list(references or ())
        self.cluster_name = cluster_name
        self.providers: list[Provider] = []

    def violations(self) -> Iterable[Violation]:
        for named in self.references:
            try:
                provider: Provider = resolve(self.session, Provider, reference(named), "provider")
            except BadRequest as err:
                yield Violation(f"{err.detail} (in external_network_providers of cluster '{self.cluster_name}')", 400)
                continue
            if provider is not None and provider not in self.providers:  # an empty reference names none
                self.providers.append(provider)

    def apply(self, cluster_id: str) -> None:
        if not self.given:
            return
        self.session.execute(delete(ClusterProvider).where(ClusterProvider.cluster_id == cluster_id))
        for provider in self.providers:
            self.session.add(ClusterProvider(cluster_id=cluster_id, provider_id=provider.id))


def providers_of_clusters(session: Session, cluster_ids: Iterable[str]) -> dict[str, list[Provider]]:
    """cluster id -> the providers it names, by name."""
    ids = list(cluster_ids)
    if not ids:
        return {}
    stmt = (
        select(ClusterProvider.cluster_id, Provider)
        .join(Provider, Provider.id == ClusterProvider.provider_id)
        .where(ClusterProvider.cluster_id.in_(ids))
        .order_by(Provider.name)
    )
    found: dict[str, list[Provider]] = {}
    for cluster_id, provider in session.execute(stmt).tuples():
        found.setdefault(cluster_id, []).append(provider)
    return found


def clusters_naming(session: Session, provider_id: str) -> list[Cluster]:
    stmt = (
        select(Cluster)
        .join(ClusterProvider, ClusterProvider.cluster_id == Cluster.id)
        .where(ClusterProvider.provider_id == provider_id)
        .order_by(Cluster.name)
    )
    return list(session.scalars(stmt))


# --- the sync ----------------------------------------------------------------------------------------------------


@dataclass
class SyncReport:
    imported: int = 0
    updated: int = 0
    missing: int = 0
    back: int = 0
    attached: int = 0
    unplugged: int = 0
    skipped: int = 0

    def changed(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "skipped")

    def summary(self) -> str:
        parts = [
            (self.imported, "network(s) imported"),
            (self.updated, "network(s) updated"),
            (self.missing, "network(s) gone from the provider"),
            (self.back, "network(s) back on the provider"),
            (self.attached, "cluster attachment(s) added"),
            (self.unplugged, "vNIC(s) unplugged"),
            (self.skipped, "change(s) skipped (see the warnings)"),
        ]
        said = [f"{count} {what}" for count, what in parts if count]
        return ", ".join(said) if said else "nothing changed"


def recently_recorded(session: Session, code: Code, provider_id: str, description: str) -> bool:
    """Whether the same event was recorded for the provider within REPEAT_WARNINGS_AFTER."""
    stmt = select(Event.id).where(
        Event.provider_id == provider_id,
        Event.code == int(code),
        Event.description == description,
        Event.time >= utcnow() - REPEAT_WARNINGS_AFTER,
    )
    return session.scalar(stmt.limit(1)) is not None


class ApplySync(Command[SyncReport]):
    """Bring the engine's copies of a provider's networks in line with ``remote``, the networks it has now."""

    verb, noun = "synchronize", "Provider"

    def __init__(self, session: Session, provider: Provider, remote: list[ProviderNetwork], on_demand: bool) -> None:
        super().__init__(session)
        self.provider = provider
        self.remote = remote
        self.on_demand = on_demand
        self.report = SyncReport()

    def validate(self) -> Iterable[Violation]:
        return ()

    def execute(self) -> SyncReport:
        lock_row(self.session, Provider, self.provider.id)  # one sync of a provider at a time, in any engine
        copies = list(self.session.scalars(
            select(Network).where(Network.external_provider_id == self.provider.id).order_by(Network.name)
        ))  # fmt: skip
        remote = {network.id: network for network in self.remote}
        for copy in copies:
            source = remote.get(str(copy.external_id))
            if source is None:
                self._gone(copy)
            else:
                self._update(copy, source)
        targets = self._targets()
        where = {(str(copy.external_id), copy.data_center_id): copy for copy in copies}
        for source in self.remote:
            for dc_id, clusters in targets.items():
                network = where.get((source.id, dc_id)) or self._import(source, dc_id)
                if network is not None:
                    self._attach(network, clusters)
        if self.report.changed() or self.on_demand:
            self._event(Code.PROVIDER_SYNCHRONIZED, f"Provider {self.provider.name} was synchronized: "
                        f"{self.report.summary()}.")  # fmt: skip
        return self.report

    def _targets(self) -> dict[str, list[Cluster]]:
        """data center id -> the clusters there that name the provider."""
        targets: dict[str, list[Cluster]] = {}
        for cluster in clusters_naming(self.session, self.provider.id):
            targets.setdefault(cluster.data_center_id, []).append(cluster)
        return targets

    # --- changes --------------------------------------------------------------------------------------------

    def _import(self, source: ProviderNetwork, dc_id: str) -> Network | None:
        options = ImportOptions(public_use=True, by_sync=True)
        command = ImportExternalNetwork(self.session, self.provider, source, Ref(id=dc_id), options)
        network: Network | None = None

        def bring_in() -> None:
            nonlocal network
            network = run(command)

        problem = self._contained(bring_in)
        if problem is None:
            self.report.imported += 1
        elif "is already imported" not in problem:  # imported at the same time by someone else: nothing to say
            self._skipped(f"Network {source.name} ({source.id}) of provider {self.provider.name} was not imported "
                          f"into data center {command.dc_name}: {problem}")  # fmt: skip
        return network

    def _attach(self, network: Network, clusters: list[Cluster]) -> None:
        attached = set(self.session.scalars(
            select(NetworkCluster.cluster_id).where(NetworkCluster.network_id == network.id)
        ))  # fmt: skip
        missing = [cluster for cluster in clusters if cluster.id not in attached]
        if not missing:
            return
        attach_to_clusters(self.session, network, [cluster.id for cluster in missing])
        self.report.attached += len(missing)
        names = listing([cluster.name for cluster in missing])
        self._event(Code.NETWORK_ATTACHED_BY_SYNC, f"Network {network.name} was attached to cluster(s) {names}, "
                    f"which name provider {self.provider.name}.", network=network)  # fmt: skip

    def _update(self, copy: Network, source: ProviderNetwork) -> None:
        if copy.missing_on_provider:
            copy.missing_on_provider = False
            self.report.back += 1
            self._event(Code.NETWORK_BACK_ON_PROVIDER, f"Network {copy.name} is on provider {self.provider.name} "
                        "again; plug its vNICs back where they are needed.", network=copy)  # fmt: skip
        changes = [change for change in (self._rename(copy, source), *self._details(copy, source)) if change]
        if changes:
            self.report.updated += 1
            self._event(Code.NETWORK_UPDATED_FROM_PROVIDER, f"Network {copy.name} of data center "
                        f"{copy.data_center.name} was updated as on provider {self.provider.name}: "
                        f"{', '.join(changes)}.", network=copy)  # fmt: skip

    def _rename(self, copy: Network, source: ProviderNetwork) -> str | None:
        old = copy.name
        if source.name == old:
            return None
        problem = self._contained(lambda: run(UpdateNetwork(self.session, copy, NetworkInput(name=source.name))))
        if problem is not None:
            self._skipped(f"Network {old} of data center {copy.data_center.name} was not renamed to {source.name} "
                          f"as on provider {self.provider.name}: {problem}")  # fmt: skip
            return None
        return f"name {old} -> {source.name}"

    def _details(self, copy: Network, source: ProviderNetwork) -> list[str]:
        changes: list[str] = []
        if source.description and source.description != (copy.description or ""):
            copy.description = source.description
            changes.append("description")
        if source.mtu is not None and source.mtu != copy.mtu:
            problem = mtu_problem(source.mtu)
            if problem:
                self._skipped(f"The MTU of network {copy.name} was not changed to {source.mtu} as on provider "
                              f"{self.provider.name}: {problem}")  # fmt: skip
            else:
                changes.append(f"MTU {copy.mtu or 'default'} -> {source.mtu}")
                copy.mtu = source.mtu
        if source.vlan_id != copy.vlan_id:
            problem = vlan_problem(source.vlan_id)
            if problem:
                self._skipped(f"The VLAN of network {copy.name} was not changed to {source.vlan_id} as on provider "
                              f"{self.provider.name}: {problem}")  # fmt: skip
            else:
                changes.append(f"VLAN {copy.vlan_id or 'none'} -> {source.vlan_id or 'none'}")
                copy.vlan_id = source.vlan_id
        if source.physical_network != copy.provider_physical_network:
            changes.append(f"physical network {copy.provider_physical_network or 'none'} -> "
                           f"{source.physical_network or 'none'}")  # fmt: skip
            copy.provider_physical_network = source.physical_network
        return changes

    def _gone(self, copy: Network) -> None:
        if copy.missing_on_provider:
            return
        copy.missing_on_provider = True
        self.report.missing += 1
        vms = self._unplug(copy)
        unplugged = f"; its vNICs on VM(s) {listing(vms)} were unplugged" if vms else ""
        self._event(Code.NETWORK_GONE_FROM_PROVIDER, f"Network {copy.name} of data center {copy.data_center.name} "
                    f"is gone from provider {self.provider.name} and is marked missing there{unplugged}. Remove it, "
                    "or move its vNICs to another network.", "warning", network=copy)  # fmt: skip

    def _unplug(self, network: Network) -> list[str]:
        """Unplug the plugged vNICs on the network's profiles; the names of their VMs."""
        profiles = select(VnicProfile.id).where(VnicProfile.network_id == network.id).scalar_subquery()
        plugged = (VmNic.vnic_profile_id.in_(profiles), VmNic.plugged.is_(True))
        vms = list(self.session.scalars(
            select(Vm.name).join(VmNic, VmNic.vm_id == Vm.id).where(*plugged).distinct().order_by(Vm.name)
        ))  # fmt: skip
        result = self.session.execute(update(VmNic).where(*plugged).values(plugged=False))
        self.report.unplugged += int(getattr(result, "rowcount", 0) or 0)
        return vms

    # --- helpers ------------------------------------------------------------------------------------------

    def _contained(self, change: Callable[[], object]) -> str | None:
        """Make one change in a savepoint; the fault that stopped it (undone), or None."""
        try:
            with self.session.begin_nested():
                change()
        except Fault as fault:
            return fault.detail.removeprefix("[").removesuffix("]")
        except IntegrityError as err:
            return f"it conflicts with a concurrent change ({str(err.orig).splitlines()[0][:200]})"
        return None

    def _skipped(self, description: str) -> None:
        self.report.skipped += 1
        if self.on_demand or not recently_recorded(self.session, Code.NETWORK_SYNC_SKIPPED, self.provider.id,
                                                    description):  # fmt: skip
            self._event(Code.NETWORK_SYNC_SKIPPED, description, "warning")

    def _event(self, code: Code, description: str, severity: str = "normal", network: Network | None = None) -> None:
        record(
            self.session, code, description, severity, provider_id=self.provider.id,
            data_center_id=network.data_center_id if network is not None else None,
            network_id=network.id if network is not None else None,
        )  # fmt: skip
