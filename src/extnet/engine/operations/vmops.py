"""VM operations that touch ports and hosts: start, stop, hot-plug and hot-unplug, rewiring a vNIC to another
network, removing vNICs and VMs, the snapshot actions that change a VM's vNIC set, and live migration.

Each runs under its VM's lease (``operations``): one operation per VM at a time, different VMs in parallel. Rules
are checked in a short transaction, providers and hosts are called outside any transaction, and the outcome is
written in one last short transaction that gives the lease back. A port the operation creates is stored on its
vNIC (and in the lease) as soon as the provider answers. When a step fails, what this attempt did is undone (the
VIFs it plugged are unplugged, the ports it created deleted) and the fault names the vNIC, the provider or host,
and why. Ports that are no longer needed go to the outbox in the transaction that makes them unneeded.

Ports are created or updated on: start, hot-plug, rewiring and migration; deleted when a vNIC is removed or moves
to another network, its VM is removed, or a snapshot changes the VM's vNIC set; kept on stop and on hot-unplug
(what a user changed on the port survives, as in oVirt since 3.3.1).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from extnet.common.hostrpc import ErrorCode
from extnet.engine.commands.base import Command, run
from extnet.engine.commands.hosts import check
from extnet.engine.commands.nics import AddNic, PlugNic, RemoveNic, UpdateNic, nics_of
from extnet.engine.commands.vms import RemoveVm, StartVm, StopVm
from extnet.engine.errors import BadRequest, Conflict, Fault
from extnet.engine.hosts.client import HostAgentError
from extnet.engine.operations.context import Lifecycle
from extnet.engine.operations.ports import (
    ACTIVE,
    Allocation,
    Port,
    PortFailure,
    PortPlan,
    allocate,
    plans_for,
    port_from,
    reports_status,
    vif_of,
    wait_active,
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
    reporting_providers,
)
from extnet.engine.operations.vm_leases import Lease, holding, holding_prepared, set_status
from extnet.engine.providers.client import ProviderError
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Cluster, Host, Vm, VmNic
from extnet.engine.store.outbox import enqueue, pending_port_ids, release_port
from extnet.engine.store.queries import Entity, nic_in, port_key, resolve, vm_of

log = logging.getLogger("extnet.engine.vmops")
HOT = ("up", "paused")  # a VM whose vNICs are plugged on a host
Remote = (PortFailure, HostAgentError)


def lifecycle_of(services: EngineServices) -> Lifecycle:
    lifecycle = services.lifecycle
    assert isinstance(lifecycle, Lifecycle), "the engine app sets services.lifecycle"
    return lifecycle


def _message(err: Exception) -> str:
    return str(getattr(err, "message", None) or err).rstrip(".")


def _vm(session: Session, vm_id: str, lock: bool = False) -> Vm:
    return vm_of(session, vm_id, lock=lock)


def _pending(session: Session, plans: list[PortPlan]) -> dict[str, set[str]]:
    return {pid: pending_port_ids(session, pid) for pid in {plan.provider.id for plan in plans}}


def storer(
    database: Database, lease: Lease, vm_name: str, on_nic: bool = True, host_id: str | None = None
) -> Callable[[list[tuple[PortPlan, Port]]], None]:
    """Stores ports the moment they were created: in the lease (undone if the engine dies) and on their vNICs (not
    when ``on_nic`` is false: a vNIC being rewired keeps its old port until the new one is plugged); ``host_id``:
    the host the VM goes to, recorded with them. A few statements built once, no rows loaded: a start's ports are
    stored while it waits."""

    def store(pairs: list[tuple[PortPlan, Port]]) -> None:
        made = [{"provider_id": plan.provider.id, "port_id": port.id, "vnic_id": plan.vnic_id} for plan, port in pairs]
        mine = {"vm_id": lease.vm_id, "token": lease.token}
        with database.transaction() as session:
            row = session.execute(_LEASE_PORTS, mine).first()
            if row is not None:  # still this operation's
                values = {**mine, "ports": [*(row[0] or []), *made], "new_host": host_id}
                session.execute(_RECORD_PORTS if host_id is None else _RECORD_PORTS_ON_HOST, values)
            gone = _store_ports(session, pairs) if on_nic else _missing_nics(session, pairs)
        if gone:
            raise PortFailure(f"vNIC '{gone[0]}' of VM '{vm_name}' was removed while its port was being made")

    return store


def _store_ports(session: Session, pairs: list[tuple[PortPlan, Port]]) -> list[str]:
    """Store each port on its vNIC (one statement for them all); the names of the vNICs that no longer exist."""
    if not pairs:
        return []
    values = [{"nic_id": plan.vnic_id, "new_port": port.id, "new_provider": plan.provider.id}
              for plan, port in pairs]  # fmt: skip
    if session.execute(_PORT_ON_NIC, values).rowcount == len(pairs):  # type: ignore[attr-defined]
        return []
    return _missing_nics(session, pairs)  # some are gone (or the driver does not count an executemany's rows)


def _missing_nics(session: Session, pairs: list[tuple[PortPlan, Port]]) -> list[str]:
    present = set(session.scalars(_NIC_IDS, {"ids": [plan.vnic_id for plan, _port in pairs]}))
    return [plan.vnic_name for plan, _port in pairs if plan.vnic_id not in present]


# built once (see store.db.fetch), on the tables (no ORM bookkeeping): a port's creation is stored by these
_VM_TABLE: Table = Vm.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
_NIC_TABLE: Table = VmNic.__table__  # type: ignore[assignment]
_VMS, _NICS = _VM_TABLE.c, _NIC_TABLE.c
_MINE = (_VMS.id == bindparam("vm_id"), _VMS.operation_owner == bindparam("token"))
_LEASE_PORTS = select(_VMS.operation_ports).where(*_MINE).with_for_update()
_RECORD_PORTS = update(_VM_TABLE).where(*_MINE).values(operation_ports=bindparam("ports"))
_RECORD_PORTS_ON_HOST = update(_VM_TABLE).where(*_MINE).values(operation_ports=bindparam("ports"),
                                                                  host_id=bindparam("new_host"))  # fmt: skip
_ON_HOST = update(_VM_TABLE).where(*_MINE).values(host_id=bindparam("new_host"))
_PORT_ON_NIC = (update(_NIC_TABLE).where(_NICS.id == bindparam("nic_id"))
                .values(port_id=bindparam("new_port"), port_provider_id=bindparam("new_provider")))  # fmt: skip
_NIC_IDS = select(_NICS.id).where(_NICS.id.in_(bindparam("ids", expanding=True)))


def binding_for(host: Candidate) -> Callable[[PortPlan], str]:
    return lambda plan: host.binding(plan.provider.plugin_type) or ""


def _serve_check(host: Candidate, plans: list[PortPlan], vm_name: str) -> None:
    for plan in plans:
        if not host.binding(plan.provider.plugin_type):
            raise PortFailure(f"Host '{host.name}' of VM '{vm_name}' cannot serve external network "
                              f"'{plan.network_name}': it reports no binding for plugin type "
                              f"'{plan.provider.plugin_type}' of provider '{plan.provider.name}'")  # fmt: skip


def _wait(services: EngineServices, lifecycle: Lifecycle, reporting: frozenset[str], host: Candidate,
          ports: list[tuple[PortPlan, Port]], vm_name: str, reported: dict[str, str]) -> None:  # fmt: skip
    """Wait for the ports to become ACTIVE, except those the host's answer says their provider already made ACTIVE
    (it handed on what the provider answered its report of the plug)."""
    waited = [(plan, port) for plan, port in ports if reports_status(lifecycle, reporting, plan.provider.id)
              and reported.get(port.id) != ACTIVE]  # fmt: skip
    if waited:
        wait_active(services, waited, lifecycle.active_timeout, vm_name, host.name)


def _reporting(services: EngineServices, host: Candidate, plans: list[PortPlan], vm_name: str) -> frozenset[str]:
    try:
        return reporting_providers(services, host, [plan.need() for plan in plans], vm_name)
    except ProviderError as err:
        raise PortFailure(err.message) from None


def delete_created(services: EngineServices, created: list[tuple[PortPlan, Port]], vm_name: str) -> list[str]:
    """Delete ports this attempt created; the ids of those that could not be (they go to the outbox)."""
    left: list[str] = []
    for plan, port in created:
        try:
            services.providers.get(plan.provider.config).delete_port(
                port.id, f"remove the port of vNIC '{plan.vnic_name}' of VM '{vm_name}' again"
            )
        except ProviderError as err:
            log.warning("%s", err.message)
            left.append(port.id)
    return left


def forget_created(session: Session, lease: Lease, vm: Vm | None, created: list[tuple[PortPlan, Port]],
                    left: list[str], vm_name: str, reason: str) -> None:  # fmt: skip
    """Clear the created ports from their vNICs and the lease; queue those not deleted yet."""
    for plan, port in created:
        nic = fetch(session, VmNic, plan.vnic_id)
        if nic is not None and nic.port_id == port.id:
            nic.port_id = nic.port_provider_id = None
        if port.id in left:
            enqueue(session, provider_id=plan.provider.id, port_id=port.id, vnic_id=plan.vnic_id,
                    vnic_name=plan.vnic_name, vm_id=lease.vm_id, vm_name=vm_name, reason=reason)  # fmt: skip
    if vm is not None:
        lease.forget_ports(vm, {port.id for _plan, port in created})


def _host_call(what: Callable[[], Any], ignore_missing: bool = True) -> None:
    """A best-effort host call of an undo step: failures are logged (the reconciler and the next start repair)."""
    try:
        what()
    except HostAgentError as err:
        if not (ignore_missing and err.code == ErrorCode.VM_NOT_FOUND):
            log.warning("undo on host: %s", err.message)


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
                vm = _vm(session, vm_id, lock=True)
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
    return _StartPlan(vm.name, cluster_name, plans, hosts, _pending(session, plans), False,
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
        raise Conflict(f"[Cannot run VM. {_message(err)}.]") from None
    except ProviderError as err:
        _event(database, Code.USER_FAILED_RUN_VM, f"Failed to run VM {plan.vm_name}: {err.message}", "error", vm_id)
        raise Fault(f"[Cannot run VM. {_message(err)}.]") from None


def _launch(database: Database, services: EngineServices, lifecycle: Lifecycle, lease: Lease, plan: _StartPlan,
            choice: Choice, pause: bool, phases: Phases) -> None:  # fmt: skip
    host = choice.host
    alloc = Allocation()
    created_on_host = False
    try:
        # the host is recorded before it is called (with the first ports made): a recovery then knows where to look
        store = storer(database, lease, plan.vm_name, host_id=host.id)
        allocate(services, lifecycle, plan.plans, binding_for(host), plan.pending, store, plan.vm_name, alloc)
        vifs = [vif_of(p, alloc.ports[p.vnic_id][1], plan.vm_name) for p in plan.plans]
        if not alloc.created:  # no port was made (they all exist): recorded on its own
            with database.transaction() as session:
                session.execute(_ON_HOST, {"vm_id": lease.vm_id, "token": lease.token, "new_host": host.id})
        phases.mark("ports")
        created_on_host = True
        reported = services.host_agents.vm_create(host.endpoint, lease.vm_id, plan.vm_name, vifs)
        phases.mark("host")
        _wait(services, lifecycle, choice.reporting, host, list(alloc.ports.values()), plan.vm_name, reported)
        phases.mark("ACTIVE")
    except Remote as err:
        _undo_start(database, services, lease, plan.vm_name, host, alloc, created_on_host, _message(err))
        raise Fault(f"[Cannot run VM. {_message(err)}.]") from None
    with database.transaction() as session:
        made = {port.id for _p, port in alloc.created}  # stored when they were made
        _store_ports(session, [(p, port) for p, port in alloc.ports.values() if port.id not in made
                               and p.stored != port.id])  # fmt: skip
        _discard(session, lease, alloc, plan.vm_name, "duplicate port of a vNIC")
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
    update(_VM_TABLE)
    .where(*_MINE)
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


def _discard(session: Session, lease: Lease, alloc: Allocation, vm_name: str, reason: str) -> None:
    for plan, port in alloc.discard:
        enqueue(session, provider_id=plan.provider.id, port_id=port.id, vnic_id=plan.vnic_id, vnic_name=plan.vnic_name,
                vm_id=lease.vm_id, vm_name=vm_name, reason=reason)  # fmt: skip


def _undo_start(database: Database, services: EngineServices, lease: Lease, vm_name: str, host: Candidate,
                alloc: Allocation, created_on_host: bool, message: str) -> None:  # fmt: skip
    if created_on_host:
        _host_call(lambda: services.host_agents.vm_destroy(host.endpoint, lease.vm_id))
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


def _event(database: Database, code: Code, text: str, severity: str, vm_id: str | None) -> None:
    with database.transaction() as session:
        record(session, code, text, severity, vm_id=vm_id)


# --- stop -----------------------------------------------------------------------------------------------------------


def stop_vm(database: Database, services: EngineServices, vm_id: str, verb: str, force: bool) -> None:
    """Power off (or shut down): the host destroys the VM and unplugs its VIFs; its ports stay on the provider."""
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, verb, f"Cannot {verb} VM") as lease:
        with database.transaction(write=False) as session:
            vm = _vm(session, vm_id)
            check(StopVm(session, vm, verb))
            host = fetch(session, Host, vm.host_id) if vm.host_id else None
            target = candidate(host, services) if host is not None and host.agent_secret_encrypted else None
        if target is not None:
            try:
                services.host_agents.vm_destroy(target.endpoint, vm_id)
            except HostAgentError as err:
                if err.code != ErrorCode.VM_NOT_FOUND and not force:
                    raise Fault(f"[Cannot {verb} VM. {_message(err)}. To record the VM as down anyway, {verb} it "
                                "with force=true.]") from None  # fmt: skip
        with database.transaction() as session:
            vm = _vm(session, vm_id, lock=True)
            run(StopVm(session, vm, verb))
            lease.release(vm)
            record(session, Code.USER_STOP_VM, f"VM {vm.name} was powered off (host {target.name if target else '-'}).",
                   vm_id=vm.id)  # fmt: skip


# --- removals ---------------------------------------------------------------------------------------------------


def remove_vm(database: Database, services: EngineServices, vm_id: str) -> None:
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, "removal", "Cannot remove VM"), database.transaction() as session:
        vm = _vm(session, vm_id, lock=True)
        command = RemoveVm(session, vm)
        check(command)
        queued = [release_port(session, nic, vm.name, "VM removed") for nic in nics_of(session, vm.id)]
        run(command)
    if any(queued):
        lifecycle.wake_outbox()


def remove_nic(database: Database, services: EngineServices, vm_id: str, nic_id: str) -> None:
    lifecycle = lifecycle_of(services)
    with (holding(database, lifecycle, vm_id, "vNIC removal", "Cannot remove Interface") as lease,
          database.transaction() as session):  # fmt: skip
        vm = _vm(session, vm_id, lock=True)
        nic = nic_in(session, vm, nic_id)
        command = RemoveNic(session, vm, nic)
        check(command)
        queued = release_port(session, nic, vm.name, "vNIC removed")
        run(command)
        lease.release(vm)
    if queued:
        lifecycle.wake_outbox()


def snapshot_action(database: Database, services: EngineServices, vm_id: str,
                    command: Callable[[Session, Vm], Command[Any]]) -> None:  # fmt: skip
    """Preview, undo, commit or restore: the vNIC set may change; ports of vNICs that leave go to the outbox
    (``commands.snapshots.replace_nics``)."""
    lifecycle = lifecycle_of(services)
    with (holding(database, lifecycle, vm_id, "snapshot", "Cannot change the snapshot of VM") as lease,
          database.transaction() as session):  # fmt: skip
        vm = _vm(session, vm_id, lock=True)
        run(command(session, vm))
        lease.release(vm)
    lifecycle.wake_outbox()


# --- vNICs: add, update, plug -------------------------------------------------------------------------------------


def _hot_host(session: Session, services: EngineServices, vm: Vm) -> Candidate | None:
    if vm.status not in HOT or vm.host_id is None:
        return None
    host = fetch(session, Host, vm.host_id)
    return candidate(host, services) if host is not None else None


def add_nic(database: Database, services: EngineServices, vm_id: str, body: Entity) -> str:
    """Add a vNIC; into a running VM, a plugged vNIC on an external network is hot-plugged: added unplugged, its
    port made, plugged on the host, then recorded plugged. Any failure adds nothing."""
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, "hot-plug", "Cannot add Interface") as lease:
        with database.transaction() as session:
            vm = _vm(session, vm_id, lock=True)
            nic = run(AddNic(session, vm, body))
            host = _hot_host(session, services, vm)
            plans = plans_for(session, services, [nic]) if host is not None and nic.plugged else []
            nic_id, vm_name = nic.id, vm.name
            if plans:
                nic.plugged = False  # until the host has plugged it
                pending = _pending(session, plans)
            else:
                lease.release(vm)
        if not plans:
            return nic_id
        assert host is not None
        try:
            alloc = _plug(database, services, lifecycle, lease, vm_name, host, plans, pending)
        except Remote as err:
            with database.transaction() as session:
                added = fetch(session, VmNic, nic_id)
                if added is not None:
                    session.delete(added)
            raise Fault(f"[Cannot add Interface. {_message(err)}.]") from None
        with database.transaction() as session:
            vm = _vm(session, vm_id, lock=True)
            added = fetch(session, VmNic, nic_id)
            assert added is not None
            added.plugged = True
            _store_ports(session, list(alloc.ports.values()))
            _discard(session, lease, alloc, vm_name, "duplicate port of a vNIC")
            lease.release(vm)
        return nic_id


def _plug(
    database: Database, services: EngineServices, lifecycle: Lifecycle, lease: Lease, vm_name: str, host: Candidate,
    plans: list[PortPlan], pending: dict[str, set[str]], on_nic: bool = True,
) -> Allocation:  # fmt: skip
    """Make the ports of ``plans`` and hot-plug them on the host (replugging a vNIC plugged with another port);
    on failure, unplug what was plugged, delete the ports made, and raise."""
    alloc = Allocation()
    plugged: list[str] = []
    try:
        _serve_check(host, plans, vm_name)
        reporting = _reporting(services, host, plans, vm_name)
        allocate(
            services,
            lifecycle,
            plans,
            binding_for(host),
            pending,
            storer(database, lease, vm_name, on_nic),
            vm_name,
            alloc,
        )
        reported: dict[str, str] = {}
        for plan in plans:
            vif = vif_of(plan, alloc.ports[plan.vnic_id][1], vm_name)
            reported.update(services.host_agents.vm_hotplug_nic(host.endpoint, lease.vm_id, vif))
            plugged.append(plan.vnic_id)
        _wait(services, lifecycle, reporting, host, list(alloc.ports.values()), vm_name, reported)
    except Remote as err:
        for vnic_id in plugged:
            _host_call(lambda v=vnic_id: services.host_agents.vm_hotunplug_nic(host.endpoint, lease.vm_id, v))  # type: ignore[misc]
        left = delete_created(services, alloc.created, vm_name)
        with database.transaction() as session:
            vm = fetch(session, Vm, lease.vm_id, lock=True)
            forget_created(session, lease, vm, alloc.created, left, vm_name, "hot-plug failed")
            record(session, Code.NETWORK_ACTIVATE_VM_INTERFACE_FAILURE, f"Failed to plug a network interface into VM "
                   f"{vm_name}: {_message(err)}.", "error", vm_id=lease.vm_id, host_id=host.id)  # fmt: skip
        if left:
            lifecycle.wake_outbox()
        raise
    return alloc


@dataclasses.dataclass
class _NicChange:
    vm_name: str
    host: Candidate | None  # set when the VM runs
    was_plugged: bool
    plugged: bool
    old_key: tuple[str, str] | None  # (provider, provider network) of the port before
    new_key: tuple[str, str] | None
    had_port: bool
    new_plans: list[PortPlan]
    old_plans: list[PortPlan]
    pending: dict[str, set[str]]

    @property
    def moved(self) -> bool:
        return self.old_key != self.new_key


NicCommand = Callable[[Session, Vm, VmNic], Command[VmNic]]


def update_nic(database: Database, services: EngineServices, vm_id: str, nic_id: str, make: NicCommand,
               fault_prefix: str) -> None:  # fmt: skip
    """Update a vNIC (``make`` builds the command: an edit, or activate/deactivate). On a running VM: plugging an
    external vNIC makes its port and plugs it; unplugging unplugs it on the host (the port stays); moving a plugged
    vNIC to another network (rewiring) makes the new port, replugs the vNIC on the host, and removes the old port.
    On a down VM only the port of a vNIC that leaves its external network is removed."""
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, "vNIC update", fault_prefix) as lease:
        with database.transaction(write=False) as session:
            vm = _vm(session, vm_id)
            nic = nic_in(session, vm, nic_id)
            command = make(session, vm, nic)
            check(command)
            change = _nic_change(session, services, vm, nic, command)
        alloc = _apply_remote(database, services, lifecycle, lease, nic_id, change, fault_prefix)
        with database.transaction() as session:
            vm = _vm(session, vm_id, lock=True)
            nic = nic_in(session, vm, nic_id)
            if change.moved:
                release_port(session, nic, vm.name, "vNIC moved to another network")
            run(make(session, vm, nic))
            _store_ports(session, list(alloc.ports.values()))
            _discard(session, lease, alloc, change.vm_name, "duplicate port of a vNIC")
            lease.release(vm)
    if change.moved and change.had_port or alloc.discard:
        lifecycle.wake_outbox()


def _nic_change(session: Session, services: EngineServices, vm: Vm, nic: VmNic, command: Command[VmNic]) -> _NicChange:
    body: Entity = getattr(command, "body", {}) or {}
    plugged = getattr(command, "plugged", None)
    after_plugged = bool(plugged if plugged is not None else body.get("plugged", nic.plugged))
    new_profile = nic.vnic_profile_id
    if "vnic_profile" in body:
        profile = getattr(command, "profile", None)
        new_profile = profile.id if profile is not None else None
    old_key, new_key = port_key(session, nic.vnic_profile_id), port_key(session, new_profile)
    old_plans = plans_for(session, services, [nic])
    new_plans = [dataclasses.replace(plan, plugged=after_plugged, vnic_name=body.get("name", nic.name),
                                     mac=(getattr(command, "mac", None) or nic.mac_address).lower(),
                                     linked=body.get("linked", nic.linked),
                                     port_id=plan.port_id if old_key == new_key else None,
                                     port_provider_id=plan.port_provider_id if old_key == new_key else None)
                 for plan in plans_for(session, services, [nic], {nic.id: new_profile})]  # fmt: skip
    return _NicChange(vm.name, _hot_host(session, services, vm), nic.plugged, after_plugged, old_key, new_key,
                      bool(nic.port_id), new_plans, old_plans, _pending(session, new_plans))  # fmt: skip


def _apply_remote(database: Database, services: EngineServices, lifecycle: Lifecycle, lease: Lease, nic_id: str,
                  change: _NicChange, fault_prefix: str) -> Allocation:  # fmt: skip
    host = change.host
    if host is None:
        return Allocation()
    if change.was_plugged and change.old_plans and (not change.plugged or (change.moved and not change.new_plans)):
        _unplug(database, services, lease, host, nic_id, change.vm_name, fault_prefix)
    if not (change.plugged and change.new_plans):
        return Allocation()
    try:
        if change.was_plugged and not change.moved:  # the same network: bring the port up to date (name, groups)
            alloc = Allocation()
            allocate(services, lifecycle, change.new_plans, binding_for(host), change.pending,
                     storer(database, lease, change.vm_name), change.vm_name, alloc)  # fmt: skip
            for plan, port in alloc.created:  # its port was gone: plugged again with the new one
                services.host_agents.vm_hotplug_nic(host.endpoint, lease.vm_id, vif_of(plan, port, change.vm_name))
            return alloc
        try:
            return _plug(database, services, lifecycle, lease, change.vm_name, host, change.new_plans,
                         change.pending, on_nic=not change.moved)  # fmt: skip
        except Remote:
            if change.was_plugged and change.had_port and change.old_plans:
                _replug(services, lease, host, change.old_plans[0], change.vm_name)
            raise
    except Remote as err:
        raise Fault(f"[{fault_prefix}. {_message(err)}.]") from None


def _unplug(database: Database, services: EngineServices, lease: Lease, host: Candidate, nic_id: str, vm_name: str,
            fault_prefix: str) -> None:  # fmt: skip
    """Hot-unplug a vNIC on the host (its port stays); a VM the host no longer runs has nothing to unplug."""
    try:
        services.host_agents.vm_hotunplug_nic(host.endpoint, lease.vm_id, nic_id)
    except HostAgentError as err:
        if err.code == ErrorCode.VM_NOT_FOUND:
            return
        _event(database, Code.NETWORK_DEACTIVATE_VM_INTERFACE_FAILURE, f"Failed to unplug a network interface of VM "
               f"{vm_name}: {_message(err)}.", "error", lease.vm_id)  # fmt: skip
        raise Fault(f"[{fault_prefix}. {_message(err)}.]") from None


def _replug(services: EngineServices, lease: Lease, host: Candidate, plan: PortPlan, vm_name: str) -> None:
    """Plug a vNIC back with the port it had (a rewiring that failed); best effort."""
    if plan.stored is None:
        return
    try:
        client = services.providers.get(plan.provider.config)
        found = [port_from(raw) for raw in client.find_ports(f"find the port of vNIC '{plan.vnic_name}'",
                                                              {"id": [plan.stored]})]  # fmt: skip
        port = next((p for p in found if p is not None), None)
        if port is not None:
            services.host_agents.vm_hotplug_nic(host.endpoint, lease.vm_id, vif_of(plan, port, vm_name))
    except (ProviderError, *Remote) as err:
        log.warning("plugging vNIC %s of VM %s back with its port: %s", plan.vnic_name, vm_name, _message(err))


def edit_command(body: Entity) -> NicCommand:
    return lambda session, vm, nic: UpdateNic(session, vm, body, nic)


def plug_command(plugged: bool) -> NicCommand:
    return lambda session, vm, nic: PlugNic(session, vm, nic, plugged)


# --- migration ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Migration:
    vm_name: str
    source: Candidate
    plans: list[PortPlan]
    pending: dict[str, set[str]]
    hosts: list[Candidate]
    scope: Scope


def migrate_vm(database: Database, services: EngineServices, vm_id: str, body: Entity) -> None:
    """Live migration: choose the destination (the given host, or the best other up host of the cluster), rebind
    the VM's ports to it, plug them there, wait for them, then destroy the VM at the source. A failure before the
    end rebinds the ports to the source and leaves the VM running there."""
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, "migration", "Cannot migrate VM") as lease:
        with database.transaction(write=False) as session:
            plan = _plan_migration(session, services, vm_id, body)
        try:
            choice = choose(services, plan.hosts, [p.need() for p in plan.plans], plan.vm_name, plan.scope)
        except NoHost as err:
            raise Conflict(f"[Cannot migrate VM. {_message(err)}.]") from None
        except ProviderError as err:
            raise Fault(f"[Cannot migrate VM. {_message(err)}.]") from None
        with database.transaction() as session:
            _vm(session, vm_id, lock=True).status = "migrating"
        dest = choice.host
        alloc = _move(database, services, lifecycle, lease, plan, choice)
        _host_call(lambda: services.host_agents.vm_destroy(plan.source.endpoint, vm_id))
        with database.transaction() as session:
            vm = _vm(session, vm_id, lock=True)
            _store_ports(session, list(alloc.ports.values()))
            _discard(session, lease, alloc, plan.vm_name, "duplicate port of a vNIC")
            vm.status, vm.host_id = "up", dest.id
            lease.release(vm)
            record(session, Code.VM_MIGRATION_DONE, f"Migration of VM {vm.name} from host {plan.source.name} to host "
                   f"{dest.name} completed.", vm_id=vm.id, host_id=dest.id)  # fmt: skip


def _plan_migration(session: Session, services: EngineServices, vm_id: str, body: Entity) -> _Migration:
    vm = _vm(session, vm_id)
    if vm.status != "up" or vm.host_id is None:
        raise Conflict(f"[Cannot migrate VM. VM '{vm.name}' is {vm.status}; only a running VM migrates.]")
    source_row = fetch(session, Host, vm.host_id)
    assert source_row is not None
    source = candidate(source_row, services)
    plans = plans_for(session, services, [nic for nic in nics_of(session, vm.id) if nic.plugged])
    wanted = body.get("host")
    if not wanted:
        cluster = fetch(session, Cluster, vm.cluster_id)
        cluster_name = cluster.name if cluster else vm.cluster_id
        hosts = candidates(session, services, vm.cluster_id, exclude={vm.host_id})
        if not hosts:
            raise Conflict(f"[Cannot migrate VM. There is no other host in cluster '{cluster_name}' that is up to "
                           f"take VM '{vm.name}'.]")  # fmt: skip
        scope = Scope(f"other up host of cluster '{cluster_name}'")
    else:
        hosts = [_destination(session, services, vm, wanted)]
        scope = Scope(f"host '{hosts[0].name}'", True)
    return _Migration(vm.name, source, plans, _pending(session, plans), hosts, scope)


def _destination(session: Session, services: EngineServices, vm: Vm, reference: Entity) -> Candidate:
    try:
        host: Host = resolve(session, Host, reference, "host")
    except BadRequest as err:
        raise BadRequest(f"[Cannot migrate VM. {err.detail}.]") from None
    problems = []
    if host.id == vm.host_id:
        problems.append(f"VM '{vm.name}' already runs on host '{host.name}'")
    if host.cluster_id != vm.cluster_id:
        problems.append(f"Host '{host.name}' is not in the cluster of VM '{vm.name}'")
    if host.status != "up":
        problems.append(f"Host '{host.name}' is {host.status}, not up")
    if problems:
        raise Conflict(f"[Cannot migrate VM. {'. '.join(problems)}.]")
    return candidate(host, services)


def _move(database: Database, services: EngineServices, lifecycle: Lifecycle, lease: Lease, plan: _Migration,
          choice: Choice) -> Allocation:  # fmt: skip
    dest = choice.host
    alloc = Allocation()
    created_on_dest = False
    try:
        store = storer(database, lease, plan.vm_name)
        allocate(services, lifecycle, plan.plans, binding_for(dest), plan.pending, store, plan.vm_name, alloc)
        vifs = [vif_of(p, alloc.ports[p.vnic_id][1], plan.vm_name) for p in plan.plans]
        created_on_dest = True
        reported = services.host_agents.vm_create(dest.endpoint, lease.vm_id, plan.vm_name, vifs)
        _wait(services, lifecycle, choice.reporting, dest, list(alloc.ports.values()), plan.vm_name, reported)
    except Remote as err:
        _undo_move(database, services, lifecycle, lease, plan, dest, created_on_dest, _message(err))
        raise Fault(f"[Cannot migrate VM. {_message(err)}.]") from None
    return alloc


def _undo_move(database: Database, services: EngineServices, lifecycle: Lifecycle, lease: Lease, plan: _Migration,
               dest: Candidate, created_on_dest: bool, message: str) -> None:  # fmt: skip
    if created_on_dest:
        _host_call(lambda: services.host_agents.vm_destroy(dest.endpoint, lease.vm_id))
    try:  # the ports go back to the source, where the VM still runs
        allocate(services, lifecycle, _refreshed(database, services, plan), binding_for(plan.source), plan.pending,
                 lambda pairs: None, plan.vm_name, Allocation())  # fmt: skip
    except PortFailure as err:
        log.warning("rebinding the ports of VM %s to host %s: %s", plan.vm_name, plan.source.name, err.message)
    with database.transaction() as session:
        vm = fetch(session, Vm, lease.vm_id, lock=True)
        if vm is not None:
            vm.status = "up"
            lease.release(vm)
        record(session, Code.VM_MIGRATION_FAILED, f"Migration of VM {plan.vm_name} to host {dest.name} failed: "
               f"{message}. It still runs on host {plan.source.name}.", "error", vm_id=lease.vm_id)  # fmt: skip


def _refreshed(database: Database, services: EngineServices, plan: _Migration) -> list[PortPlan]:
    """The plans again, with the ports the migration stored meanwhile."""
    with database.transaction(write=False) as session:
        nics = [fetch(session, VmNic, p.vnic_id) for p in plan.plans]
        return plans_for(session, services, [nic for nic in nics if nic is not None])
