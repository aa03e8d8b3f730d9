"""``/clusters`` and ``/datacenters/{id}/clusters``: clusters, and ``.../clusters/{id}/networks``: the networks
attached to a cluster with their roles there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sqlalchemy import exists, select

from extnet.engine.api.hrefs import href, ref
from extnet.engine.api.inputs import to_input
from extnet.engine.api.mappers import Field, Mapper, attr, identity, link_fields, reference
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.resources.cluster_providers import ClusterExternalProviders, provider_references
from extnet.engine.api.resources.networks import NETWORK
from extnet.engine.api.schema import RNG_SOURCES, List
from extnet.engine.api.search import Matcher, column_matcher, string_match
from extnet.engine.commands.base import run
from extnet.engine.commands.cluster_networks import (
    AttachNetwork,
    ClusterNetworkInput,
    DetachNetwork,
    UpdateNetworkOnCluster,
)
from extnet.engine.commands.cluster_settings import rng_sources
from extnet.engine.commands.clusters import FLAGS, ROLES, AddCluster, ClusterInput, RemoveCluster, UpdateCluster
from extnet.engine.commands.provider_sync import providers_of_clusters
from extnet.engine.domain.scheduling import scheduling_policy
from extnet.engine.errors import NotFound
from extnet.engine.store.models import Cluster, DataCenter, Network, NetworkCluster, Provider
from extnet.engine.store.queries import Entity, load, parse_uuid

CLUSTER_LINKS = (
    "networks",
    "permissions",
    "cpuprofiles",
    "affinitygroups",
    "externalnetworkproviders",
    "enabledfeatures",
)


def _in_data_center_named(op: str, value: str, case_sensitive: bool) -> Any:
    return exists(
        select(DataCenter.id).where(
            DataCenter.id == Cluster.data_center_id, string_match(DataCenter.name, op, value, case_sensitive)
        )
    )


def scheduling_properties(cluster: Cluster) -> dict[str, str]:
    """The cluster's own scheduling policy properties, or else its policy's defaults."""
    if cluster.scheduling_properties is not None:
        return cluster.scheduling_properties
    policy = scheduling_policy(cluster.scheduling_policy_id, "id")
    return dict(policy.properties) if policy else {}


def _memory_policy(c: Cluster, extra: Entity) -> Entity:
    return {"over_commit": {"percent": c.memory_over_commit},
            "transparent_hugepages": {"enabled": c.transparent_hugepages}}  # fmt: skip


def _migration(c: Cluster, extra: Entity) -> Entity:
    return {
        "auto_converge": c.migration_auto_converge, "compressed": c.migration_compressed,
        "encrypted": c.migration_encrypted, "policy": {"id": c.migration_policy_id},
        "bandwidth": {"assignment_method": c.migration_bandwidth, "custom_value": c.migration_bandwidth_custom},
    }  # fmt: skip


def _fencing_policy(c: Cluster, extra: Entity) -> Entity:
    return {
        "enabled": c.fencing_enabled, "skip_if_sd_active": {"enabled": c.fencing_skip_if_sd_active},
        "skip_if_connectivity_broken": {"enabled": c.fencing_skip_if_connectivity_broken,
                                        "threshold": c.fencing_connectivity_threshold},
        "skip_if_gluster_bricks_up": c.fencing_skip_if_gluster_bricks_up,
        "skip_if_gluster_quorum_not_met": c.fencing_skip_if_gluster_quorum_not_met,
    }  # fmt: skip


def _scheduling_properties(c: Cluster, extra: Entity) -> Entity:
    return {"property": [{"name": k, "value": v} for k, v in scheduling_properties(c).items()]}


# Every setting is rendered, oVirt's defaults included, so that clients comparing them (Ansible) find them all
CLUSTER = Mapper("Cluster", "cluster", "clusters", (
    *identity("clusters", Cluster),
    Field("cpu", "Cpu", lambda c, extra: {"architecture": c.cpu_architecture, "type": c.cpu_type}),
    Field("version", "Version", lambda c, extra: {"major": c.version_major, "minor": c.version_minor}),
    Field("switch_type", ("legacy", "ovs"), attr("switch_type")),
    Field("firewall_type", ("iptables", "firewalld"), attr("firewall_type")),
    *(Field(flag, "bool", attr(flag)) for flag in FLAGS),
    Field("memory_policy", "MemoryPolicy", _memory_policy),
    Field("ksm", "Ksm", lambda c, extra: {"enabled": c.ksm_enabled, "merge_across_nodes": c.ksm_merge_across_nodes}),
    Field("scheduling_policy", "SchedulingPolicy", reference("schedulingpolicies", "scheduling_policy_id")),
    Field("custom_scheduling_policy_properties", List("property", "Property"), _scheduling_properties),
    Field("error_handling", "ErrorHandling", lambda c, extra: {"on_error": c.on_error}),
    Field("migration", "MigrationOptions", _migration),
    Field("fencing_policy", "FencingPolicy", _fencing_policy),
    Field("required_rng_sources", List("required_rng_source", RNG_SOURCES),
          lambda c, extra: {"required_rng_source": rng_sources(c)}),
    Field("serial_number", "SerialNumber", lambda c, extra: {"policy": c.serial_number_policy,
                                                             "value": c.serial_number_value}
          if c.serial_number_policy else None),
    Field("display", "Display", lambda c, extra: {"proxy": c.spice_proxy} if c.spice_proxy else None),
    Field("gluster_tuned_profile", "str", attr("gluster_tuned_profile")),
    Field("data_center", "DataCenter", reference("datacenters", "data_center_id"), required=True),
    Field("mac_pool", "MacPool", reference("macpools", "mac_pool_id")),
    Field("management_network", "Network", lambda c, extra: ref("networks", extra["management_network"])),
    Field("external_network_providers", List("external_provider", "ExternalProvider"),
          lambda c, extra: provider_references(extra["providers"] or [])),
    *link_fields("clusters", *CLUSTER_LINKS),
))  # fmt: skip


def render(cluster: Cluster, management_network_id: str | None, providers: list[Provider] | None = None) -> Entity:
    return CLUSTER.render(cluster, management_network=management_network_id, providers=providers)


def management_networks(ctx: Ctx, cluster_ids: Iterable[str]) -> dict[str, str]:
    """cluster id -> id of its management network."""
    ids = list(cluster_ids)
    if not ids:
        return {}
    stmt = select(NetworkCluster.cluster_id, NetworkCluster.network_id).where(
        NetworkCluster.cluster_id.in_(ids), NetworkCluster.management.is_(True)
    )
    return {cluster_id: network_id for cluster_id, network_id in ctx.db.execute(stmt)}


def render_one(ctx: Ctx, cluster: Cluster) -> Entity:
    providers = providers_of_clusters(ctx.db, [cluster.id]).get(cluster.id)
    return render(cluster, management_networks(ctx, [cluster.id]).get(cluster.id), providers)


class Clusters(Collection):
    required_on_add: ClassVar[tuple[str, ...]] = CLUSTER.required()
    type_name = CLUSTER.type_name
    what = "cluster"
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **CLUSTER.search_fields(),
        "architecture": column_matcher(Cluster.cpu_architecture),
        "datacenter": _in_data_center_named,
    }

    def data_center(self, ctx: Ctx, parents: list[str]) -> DataCenter | None:
        """The data center the collection is limited to (None: all clusters)."""
        return None

    def cluster(self, ctx: Ctx, parents: list[str], entity_id: str) -> Cluster:
        cluster: Cluster = load(ctx.db, Cluster, entity_id, "cluster")
        dc = self.data_center(ctx, parents)
        if dc is not None and cluster.data_center_id != dc.id:
            raise NotFound(f"Entity not found: cluster '{entity_id}' in data center '{dc.name}'")
        return cluster

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = select(Cluster).order_by(Cluster.name)
        dc = self.data_center(ctx, parents)
        if dc is not None:
            stmt = stmt.where(Cluster.data_center_id == dc.id)
        stmt = self.apply_search(ctx, stmt, {"name": Cluster.name})
        clusters = list(ctx.db.scalars(stmt))
        management = management_networks(ctx, (c.id for c in clusters))
        providers = providers_of_clusters(ctx.db, (c.id for c in clusters))
        return [render(c, management.get(c.id), providers.get(c.id)) for c in clusters]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_one(ctx, self.cluster(ctx, parents, entity_id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        cluster = run(AddCluster(ctx.db, to_input(CLUSTER, body, ClusterInput), self.data_center(ctx, parents)))
        return render_one(ctx, cluster)

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        cluster = self.cluster(ctx, parents, entity_id)
        run(UpdateCluster(ctx.db, cluster, to_input(CLUSTER, body, ClusterInput)))
        return render_one(ctx, cluster)

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        run(RemoveCluster(ctx.db, self.cluster(ctx, parents, entity_id)))


class DataCenterClusters(Clusters):
    """The clusters of one data center (the SDK's ``data_center_service(id).clusters_service()``)."""

    required_on_add = ("name",)

    def data_center(self, ctx: Ctx, parents: list[str]) -> DataCenter | None:
        dc: DataCenter = load(ctx.db, DataCenter, parents[-1], "data center")
        return dc


def _usages(network: Network, extra: Entity) -> Entity:
    attachment = extra["attachment"]
    return {"usage": (["vm"] if network.vm_network else []) + [role for role in ROLES if getattr(attachment, role)]}


# a network as attached to a cluster: the network, with its roles there
CLUSTER_NETWORK = NETWORK.view({
    "href": lambda network, extra: href("clusters", extra["attachment"].cluster_id, "networks", network.id),
    "cluster": lambda network, extra: ref("clusters", extra["attachment"].cluster_id),
    "required": lambda network, extra: extra["attachment"].required,
    "display": lambda network, extra: extra["attachment"].display,
    "status": lambda network, extra: "non_operational" if network.missing_on_provider else "operational",
    "usages": _usages,
})  # fmt: skip


def render_attachment(network: Network, attachment: NetworkCluster) -> Entity:
    return CLUSTER_NETWORK.render(network, attachment=attachment)


class ClusterNetworks(Collection):
    """``/clusters/{id}/networks``: attach (POST), list, get, update roles (PUT) and detach (DELETE)."""

    type_name = NETWORK.type_name
    what = "cluster network"

    def cluster(self, ctx: Ctx, parents: list[str]) -> Cluster:
        cluster: Cluster = load(ctx.db, Cluster, parents[-1], "cluster")
        if len(parents) > 1 and cluster.data_center_id != parse_uuid(parents[0], "data center"):
            raise NotFound(f"Entity not found: cluster '{parents[-1]}' in data center '{parents[0]}'")
        return cluster

    def attachment(self, ctx: Ctx, cluster: Cluster, entity_id: str) -> tuple[Network, NetworkCluster]:
        network_id = parse_uuid(entity_id, "network")
        attachment = ctx.db.get(NetworkCluster, (network_id, cluster.id))
        network = ctx.db.get(Network, network_id)
        if attachment is None or network is None:
            raise NotFound(f"Entity not found: network '{entity_id}' is not attached to cluster '{cluster.name}'")
        return network, attachment

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        cluster = self.cluster(ctx, parents)
        stmt: Any = (
            select(Network, NetworkCluster)
            .join(NetworkCluster, NetworkCluster.network_id == Network.id)
            .where(NetworkCluster.cluster_id == cluster.id)
            .order_by(Network.name)
        )
        rows = ctx.db.execute(self.apply_search(ctx, stmt, {})).tuples()
        return [render_attachment(network, attachment) for network, attachment in rows]

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        cluster = self.cluster(ctx, parents)
        command = AttachNetwork(ctx.db, cluster, to_input(NETWORK, body, ClusterNetworkInput))
        attachment = run(command)
        assert command.network is not None
        return render_attachment(command.network, attachment)

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_attachment(*self.attachment(ctx, self.cluster(ctx, parents), entity_id))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        cluster = self.cluster(ctx, parents)
        network, attachment = self.attachment(ctx, cluster, entity_id)
        run(UpdateNetworkOnCluster(ctx.db, cluster, attachment, to_input(NETWORK, body, ClusterNetworkInput)))
        return render_attachment(network, attachment)

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        cluster = self.cluster(ctx, parents)
        _, attachment = self.attachment(ctx, cluster, entity_id)
        run(DetachNetwork(ctx.db, cluster, attachment))


Clusters.subs = {"networks": ClusterNetworks, "externalnetworkproviders": ClusterExternalProviders}
