"""Handing out vNIC MAC addresses from MAC pools.

A MAC is taken while a vNIC holds it (the database keeps ``vm_nics.mac_address`` unique, which is what makes
concurrent allocation safe) and is not handed out while a snapshot remembers it, so that restoring the snapshot
normally gets the same address back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.domain import mac
from extnet.engine.errors import Conflict
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


# Whether a non-active snapshot remembers :mac, per dialect (SQLite's json_each, PostgreSQL's json_array_elements);
# the text match first skips, without parsing them, the snapshots that cannot; a nics that is no array has none.
_REMEMBERED = {
    "sqlite": "SELECT 1 FROM snapshots AS s, json_each(CASE WHEN json_type(s.nics) = 'array' THEN s.nics END) AS e "
              "WHERE s.snapshot_type != 'active' AND instr(s.nics, :mac) > 0 "
              "AND json_extract(e.value, '$.mac_address') = :mac LIMIT 1",
    "postgresql": "SELECT 1 FROM snapshots AS s CROSS JOIN LATERAL json_array_elements(CASE WHEN "
                  "json_typeof(s.nics) = 'array' THEN s.nics END) AS e(value) "
                  "WHERE s.snapshot_type != 'active' AND strpos(s.nics::text, :mac) > 0 "
                  "AND e.value ->> 'mac_address' = :mac LIMIT 1",
}  # fmt: skip


def _remembered(session: Session, address: str) -> bool:
    """Whether a snapshot (not the active one) remembers ``address``."""
    query = _REMEMBERED.get(session.get_bind().dialect.name)
    if query is not None:
        return session.execute(text(query), {"mac": address}).first() is not None
    rows = session.scalars(select(Snapshot.nics).where(Snapshot.snapshot_type != "active"))
    return any(str(nic.get("mac_address")) == address for nics in rows for nic in nics or [])


def _held(session: Session, low: int, high: int) -> tuple[int, str | None, str | None]:
    """How many vNICs hold an address of ``low``-``high``, and the lowest and highest of them: the count walks the
    index range without returning rows, the lowest and the highest are one index lookup each."""
    column = VmNic.mac_address
    within = column.between(mac.int_to_mac(low), mac.int_to_mac(high))
    parts = (select(func.count()).where(within), select(func.min(column)).where(within),
             select(func.max(column)).where(within))  # fmt: skip
    count, first, last = session.execute(select(*(part.scalar_subquery() for part in parts))).one()
    return int(count), first, last


def _first_unheld(session: Session, low: int, high: int) -> int | None:
    """The lowest address of ``low``-``high`` that no vNIC holds, in a few statements: the usual pool, filled from
    its start without holes, needs one; a hole is found by halving the span that has it."""
    count, first, last = _held(session, low, high)
    if count == 0 or first != mac.int_to_mac(low):
        return low
    assert last is not None
    top = mac.mac_to_int(last)
    if count == top - low + 1:
        return top + 1 if top < high else None
    full, holed = low, top  # low..full is all held; full+1..holed has a hole
    while holed - full > 1:
        middle = (full + holed) // 2
        if _held(session, full + 1, middle)[0] == middle - full:
            full = middle
        else:
            holed = middle
    return full + 1


def _first_free_in(session: Session, low: int, high: int, exclude: set[str]) -> str | None:
    cursor: int | None = low
    while cursor is not None and cursor <= high:
        cursor = _first_unheld(session, cursor, high)
        if cursor is None:
            return None
        address = mac.int_to_mac(cursor)
        if address not in exclude and not _remembered(session, address):
            return address
        cursor += 1
    return None


def allocate(session: Session, pool: MacPool, exclude: Iterable[str] = ()) -> str:
    """The lowest free address of the first range of ``pool`` that has one; a 409 when the pool is exhausted.

    Free: no vNIC holds it, no snapshot remembers it, and it is not in ``exclude``."""
    excluded = set(exclude)
    for start, end in pool.ranges:
        address = _first_free_in(session, mac.mac_to_int(start), mac.mac_to_int(end), excluded)
        if address is not None:
            return address
    raise Conflict(f"[Cannot add Interface. MAC pool '{pool.name}' has no free MAC address left.]")


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
