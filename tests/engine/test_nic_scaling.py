"""Adding a vNIC costs the same with 20 or with 400 vNICs already taking addresses of the pool: the command reads
as many rows and runs as many statements. Counted, not timed: the add runs in this process on the engine's own
database (SQLite, or a fresh database of ``EXTNET_TEST_DATABASE_URL``) and every statement goes through a counter."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select
from sqlalchemy.orm import ORMExecuteState, Session

from extnet.engine.commands.base import run
from extnet.engine.commands.nics import AddNic, NicInput
from extnet.engine.domain import mac
from extnet.engine.store.db import Database, migrate
from extnet.engine.store.inventory import DEFAULT_MAC_RANGE
from extnet.engine.store.models import Cluster, Snapshot, Vm, VmNic
from tests.servers import scratch_database

SMALL = 20
GROWN = 400
NICS_PER_VM = 2


@dataclass
class Reads:
    statements: int = 0
    rows: int = 0


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        url = url or f"sqlite:///{Path(tmp_path_factory.mktemp('nic-scaling')) / 'engine.sqlite'}"
        migrate(url)
        database = Database(url)
        yield database
        database.dispose()


def address(index: int) -> str:
    return mac.int_to_mac(mac.mac_to_int(DEFAULT_MAC_RANGE[0]) + index)


def grow_to(db: Database, count: int) -> None:
    """VMs with two vNICs each, holding the pool's first ``count`` addresses, and a snapshot of each VM that
    remembers its vNICs (as taking one does)."""
    with db.transaction() as session:
        cluster_id = session.scalar(select(Cluster.id).where(Cluster.name == "Default"))
        held = session.scalar(select(VmNic.id).where(VmNic.mac_address == address(count - 1)))
        if held:
            return
        start = len(list(session.scalars(select(VmNic.id))))
        for first in range(start, count, NICS_PER_VM):
            vm_id = str(uuid.uuid4())
            nics = [{"id": str(uuid.uuid4()), "vm_id": vm_id, "name": f"nic{i}", "mac_address": address(first + i)}
                    for i in range(NICS_PER_VM)]  # fmt: skip
            session.execute(insert(Vm), [{"id": vm_id, "name": f"grown-{first:05d}", "cluster_id": cluster_id}])
            session.execute(insert(VmNic), nics)
            state = [{**nic, "interface": "virtio"} for nic in nics]
            session.execute(insert(Snapshot), [{"id": str(uuid.uuid4()), "vm_id": vm_id, "description": "s",
                                                "snapshot_type": "regular", "nics": state}])  # fmt: skip


def counted_add(db: Database, name: str, arrange: Callable[[Session], None] = lambda _: None) -> tuple[str, Reads]:
    """Add a vNIC to a fresh VM (the pool hands it its MAC) after ``arrange``, and count what the command read;
    all is rolled back, so the pool stays as it was."""
    reads = Reads()

    def statement(*_: Any) -> None:
        reads.statements += 1

    def rows(state: ORMExecuteState) -> Any:
        frozen = state.invoke_statement().freeze()
        reads.rows += len(frozen.data)
        return frozen()

    with db.transaction() as session:
        arrange(session)
        cluster_id = session.scalar(select(Cluster.id).where(Cluster.name == "Default"))
        vm = Vm(name=name, cluster_id=cluster_id)
        session.add(vm)
        session.flush()
        event.listen(db.engine, "before_cursor_execute", statement)
        event.listen(session, "do_orm_execute", rows)
        try:
            nic = run(AddNic(session, vm, NicInput(name="nic1")))
        finally:
            event.remove(db.engine, "before_cursor_execute", statement)
            event.remove(session, "do_orm_execute", rows)
        chosen = nic.mac_address
        session.rollback()
    return chosen, reads


def test_adding_a_vnic_reads_the_same_with_20_or_400_vnics(db: Database) -> None:
    grow_to(db, SMALL)
    small_mac, small = counted_add(db, "probe-small")
    assert small_mac == address(SMALL), "the lowest free address of the pool"
    grow_to(db, GROWN)
    grown_mac, grown = counted_add(db, "probe-grown")
    assert grown_mac == address(GROWN), "the lowest free address of the pool"
    assert grown.statements == small.statements, (small, grown)
    assert grown.rows == small.rows, (small, grown)


def remove_nic(held: int, forget: bool) -> Callable[[Session], None]:
    """Remove the vNIC holding ``address(held)``; ``forget``: and the snapshot of its VM that remembers it."""

    def arrange(session: Session) -> None:
        nic = session.scalars(select(VmNic).where(VmNic.mac_address == address(held))).one()
        session.execute(delete(VmNic).where(VmNic.id == nic.id))
        if forget:
            session.execute(delete(Snapshot).where(Snapshot.vm_id == nic.vm_id))

    return arrange


def test_a_freed_address_is_found_in_statements_that_grow_with_the_log_of_the_pool_at_most(db: Database) -> None:
    grow_to(db, GROWN)
    baseline = counted_add(db, "probe-baseline")[1]
    hole = GROWN // 2 + 6
    chosen, reads = counted_add(db, "probe-hole", remove_nic(hole, forget=True))
    assert chosen == address(hole), "a freed address is handed out again, the lowest first"
    assert reads.statements <= baseline.statements + GROWN.bit_length() + 1, (baseline, reads)
    assert reads.rows <= baseline.rows + GROWN.bit_length() + 1, (baseline, reads)
    chosen, _ = counted_add(db, "probe-remembered", remove_nic(hole, forget=False))
    assert chosen == address(GROWN), "an address a snapshot remembers is not handed out"
