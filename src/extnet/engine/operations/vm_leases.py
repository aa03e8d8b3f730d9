"""One operation at a time per VM, different VMs in parallel, and no transaction held while providers and hosts are
called.

An operation (start, stop, hot-plug, migrate, ...) takes a lease on its VM row (``Vm.operation*``) in a short
transaction, works outside any transaction, and gives the lease back in the transaction that records its outcome.
Leases work across threads and across processes on the same database (``extnet engine reconcile`` runs beside the
engine). A lease outlives the process that took it only until it expires, or until the engine that held it is no
longer the engine serving the database (it was killed): then the reconciler takes it over and undoes what the
operation left half-done (``reconciler.recover``). The ports an operation creates are recorded in the lease as they
are made, so that nothing it did is lost if it dies.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session

from extnet.engine.errors import Conflict, NotFound
from extnet.engine.operations.context import CLI_PREFIX, Lifecycle, current_engine_instance, now, utc
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.models import Vm

POLL_MIN, POLL_MAX = 0.01, 0.25
T = TypeVar("T")
_VMS: Table = Vm.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
# built once (see store.db.fetch), on the table (no ORM bookkeeping)
_TAKE = (update(_VMS).where(_VMS.c.id == bindparam("vm_id"))
         .values(operation=bindparam("new_operation"), operation_owner=bindparam("owner"),
                 operation_expires=bindparam("expires"), operation_ports=[]))  # fmt: skip
_STATUS = update(_VMS).where(_VMS.c.id == bindparam("vm_id")).values(status=bindparam("new_status"))


def set_status(session: Session, vm_id: str, status: str) -> None:
    """Set a VM's status in one statement (a VM loaded in ``session`` keeps the status it was loaded with)."""
    session.execute(_STATUS, {"vm_id": vm_id, "new_status": status})


@dataclass
class Lease:
    vm_id: str
    operation: str
    token: str
    previous_ports: list[dict[str, str]] = field(default_factory=list)  # of a taken-over operation
    released: bool = False
    # what to put back on the VM when the operation fails before recording an outcome (the lease given back by
    # ``release``), e.g. the status a start set when it took the VM
    on_abandon: Callable[[Vm], None] | None = field(default=None, repr=False)

    def mine(self, vm: Vm | None) -> bool:
        return vm is not None and vm.operation_owner == self.token

    def forget_ports(self, vm: Vm | None, port_ids: set[str]) -> None:
        if vm is not None and self.mine(vm):
            vm.operation_ports = [p for p in vm.operation_ports or [] if p["port_id"] not in port_ids]

    def release(self, vm: Vm | None) -> None:
        """Give the VM back (in the transaction that records the operation's outcome)."""
        if self.mine(vm):
            assert vm is not None
            vm.operation = vm.operation_owner = vm.operation_expires = None
            vm.operation_ports = None
        self.released = True


def owner_instance(owner: str | None) -> str:
    return (owner or "").split("/", 1)[0]


def stale(session: Session, vm: Vm) -> bool:
    """The VM's lease is left over: expired, or held by an engine process that no longer serves the database."""
    if vm.operation is None:
        return False
    if vm.operation_expires is not None and utc(vm.operation_expires) <= now():
        return True
    holder = owner_instance(vm.operation_owner)
    return not holder.startswith(CLI_PREFIX) and holder != current_engine_instance(session)


def _take(session: Session, lifecycle: Lifecycle, vm: Vm, operation: str) -> Lease:
    lease = Lease(vm.id, operation, f"{lifecycle.instance}/{uuid.uuid4()}", list(vm.operation_ports or []))
    vm.operation, vm.operation_owner = operation, lease.token
    vm.operation_expires = now() + timedelta(seconds=lifecycle.lease)
    vm.operation_ports = []
    return lease


def _take_row(session: Session, lifecycle: Lifecycle, vm: Vm, operation: str) -> Lease:
    """``_take`` in one statement on the table (the VM row is not flushed: a VM operation's lease is taken often)."""
    lease = Lease(vm.id, operation, f"{lifecycle.instance}/{uuid.uuid4()}", list(vm.operation_ports or []))
    session.execute(_TAKE, {"vm_id": vm.id, "new_operation": operation, "owner": lease.token,
                            "expires": now() + timedelta(seconds=lifecycle.lease)})  # fmt: skip
    return lease


def acquire(database: Database, lifecycle: Lifecycle, vm_id: str, operation: str, fault_prefix: str,
            wait: float | None = None) -> Lease:  # fmt: skip
    """Take the VM for ``operation``, waiting up to ``wait`` (default: the lifecycle's) for the operation before
    it; a VM that stays busy is a 409 "[<fault_prefix>. VM 'x' is busy: ...]"."""
    return acquire_prepared(database, lifecycle, vm_id, operation, fault_prefix, _nothing, wait)[0]


def _nothing(_session: Session, _vm: Vm) -> None:
    return None


def acquire_prepared(database: Database, lifecycle: Lifecycle, vm_id: str, operation: str, fault_prefix: str,
                     prepare: Callable[[Session, Vm], T], wait: float | None = None) -> tuple[Lease, T]:  # fmt: skip
    """``acquire``, and ``prepare(session, vm)`` (the operation's checks and reads) in the transaction that takes the
    lease: when it raises, no lease is taken."""
    deadline = time.monotonic() + (lifecycle.lock_wait if wait is None else wait)
    delay = POLL_MIN
    while True:
        with database.transaction() as session:
            vm = fetch(session, Vm, vm_id, lock=True)
            if vm is None:
                raise NotFound(f"Entity not found: VM '{vm_id}'")
            if vm.operation is None or (vm.operation_expires is not None and utc(vm.operation_expires) <= now()):
                prepared = prepare(session, vm)
                return _take_row(session, lifecycle, vm, operation), prepared
            name, busy = vm.name, vm.operation
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Conflict(f"[{fault_prefix}. VM '{name}' is busy: its {busy} is in progress; try again once it "
                           "has finished.]")  # fmt: skip
        with lifecycle.released:
            lifecycle.released.wait(min(delay, remaining))
        delay = min(delay * 2, POLL_MAX)


def take_over(session: Session, lifecycle: Lifecycle, vm: Vm) -> Lease | None:
    """Take a stale lease (the reconciler's recovery); None if the VM's lease is not stale."""
    if not stale(session, vm):
        return None
    assert vm.operation is not None
    return _take(session, lifecycle, vm, vm.operation)


def try_acquire(session: Session, lifecycle: Lifecycle, vm: Vm, operation: str) -> Lease | None:
    """Take the VM now if it is free (in the caller's transaction, the row locked); None if it is busy."""
    if vm.operation is not None and not (vm.operation_expires and utc(vm.operation_expires) <= now()):
        return None
    return _take(session, lifecycle, vm, operation)


def release(database: Database, lifecycle: Lifecycle, lease: Lease) -> None:
    """Give the VM back if the operation did not (it failed before recording its outcome)."""
    if not lease.released:
        with database.transaction() as session:
            vm = fetch(session, Vm, lease.vm_id, lock=True)
            if lease.on_abandon is not None and lease.mine(vm):
                assert vm is not None
                lease.on_abandon(vm)
            lease.release(vm)
    lifecycle.notify_released()


@contextmanager
def holding(database: Database, lifecycle: Lifecycle, vm_id: str, operation: str, fault_prefix: str) -> Iterator[Lease]:
    with holding_prepared(database, lifecycle, vm_id, operation, fault_prefix, _nothing) as (lease, _):
        yield lease


@contextmanager
def holding_prepared(database: Database, lifecycle: Lifecycle, vm_id: str, operation: str, fault_prefix: str,
                     prepare: Callable[[Session, Vm], T]) -> Iterator[tuple[Lease, T]]:  # fmt: skip
    """The VM's lease for the ``with`` block, taken in one transaction with ``prepare``'s checks and reads."""
    lease, prepared = acquire_prepared(database, lifecycle, vm_id, operation, fault_prefix, prepare)
    try:
        yield lease, prepared
    finally:
        release(database, lifecycle, lease)
