"""Handing out vNIC MAC addresses from MAC pools.

A MAC is taken while a vNIC holds it (the database keeps ``vm_nics.mac_address`` unique, which is what makes
concurrent allocation safe) and is not handed out while a snapshot remembers it, so that restoring the snapshot
normally gets the same address back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.api.faults import Conflict
from extnet.engine.domain import mac
from extnet.engine.store import inventory
from extnet.engine.store.models import Cluster, MacPool, Snapshot, Vm, VmNic

ATTEMPTS = 32
log = logging.getLogger("extnet.engine.macs")


def pool_of_cluster(session: Session, cluster: Cluster) -> MacPool:
    pool_id = cluster.mac_pool_id or inventory.default_mac_pool_id(session)
    pool = session.get(MacPool, pool_id) if pool_id else None
    if pool is None:
        raise Conflict(f"Cluster '{cluster.name}' has no MAC pool and there is no default MAC pool")
    return pool


def holder(session: Session, address: str, except_nic: str | None = None) -> tuple[str, str] | None:
    """(VM name, vNIC name) of the vNIC that holds ``address``, if any."""
    stmt = select(Vm.name, VmNic.name).join(Vm, Vm.id == VmNic.vm_id).where(VmNic.mac_address == address)
    if except_nic:
        stmt = stmt.where(VmNic.id != except_nic)
    row = session.execute(stmt.limit(1)).first()
    return (row[0], row[1]) if row else None


def is_live(session: Session, address: str) -> bool:
    return session.scalar(select(VmNic.id).where(VmNic.mac_address == address).limit(1)) is not None


def _taken(session: Session, ranges: list[tuple[str, str]]) -> set[str]:
    taken: set[str] = set()
    for start, end in ranges:
        taken.update(session.scalars(select(VmNic.mac_address).where(VmNic.mac_address.between(start, end))))
    for nics in session.scalars(select(Snapshot.nics).where(Snapshot.snapshot_type != "active")):
        taken.update(str(nic.get("mac_address")) for nic in nics or [])
    return taken


def allocate(session: Session, pool: MacPool, exclude: Iterable[str] = ()) -> str:
    """The first free address of ``pool``; a 409 when the pool is exhausted."""
    ranges = [(start, end) for start, end in pool.ranges]
    address = mac.first_free(ranges, _taken(session, ranges) | set(exclude))
    if address is None:
        raise Conflict(f"[Cannot add Interface. MAC pool '{pool.name}' has no free MAC address left.]")
    return address


def is_mac_conflict(error: IntegrityError) -> bool:
    return "mac_address" in str(error.orig)


def insert_nic(session: Session, nic: VmNic, pool: MacPool, preferred: str | None = None) -> None:
    """Insert ``nic`` with ``preferred`` when it is free, else with a freshly allocated address.

    Two transactions can pick the same free address; the unique constraint lets only one of them keep it, and the
    other retries with the next address inside a savepoint."""
    tried: set[str] = set()
    candidate = preferred if preferred and not is_live(session, preferred) else None
    for _ in range(ATTEMPTS):
        nic.mac_address = candidate or allocate(session, pool, tried)
        try:
            with session.begin_nested():
                session.add(nic)
                session.flush()
            return
        except IntegrityError as err:
            if not is_mac_conflict(err):
                raise
            log.info("MAC %s was taken by a concurrent transaction; trying another", nic.mac_address)
            tried.add(nic.mac_address)
            candidate = None
    raise Conflict(f"[Cannot add Interface. Could not get a free MAC address from pool '{pool.name}'; retry.]")
