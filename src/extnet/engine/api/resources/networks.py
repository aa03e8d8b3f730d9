"""``/networks`` and ``/datacenters/{id}/networks``: the logical networks of data centers, with their vNIC profiles
(``/networks/{id}/vnicprofiles``) and labels (``/networks/{id}/networklabels``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar, TypeVar

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from extnet.engine.api.inputs import to_input
from extnet.engine.api.mappers import Field, Mapper, attr, identity, link_fields, reference
from extnet.engine.api.resources.base import Collection, Ctx, services_of
from extnet.engine.api.resources.provider_networks import network_ref
from extnet.engine.api.resources.vnicprofiles import VNIC_PROFILE
from extnet.engine.api.resources.vnicprofiles import render as render_profile
from extnet.engine.api.schema import NETWORK_USAGES, List
from extnet.engine.api.search import Matcher, column_matcher, string_match
from extnet.engine.commands.base import run
from extnet.engine.commands.networks import AddNetwork, NetworkInput, RemoveNetwork, UpdateNetwork, vdsm_name
from extnet.engine.commands.vnicprofiles import AddVnicProfile, RemoveVnicProfile, VnicProfileInput
from extnet.engine.errors import NotFound
from extnet.engine.operations.external_networks import create_external_network, remove_external_network
from extnet.engine.operations.profile_groups import save_profile
from extnet.engine.store.models import Cluster, DataCenter, Network, NetworkCluster, VnicProfile
from extnet.engine.store.queries import Entity, load

T = TypeVar("T")


def _in_data_center_named(op: str, value: str, case_sensitive: bool) -> Any:
    return exists(
        select(DataCenter.id).where(
            DataCenter.id == Network.data_center_id, string_match(DataCenter.name, op, value, case_sensitive)
        )
    )


def _attached_to_cluster_named(op: str, value: str, case_sensitive: bool) -> Any:
    return exists(
        select(NetworkCluster.network_id)
        .join(Cluster, Cluster.id == NetworkCluster.cluster_id)
        .where(NetworkCluster.network_id == Network.id, string_match(Cluster.name, op, value, case_sensitive))
    )


def _provider_network(network: Network) -> Entity | None:
    if network.external_provider_id is None or network.external_id is None:
        return None
    return network_ref(network.external_provider_id, network.external_id)


NETWORK = Mapper("Network", "network", "networks", (
    *identity("networks", Network),
    Field("mtu", "int", attr("mtu"), search=column_matcher(Network.mtu, "int")),
    Field("port_isolation", "bool", attr("port_isolation")),
    Field("stp", "bool", attr("stp"), search=column_matcher(Network.stp, "bool")),
    Field("usages", List("usage", NETWORK_USAGES), lambda network, extra: {"usage": ["vm"] if network.vm_network
                                                                                   else []}),
    Field("vdsm_name", "str", lambda network, extra: vdsm_name(network)),
    Field("vlan", "Vlan", lambda network, extra: None if network.vlan_id is None else {"id": network.vlan_id},
          search=column_matcher(Network.vlan_id, "int")),
    Field("data_center", "DataCenter", reference("datacenters", "data_center_id"), required=True),
    Field("external_provider", "OpenStackNetworkProvider", reference("openstacknetworkproviders",
                                                                     "external_provider_id")),
    # the provider's physical network, by its name on the provider (it is no network of the engine)
    Field("external_provider_physical_network", "Network",
          lambda network, extra: {"name": network.provider_physical_network}
          if network.provider_physical_network else None),
    # extnet: an external network's network on its provider (openstacknetworkproviders/{id}/networks/{its id})
    Field("openstack_network", "OpenStackNetwork", lambda network, extra: _provider_network(network), "out"),
    # extnet: an external network gone from its provider (found by its sync) is not operational
    Field("status", ("operational", "non_operational"),
          lambda network, extra: "non_operational" if network.missing_on_provider else None, "out"),
    *link_fields("networks", "vnicprofiles", "networklabels", "permissions"),
    # written by /clusters/{id}/networks (a network in a cluster), never here
    Field("cluster", "Cluster", search=_attached_to_cluster_named),
    Field("required", "bool"),
    Field("display", "bool"),
    Field("profile_required", "bool"),
    Field("vnic_profiles", List("vnic_profile", "VnicProfile")),
    Field("openstack_subnet", "OpenStackSubnet"),  # extnet: the first subnet of a network created on its provider
))  # fmt: skip


def network_fields(network: Network) -> Entity:
    """What a network is in its data center; cluster networks add their roles to it."""
    return NETWORK.render(network)


class Networks(Collection):
    required_on_add: ClassVar[tuple[str, ...]] = NETWORK.required()
    type_name = NETWORK.type_name
    what = "network"
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **NETWORK.search_fields(),
        "datacenter": _in_data_center_named,
        "vlanid": column_matcher(Network.vlan_id, "int"),
        "vmnetwork": column_matcher(Network.vm_network, "bool"),
    }
    # an external network is created on (and may be removed from) its provider, outside any transaction
    self_managed = frozenset({"add", "remove"})

    def data_center(self, ctx: Ctx, parents: list[str]) -> DataCenter | None:
        """The data center the collection is limited to (None: all networks)."""
        return None

    def network(self, ctx: Ctx, parents: list[str], entity_id: str) -> Network:
        network: Network = load(ctx.db, Network, entity_id, "network")
        dc = self.data_center(ctx, parents)
        if dc is not None and network.data_center_id != dc.id:
            raise NotFound(f"Entity not found: network '{entity_id}' in data center '{dc.name}'")
        return network

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = select(Network).order_by(Network.name, Network.id)
        dc = self.data_center(ctx, parents)
        if dc is not None:
            stmt = stmt.where(Network.data_center_id == dc.id)
        stmt = self.apply_search(ctx, stmt, {"name": Network.name})
        return [network_fields(network) for network in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return network_fields(self.network(ctx, parents, entity_id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        given = to_input(NETWORK, body, NetworkInput)
        if given.external_provider:
            path_dc = partial(self._in_session, ctx, lambda local: self.data_center(local, parents))
            return network_fields(create_external_network(ctx.database, services_of(ctx), path_dc, given))
        with ctx.database.transaction() as session:
            local = replace(ctx, session=session)
            return network_fields(run(AddNetwork(session, given, self.data_center(local, parents))))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        network = self.network(ctx, parents, entity_id)
        return network_fields(run(UpdateNetwork(ctx.db, network, to_input(NETWORK, body, NetworkInput))))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        if ctx.flag("remove_from_provider"):
            network_of = partial(self._in_session, ctx, lambda local: self.network(local, parents, entity_id))
            remove_external_network(ctx.database, services_of(ctx), network_of)
            return
        with ctx.database.transaction() as session:
            run(RemoveNetwork(session, self.network(replace(ctx, session=session), parents, entity_id)))

    @staticmethod
    def _in_session(ctx: Ctx, func: Callable[[Ctx], T], session: Session) -> T:
        return func(replace(ctx, session=session))


class DataCenterNetworks(Networks):
    """The networks of one data center (list without search, add, get, update, remove)."""

    required_on_add = ("name",)
    search_fields = None

    def data_center(self, ctx: Ctx, parents: list[str]) -> DataCenter | None:
        dc: DataCenter = load(ctx.db, DataCenter, parents[-1], "data center")
        return dc


class NetworkVnicProfiles(Collection):
    """``/networks/{id}/vnicprofiles``: the profiles of one network."""

    required_on_add = ("name",)
    type_name = "VnicProfile"
    what = "vNIC profile"
    self_managed = frozenset({"add"})  # see VnicProfiles

    def network(self, ctx: Ctx, parents: list[str]) -> Network:
        network: Network = load(ctx.db, Network, parents[-1], "network")
        return network

    def profile(self, ctx: Ctx, parents: list[str], entity_id: str) -> VnicProfile:
        network = self.network(ctx, parents)
        profile: VnicProfile = load(ctx.db, VnicProfile, entity_id, "vNIC profile")
        if profile.network_id != network.id:
            raise NotFound(f"Entity not found: vNIC profile '{entity_id}' of network '{network.name}'")
        return profile

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        network = self.network(ctx, parents)
        stmt = select(VnicProfile).where(VnicProfile.network_id == network.id).order_by(VnicProfile.name)
        stmt = self.apply_search(ctx, stmt, {})
        return [render_profile(profile) for profile in ctx.db.scalars(stmt)]

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        given = to_input(VNIC_PROFILE, body, VnicProfileInput)

        def command(session: Session) -> AddVnicProfile:
            return AddVnicProfile(session, given, self.network(replace(ctx, session=session), parents))

        return render_profile(save_profile(ctx.database, services_of(ctx), command))

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_profile(self.profile(ctx, parents, entity_id))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        run(RemoveVnicProfile(ctx.db, self.profile(ctx, parents, entity_id)))


# labels are not supported yet: no network has one, so nothing is rendered (the fields declare the type)
NETWORK_LABEL = Mapper("NetworkLabel", "network_label", "network_labels", (
    Field("href", "str", None, "out"), Field("id", "id"), Field("name", "str"), Field("description", "str"),
    Field("comment", "str"), Field("network", "Network"), *link_fields("networks"),
))  # fmt: skip


class NetworkLabels(Collection):
    """``/networks/{id}/networklabels``: labels are not supported yet, so every network has none."""

    type_name = NETWORK_LABEL.type_name
    what = "network label"

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        load(ctx.db, Network, parents[-1], "network")
        return []

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        network: Network = load(ctx.db, Network, parents[-1], "network")
        raise NotFound(f"Entity not found: network label '{entity_id}' of network '{network.name}'")


Networks.subs = {"vnicprofiles": NetworkVnicProfiles, "networklabels": NetworkLabels}
