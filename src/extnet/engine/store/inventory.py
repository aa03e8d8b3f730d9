"""Inventory operations shared by several commands (the engine's repository layer)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from extnet.engine.store.models import (
    Cluster,
    DataCenter,
    Host,
    MacPool,
    Network,
    NetworkCluster,
    Vm,
    VmNic,
    VnicProfile,
)

MANAGEMENT_NETWORK = "ovirtmgmt"
DEFAULT_MAC_POOL = "Default"
DEFAULT_MAC_RANGE = ["56:6f:00:00:00:00", "56:6f:00:ff:ff:ff"]


def default_mac_pool_id(session: Session) -> str | None:
    return session.scalar(select(MacPool.id).where(MacPool.default_pool.is_(True)).limit(1))


def add_management_network(session: Session, dc: DataCenter) -> Network:
    """Every new data center gets the management network ``ovirtmgmt`` with a profile of the same name."""
    network = Network(name=MANAGEMENT_NETWORK, description="Management Network", data_center_id=dc.id)
    session.add(network)
    session.flush()
    session.add(VnicProfile(name=MANAGEMENT_NETWORK, network_id=network.id))
    return network


def purge_data_center(session: Session, dc: DataCenter) -> None:
    """Remove everything inside ``dc`` (its force-removal): VMs and vNICs, hosts, clusters, networks."""
    cluster_ids = select(Cluster.id).where(Cluster.data_center_id == dc.id).scalar_subquery()
    network_ids = select(Network.id).where(Network.data_center_id == dc.id).scalar_subquery()
    vm_ids = select(Vm.id).where(Vm.cluster_id.in_(cluster_ids)).scalar_subquery()
    session.execute(delete(VmNic).where(VmNic.vm_id.in_(vm_ids)))
    session.execute(delete(Vm).where(Vm.cluster_id.in_(cluster_ids)))
    session.execute(delete(Host).where(Host.cluster_id.in_(cluster_ids)))
    session.execute(delete(NetworkCluster).where(NetworkCluster.network_id.in_(network_ids)))
    session.execute(delete(VnicProfile).where(VnicProfile.network_id.in_(network_ids)))
    session.execute(delete(Network).where(Network.data_center_id == dc.id))
    session.execute(delete(Cluster).where(Cluster.data_center_id == dc.id))
