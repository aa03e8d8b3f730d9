"""What the engine's welcome page shows, read in one short transaction: the inventory's size, the providers and the
hosts with their state (named queries; the page renders them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from extnet.engine.store.db import Database
from extnet.engine.store.models import Cluster, DataCenter, Host, Network, Provider, Vm, VnicProfile

COUNTED = (("Data centers", DataCenter), ("Clusters", Cluster), ("Hosts", Host), ("Networks", Network),
           ("vNIC profiles", VnicProfile), ("VMs", Vm), ("Network providers", Provider))  # fmt: skip


@dataclass(frozen=True)
class ProviderLine:
    name: str
    url: str
    auto_sync: bool


@dataclass(frozen=True)
class HostLine:
    name: str
    address: str
    port: int
    status: str


@dataclass(frozen=True)
class Overview:
    counts: list[tuple[str, int]]
    providers: list[ProviderLine]
    hosts: list[HostLine]


def overview(db: Database) -> Overview:
    with db.transaction(write=False) as session:
        counts = [(label, session.scalar(select(func.count()).select_from(model)) or 0) for label, model in COUNTED]
        providers = [ProviderLine(name, url or "", bool(sync)) for name, url, sync in
                     session.execute(select(Provider.name, Provider.url, Provider.auto_sync).order_by(Provider.name))]
        hosts = [HostLine(name, address, port, status) for name, address, port, status in
                 session.execute(select(Host.name, Host.address, Host.port, Host.status).order_by(Host.name))]
    return Overview(counts, providers, hosts)  # fmt: skip
