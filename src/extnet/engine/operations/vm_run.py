"""Starting, stopping and removing a VM, and the snapshot actions that change its vNIC set, under its lease
(``vm_ports`` says how VM operations treat ports and hosts)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from extnet.common.hostrpc import ErrorCode
from extnet.engine.commands.base import Command, run
from extnet.engine.commands.hosts import check
from extnet.engine.commands.nics import nics_of
from extnet.engine.commands.vms import RemoveVm, StartVm, StopVm
from extnet.engine.errors import Conflict, Fault
from extnet.engine.hosts.client import HostAgentError
from extnet.engine.operations.context import Lifecycle
from extnet.engine.operations.ports import (
    Allocation,
    PortAllocator,
    PortPlan,
    plans_for,
    vif_of,
)
from extnet.engine.operations.scheduling import (
    Candidate,
    Choice,
    NoHost,
    Scope,
    candidate,
    candidates,
    choose,
    hosts_not_up,
    load_key,
)
from extnet.engine.operations.vm_leases import Lease, holding, holding_prepared, set_status
from extnet.engine.operations.vm_ports import (
    MINE,
    ON_HOST,
    VM_TABLE,
    Remote,
    binding_for,
    delete_created,
    discard_allocation,
    error_text,
    forget_created,
    lifecycle_of,
    pending_by_provider,
    record_event,
    store_ports,
    storer,
    undo_on_host,
    wait_unreported,
)
from extnet.engine.providers.client import ProviderError
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Cluster, Host, Vm
from extnet.engine.store.outbox import release_port
from extnet.engine.store.queries import vm_of

log = logging.getLogger("extnet.engine.vmops")


# --- start --------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _StartPlan:
    vm_name: str
    cluster_name: str
    plans: list[PortPlan]
    hosts: list[Candidate]
    pending: dict[str, set[str]]
    resume: bool
    no_host: str = ""  # with no host up: which hosts the cluster has, and why they are not up


class Phases:
    """How long each phase of an operation took, for the log (where a slow start spends its time)."""

    def __init__(self) -> None:
        self.began = self.last = time.perf_counter()
        self.parts: list[tuple[str, float]] = []

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.parts.append((name, now - self.last))
        self.last = now

    def text(self) -> str:
        parts = ", ".join(f"{name} {seconds * 1000:.1f}" for name, seconds in self.parts)
        return f"{(self.last - self.began) * 1000:.1f} ms ({parts})"


def start_vm(database: Database, services: EngineServices, vm_id: str, pause: bool) -> None:
    lifecycle = lifecycle_of(services)
    phases = Phases()
    prepare = functools.partial(_plan_start, services, pause)
    with holding_prepared(database, lifecycle, vm_id, "start", "Cannot run VM", prepare) as (lease, plan):
        phases.mark("checks")
        if plan.resume:
            with database.transaction() as session:
                vm = vm_of(session, vm_id, lock=True)
                vm.status = "paused" if pause else "up"
                lease.release(vm)
            return
        lease.on_abandon = _back_down
        with lifecycle.starts.starting(plan.hosts, load_key) as pending:
            choice = _schedule_start(database, services, vm_id, plan, pending.order)
            pending.hold(choice.host.id)
            phases.mark("scheduling")
            _launch(database, services, lifecycle, lease, plan, choice, pause, phases)
    log.info("VM %s started on host %s in %s", plan.vm_name, choice.host.name, phases.text())


def _plan_start(services: EngineServices, pause: bool, session: Session, vm: Vm) -> _StartPlan:
    """The start's checks and what it needs to know, in the transaction that takes the VM's lease; the VM is
    ``wait_for_launch`` from then on."""
    check(StartVm(session, vm, pause))
    cluster = fetch(session, Cluster, vm.cluster_id)
    cluster_name = cluster.name if cluster else vm.cluster_id
    if vm.status == "paused" and vm.host_id:
        return _StartPlan(vm.name, cluster_name, [], [], {}, True)
    plans = plans_for(session, services, [nic for nic in nics_of(session, vm.id) if nic.plugged])
    set_status(session, vm.id, "wait_for_launch")
    hosts = candidates(session, services, vm.cluster_id)
    return _StartPlan(vm.name, cluster_name, plans, hosts, pending_by_provider(session, plans), False,
                      "" if hosts else hosts_not_up(session, vm.cluster_id))  # fmt: skip


def _back_down(vm: Vm) -> None:
    vm.status, vm.host_id = "down", None


def _schedule_start(database: Database, services: EngineServices, vm_id: str, plan: _StartPlan,
                    hosts: list[Candidate]) -> Choice:  # fmt: skip
    """The host among ``hosts`` (the plan's, the least loaded first, counting the starts in flight)."""
    if not hosts:
        raise Conflict(f"[Cannot run VM. There is no host in cluster '{plan.cluster_name}' that is up to run VM "
                       f"'{plan.vm_name}': {plan.no_host}.]")  # fmt: skip
    try:
        return choose(services, hosts, [p.need() for p in plan.plans], plan.vm_name,
                      Scope(f"up host of cluster '{plan.cluster_name}'"))  # fmt: skip
    except NoHost as err:
        raise Conflict(f"[Cannot run VM. {error_text(err)}.]") from None
    except ProviderError as err:
        record_event(database, Code.USER_FAILED_RUN_VM, f"Failed to run VM {plan.vm_name}: {err.message}", "error",
                     vm_id)
        raise Fault(f"[Cannot run VM. {error_text(err)}.]") from None


def _launch(database: Database, services: EngineServices, lifecycle: Lifecycle, lease: Lease, plan: _StartPlan,
            choice: Choice, pause: bool, phases: Phases) -> None:  # fmt: skip
    host = choice.host
    alloc = Allocation()
    created_on_host = False
    try:
        # the host is recorded before it is called (with the first ports made): a recovery then knows where to look
        store = storer(database, lease, plan.vm_name, host_id=host.id)
        allocator = PortAllocator(services, lifecycle, binding_for(host), plan.pending, store, plan.vm_name)
        allocator.allocate(plan.plans, alloc)
        vifs = [vif_of(p, alloc.ports[p.vnic_id][1], plan.vm_name) for p in plan.plans]
        if not alloc.created:  # no port was made (they all exist): recorded on its own
            with database.transaction() as session:
                session.execute(ON_HOST, {"vm_id": lease.vm_id, "token": lease.token, "new_host": host.id})
        phases.mark("ports")
        created_on_host = True
        reported = services.host_agents.vm_create(host.endpoint, lease.vm_id, plan.vm_name, vifs)
        phases.mark("host")
        wait_unreported(services, lifecycle, choice.reporting, host, list(alloc.ports.values()), plan.vm_name, reported)
        phases.mark("ACTIVE")
    except Remote as err:
        _undo_start(database, services, lease, plan.vm_name, host, alloc, created_on_host, error_text(err))
        raise Fault(f"[Cannot run VM. {error_text(err)}.]") from None
    with database.transaction() as session:
        made = {port.id for _p, port in alloc.created}  # stored when they were made
        store_ports(session, [(p, port) for p, port in alloc.ports.values() if port.id not in made
                               and p.stored != port.id])  # fmt: skip
        discard_allocation(session, lease, alloc, plan.vm_name, "duplicate port of a vNIC")
        # one statement, no VM loaded and flushed: this transaction is most of a start's own database work
        started = {"vm_id": lease.vm_id, "token": lease.token, "new_status": "paused" if pause else "up",
                   "new_host": host.id, "now": datetime.now(UTC)}  # fmt: skip
        if session.execute(_STARTED, started).rowcount != 1:  # type: ignore[attr-defined]
            raise Fault(f"[Cannot run VM. VM '{plan.vm_name}' was taken over by a recovery while it started "
                        "(its operation outlived its lease); the reconciler undoes what the start did.]")  # fmt: skip
        lease.released = True
        record(session, Code.USER_RUN_VM, f"VM {plan.vm_name} started on Host {host.name}", vm_id=lease.vm_id,
               host_id=host.id)  # fmt: skip
    phases.mark("recording")
    if alloc.discard:
        lifecycle.wake_outbox()


_STARTED = (
    update(VM_TABLE)
    .where(*MINE)
    .values(
        status=bindparam("new_status"),
        host_id=bindparam("new_host"),
        start_time=bindparam("now"),
        stop_time=None,
        operation=None,
        operation_owner=None,
        operation_expires=None,
        operation_ports=None,
    )
)  # fmt: skip  (built once: see store.db.fetch)


def _undo_start(database: Database, services: EngineServices, lease: Lease, vm_name: str, host: Candidate,
                alloc: Allocation, created_on_host: bool, message: str) -> None:  # fmt: skip
    if created_on_host:
        undo_on_host(lambda: services.host_agents.vm_destroy(host.endpoint, lease.vm_id))
    left = delete_created(services, alloc.created, vm_name)
    with database.transaction() as session:
        vm = fetch(session, Vm, lease.vm_id, lock=True)
        forget_created(session, lease, vm, alloc.created, left, vm_name, "start failed")
        if vm is not None:
            vm.status, vm.host_id = "down", None
            lease.release(vm)
            record(session, Code.USER_FAILED_RUN_VM, f"Failed to run VM {vm_name}: {message}.", "error", vm_id=vm.id)
    if left:
        lifecycle_of(services).wake_outbox()


# --- stop -----------------------------------------------------------------------------------------------------------


def stop_vm(database: Database, services: EngineServices, vm_id: str, verb: str, force: bool) -> None:
    """Power off (or shut down): the host destroys the VM and unplugs its VIFs; its ports stay on the provider."""
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, verb, f"Cannot {verb} VM") as lease:
        with database.transaction(write=False) as session:
            vm = vm_of(session, vm_id)
            check(StopVm(session, vm, verb))
            host = fetch(session, Host, vm.host_id) if vm.host_id else None
            target = candidate(host, services) if host is not None and host.agent_secret_encrypted else None
        if target is not None:
            try:
                services.host_agents.vm_destroy(target.endpoint, vm_id)
            except HostAgentError as err:
                if err.code != ErrorCode.VM_NOT_FOUND and not force:
                    raise Fault(f"[Cannot {verb} VM. {error_text(err)}. To record the VM as down anyway, {verb} it "
                                "with force=true.]") from None  # fmt: skip
        with database.transaction() as session:
            vm = vm_of(session, vm_id, lock=True)
            run(StopVm(session, vm, verb))
            lease.release(vm)
            record(session, Code.USER_STOP_VM, f"VM {vm.name} was powered off (host {target.name if target else '-'}).",
                   vm_id=vm.id)  # fmt: skip




# --- removals ---------------------------------------------------------------------------------------------------


def remove_vm(database: Database, services: EngineServices, vm_id: str) -> None:
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, "removal", "Cannot remove VM"), database.transaction() as session:
        vm = vm_of(session, vm_id, lock=True)
        command = RemoveVm(session, vm)
        check(command)
        queued = [release_port(session, nic, vm.name, "VM removed") for nic in nics_of(session, vm.id)]
        run(command)
    if any(queued):
        lifecycle.wake_outbox()


def snapshot_action(database: Database, services: EngineServices, vm_id: str,
                    command: Callable[[Session, Vm], Command[Any]]) -> None:  # fmt: skip
    """Preview, undo, commit or restore: the vNIC set may change; ports of vNICs that leave go to the outbox
    (``commands.snapshots.replace_nics``)."""
    lifecycle = lifecycle_of(services)
    with (holding(database, lifecycle, vm_id, "snapshot", "Cannot change the snapshot of VM") as lease,
          database.transaction() as session):  # fmt: skip
        vm = vm_of(session, vm_id, lock=True)
        run(command(session, vm))
        lease.release(vm)
    lifecycle.wake_outbox()
