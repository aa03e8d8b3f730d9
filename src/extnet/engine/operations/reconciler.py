"""The reconciler: makes the providers' ports match the engine's vNICs again, whatever happened (an engine killed
in the middle of an operation, a provider down when a port was to be deleted, a port deleted by hand).

One pass (at engine start, every ``reconcile_interval`` seconds, and ``extnet engine reconcile``):

1. recover the operations an engine process did not finish (their lease is stale): the ports they had made go to
   the outbox, a VM that was being started goes back to down (and is destroyed on its host), a VM that was
   migrating stays on its source host;
2. deliver the whole outbox, whatever its backoff;
3. per managed provider, list the ports this engine made (``device_owner=oVirt`` and the engine's marker, filtered
   by the provider, a page at a time): a port whose vNIC does not exist, or does not have it as its port, is an
   orphan and is removed; then every plugged vNIC on the provider's networks of a running VM must have its port,
   bound to the VM's host: a missing port is made again (and plugged on the host), a wrong binding repaired.

Every repair is an event. VMs with an operation in progress are left alone (the next pass sees them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from extnet.common.hostrpc import ErrorCode
from extnet.common.worker import Worker
from extnet.engine.commands.nics import nics_of
from extnet.engine.commands.provider_sync import recently_recorded
from extnet.engine.hosts.client import HostAgentError
from extnet.engine.operations.context import Lifecycle
from extnet.engine.operations.outbox import deliver
from extnet.engine.operations.ports import (
    DEVICE_OWNER,
    Allocation,
    PortAllocator,
    PortFailure,
    PortPlan,
    plans_for,
    vif_of,
)
from extnet.engine.operations.scheduling import Candidate, candidate
from extnet.engine.operations.vm_leases import Lease, release, stale, take_over, try_acquire
from extnet.engine.operations.vm_ports import HOT, binding_for, delete_created, forget_created, lifecycle_of, storer
from extnet.engine.providers.client import ProviderError
from extnet.engine.providers.neutron import ProviderPort
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Host, Network, Provider, Vm, VmNic, VnicProfile
from extnet.engine.store.outbox import enqueue, pending_port_ids

log = logging.getLogger("extnet.engine.reconciler")
LISTED_FIELDS = ("id", "device_id", "network_id", "binding:host_id", "mac_address", "name")
CHUNK = 500
Progress = Callable[[str, int, int], None]  # what is being done, how far, out of how much


@dataclass
class ReconcileReport:
    recovered: list[str] = field(default_factory=list)  # VMs whose cut-short operation was undone
    outbox_deleted: int = 0
    ports_checked: int = 0
    orphans_removed: int = 0
    ports_recreated: int = 0
    bindings_repaired: int = 0
    busy: list[str] = field(default_factory=list)  # VMs left alone: an operation was in progress
    failures: list[str] = field(default_factory=list)

    @property
    def repairs(self) -> int:
        return len(self.recovered) + self.orphans_removed + self.ports_recreated + self.bindings_repaired


def _nothing(_what: str, _done: int, _total: int) -> None:
    pass


def reconcile(database: Database, services: EngineServices, progress: Progress = _nothing) -> ReconcileReport:
    report = ReconcileReport()
    recover(database, services, report, progress)
    delivered = deliver(database, services, due_only=False)
    report.outbox_deleted += len(delivered.deleted)
    report.failures.extend(delivered.failed)
    with database.transaction(write=False) as session:
        stmt = select(Provider.id).where(Provider.unmanaged.is_(False), Provider.url.is_not(None))
        provider_ids = list(session.scalars(stmt.order_by(Provider.name)))
    for provider_id in provider_ids:
        try:
            _reconcile_provider(database, services, provider_id, report, progress)
        except ProviderError as err:
            report.failures.append(err.message)
            _failed(database, provider_id, err.message)
    delivered = deliver(database, services)
    report.outbox_deleted += len(delivered.deleted)
    report.failures.extend(delivered.failed)
    return report


def _failed(database: Database, provider_id: str, message: str) -> None:
    text = f"Reconciling the ports of provider {provider_id} failed: {message}"
    with database.transaction() as session:
        provider = fetch(session, Provider, provider_id)
        if provider is not None:
            text = f"Reconciling the ports on provider {provider.name} failed: {message}"
        if not recently_recorded(session, Code.RECONCILE_FAILED, provider_id, text):
            record(session, Code.RECONCILE_FAILED, text, "warning", provider_id=provider_id)


# --- 1. operations cut short ------------------------------------------------------------------------------------------


def recover(
    database: Database, services: EngineServices, report: ReconcileReport, progress: Progress = _nothing
) -> None:
    """Undo what operations cut short left: their ports go to the outbox; a VM being started (or stopped) ends
    down and is destroyed on its host; a running VM (a hot-plug, a rewiring or a migration was cut short) stays
    where it ran and its host is handed its vNICs again, exactly as the engine has them (``VM.create`` brings a
    running VM to the VIFs it is given)."""
    lifecycle = lifecycle_of(services)
    with database.transaction(write=False) as session:
        vm_ids = list(session.scalars(select(Vm.id).where(Vm.operation.is_not(None)).order_by(Vm.name)))
    for done, vm_id in enumerate(vm_ids, 1):
        progress("recovering cut-short operations", done, len(vm_ids))
        host: Candidate | None = None
        with database.transaction() as session:
            vm = fetch(session, Vm, vm_id, lock=True)
            lease = take_over(session, lifecycle, vm) if vm is not None else None
            if vm is None or lease is None:
                continue
            row = fetch(session, Host, vm.host_id) if vm.host_id else None
            host = candidate(row, services) if row is not None and row.agent_secret_encrypted else None
            removed = _undo_ports(session, lease, vm)
            after = {"wait_for_launch": "down", "migrating": "up"}.get(vm.status, vm.status)
            if lease.operation in ("stop", "shutdown"):
                after = "down"
            if after == "down":
                vm.host_id = None
            vm.status, name = after, vm.name
            if after not in HOT:
                lease.release(vm)
            record(session, Code.VM_OPERATION_RECOVERED, f"The {lease.operation} of VM {vm.name} was cut short (the "
                   f"engine stopped during it) and was undone: {removed} port(s) it had made are removed, the VM is "
                   f"{after}.", "warning", vm_id=vm.id)  # fmt: skip
            report.recovered.append(vm.name)
        if host is not None and after == "down":
            try:
                services.host_agents.vm_destroy(host.endpoint, vm_id)
            except HostAgentError as err:
                if err.code != ErrorCode.VM_NOT_FOUND:
                    report.failures.append(err.message)
        elif host is not None:
            _resync(database, services, lease, host, name, report)
        release(database, lifecycle, lease)


def _resync(database: Database, services: EngineServices, lease: Lease, host: Candidate, vm_name: str,
            report: ReconcileReport) -> None:  # fmt: skip
    """Hand the VM's host the VM's plugged vNICs as the engine has them, their ports made where missing."""
    with database.transaction(write=False) as session:
        plans = plans_for(session, services, [n for n in nics_of(session, lease.vm_id) if n.plugged])
        pending = {pid: pending_port_ids(session, pid) for pid in {p.provider.id for p in plans}}
    alloc = Allocation()
    try:
        allocator = PortAllocator(services, lifecycle_of(services), binding_for(host), pending,
                                  storer(database, lease, vm_name), vm_name)  # fmt: skip
        allocator.allocate(plans, alloc)
        vifs = [vif_of(plan, alloc.ports[plan.vnic_id][1], vm_name) for plan in plans]
        services.host_agents.vm_create(host.endpoint, lease.vm_id, vm_name, vifs)
    except (PortFailure, HostAgentError) as err:
        report.failures.append(err.message)
    with database.transaction() as session:
        vm = fetch(session, Vm, lease.vm_id, lock=True)
        for plan, port in alloc.ports.values():
            nic = fetch(session, VmNic, plan.vnic_id)
            if nic is not None:
                nic.port_id, nic.port_provider_id = port.id, plan.provider.id
        lease.release(vm)


def _undo_ports(session: Session, lease: Lease, vm: Vm) -> int:
    for made in lease.previous_ports:
        nic = fetch(session, VmNic, made.get("vnic_id", ""))
        if nic is not None and nic.port_id == made.get("port_id"):
            nic.port_id = nic.port_provider_id = None
        enqueue(session, provider_id=made["provider_id"], port_id=made["port_id"], vnic_id=made.get("vnic_id", ""),
                vnic_name=nic.name if nic else "", vm_id=vm.id, vm_name=vm.name,
                reason=f"{lease.operation} cut short")  # fmt: skip
    return len(lease.previous_ports)


# --- 3. one provider ------------------------------------------------------------------------------------------------


def _reconcile_provider(database: Database, services: EngineServices, provider_id: str, report: ReconcileReport,
                        progress: Progress) -> None:  # fmt: skip
    lifecycle = lifecycle_of(services)
    with database.transaction(write=False) as session:
        provider = fetch(session, Provider, provider_id)
        if provider is None:
            return
        name, config = provider.name, services.provider_config(provider)
    client = services.providers.get(config)
    label = f"provider {name}"
    listed: dict[str, ProviderPort] = {}
    filters = {"device_owner": DEVICE_OWNER, "description": lifecycle.marker}
    for page in client.port_pages("list the ports this engine made", filters, LISTED_FIELDS):
        listed.update((port.id, port) for port in page)
        progress(f"{label}: listing ports", len(listed), 0)
    report.ports_checked += len(listed)
    _remove_orphans(database, lifecycle, provider_id, name, listed, report, progress, label)
    _repair_running(database, services, provider_id, listed, report, progress, label)


def _remove_orphans(database: Database, lifecycle: Lifecycle, provider_id: str, name: str,
                    listed: dict[str, ProviderPort], report: ReconcileReport, progress: Progress,
                    label: str) -> None:  # fmt: skip
    suspects = [port for port in listed.values() if not _owned_here(database, provider_id, port)]
    queued = 0
    for done, port in enumerate(suspects, 1):
        progress(f"{label}: removing orphan ports", done, len(suspects))
        with database.transaction() as session:
            why = _orphan_reason(session, provider_id, port)
            if why is None:
                continue
            if why == "busy":
                report.busy.append(port.device_id or "")
                continue
            enqueue(session, provider_id=provider_id, port_id=port.id, vnic_id=port.device_id or "",
                    vnic_name=port.name or "", vm_id=None, vm_name=None, reason="orphan")  # fmt: skip
            record(session, Code.ORPHAN_PORT_REMOVED, f"Port {port.id} on provider {name} has no vNIC in the engine "
                   f"({why}): it is removed.", "warning", provider_id=provider_id)  # fmt: skip
            queued += 1
    report.orphans_removed += queued
    if queued:
        lifecycle.wake_outbox()


def _owned_here(database: Database, provider_id: str, port: ProviderPort) -> bool:
    """The quick test (a read): the port is its vNIC's port."""
    with database.transaction(write=False) as session:
        return _orphan_reason(session, provider_id, port, lock=False) is None


def _orphan_reason(session: Session, provider_id: str, port: ProviderPort, lock: bool = True) -> str | None:
    """Why the port is an orphan; None if it is its vNIC's port (or already queued for deletion); "busy" if its
    VM has an operation in progress (which may be about to store it)."""
    if port.id in pending_port_ids(session, provider_id):
        return None
    nic = fetch(session, VmNic, port.device_id) if port.device_id else None
    if nic is None:
        return f"vNIC {port.device_id} does not exist"
    if nic.port_id == port.id and nic.port_provider_id == provider_id:
        return None
    vm = fetch(session, Vm, nic.vm_id, lock=lock)
    if vm is not None and vm.operation is not None and not stale(session, vm):
        return "busy"
    return (
        f"vNIC {nic.name} of VM {vm.name if vm else nic.vm_id} has {'port ' + nic.port_id if nic.port_id else 'none'}"
    )


@dataclass
class _Running:
    vm_id: str
    vm_name: str
    host: Candidate
    plans: list[PortPlan]


def _repair_running(database: Database, services: EngineServices, provider_id: str,
                    listed: dict[str, ProviderPort], report: ReconcileReport, progress: Progress,
                    label: str) -> None:  # fmt: skip
    running = _running_on(database, services, provider_id)
    unlisted = [p.stored for vm in running for p in vm.plans if p.stored and p.stored not in listed]
    known = dict(listed)
    if unlisted:  # a port whose description a user changed is not listed, and still the vNIC's port
        config = running[0].plans[0].provider.config
        found = services.providers.get(config).find_ports("find ports of running VMs", {"id": unlisted}, LISTED_FIELDS)
        known.update((port.id, port) for port in found)
    for done, vm in enumerate(running, 1):
        progress(f"{label}: checking running VMs", done, len(running))
        wrong = [plan for plan in vm.plans if _needs_repair(plan, known, vm.host)]
        if wrong:
            _repair(database, services, vm, wrong, report)


def _needs_repair(plan: PortPlan, known: dict[str, ProviderPort], host: Candidate) -> bool:
    port = known.get(plan.stored or "")
    if port is None:
        return True
    expected = host.binding(plan.provider.plugin_type)
    wrong_host = port.host_reported and expected is not None and port.host_id != expected
    return wrong_host or (port.mac is not None and port.mac != plan.mac)


def _running_on(database: Database, services: EngineServices, provider_id: str) -> list[_Running]:
    """Running VMs without an operation in progress, with their plugged vNICs on the provider's networks."""
    with database.transaction(write=False) as session:
        profiles = (select(VnicProfile.id).join(Network, Network.id == VnicProfile.network_id)
                    .where(Network.external_provider_id == provider_id))  # fmt: skip
        on_provider = select(VmNic.vm_id).where(VmNic.plugged.is_(True), VmNic.vnic_profile_id.in_(profiles))
        stmt = (select(Vm).where(Vm.id.in_(on_provider), Vm.status.in_(HOT), Vm.operation.is_(None),
                                 Vm.host_id.is_not(None)).order_by(Vm.name))  # fmt: skip
        found: list[_Running] = []
        for vm in session.scalars(stmt):
            host = session.get(Host, vm.host_id)
            if host is None:
                continue
            plans = [p for p in plans_for(session, services, [n for n in nics_of(session, vm.id) if n.plugged])
                     if p.provider.id == provider_id]  # fmt: skip
            found.append(_Running(vm.id, vm.name, candidate(host, services), plans))
        return found


def _repair(database: Database, services: EngineServices, vm: _Running, plans: list[PortPlan],
            report: ReconcileReport) -> None:  # fmt: skip
    lifecycle = lifecycle_of(services)
    with database.transaction() as session:
        row = fetch(session, Vm, vm.vm_id, lock=True)
        fresh = row is not None and row.status in HOT and row.host_id == vm.host.id
        lease = try_acquire(session, lifecycle, row, "reconciliation") if fresh and row is not None else None
        pending = {plans[0].provider.id: pending_port_ids(session, plans[0].provider.id)}
    if lease is None:
        report.busy.append(vm.vm_name)
        return
    alloc = Allocation()
    try:
        allocator = PortAllocator(services, lifecycle, binding_for(vm.host), pending,
                                  storer(database, lease, vm.vm_name), vm.vm_name)  # fmt: skip
        allocator.allocate(plans, alloc)
        for plan, port in alloc.created:
            services.host_agents.vm_hotplug_nic(vm.host.endpoint, vm.vm_id, vif_of(plan, port, vm.vm_name))
    except (PortFailure, HostAgentError) as err:
        report.failures.append(err.message)
        left = delete_created(services, alloc.created, vm.vm_name)
        with database.transaction() as session:
            row = fetch(session, Vm, vm.vm_id, lock=True)
            forget_created(session, lease, row, alloc.created, left, vm.vm_name, "reconciliation failed")
            lease.release(row)
        lifecycle.notify_released()
        return
    created = {port.id for _plan, port in alloc.created}
    with database.transaction() as session:
        row = fetch(session, Vm, vm.vm_id, lock=True)
        for plan, port in alloc.ports.values():
            nic = fetch(session, VmNic, plan.vnic_id)
            if nic is not None:
                nic.port_id, nic.port_provider_id = port.id, plan.provider.id
            if port.id in created:
                report.ports_recreated += 1
                record(session, Code.MISSING_PORT_RECREATED, f"The port of vNIC {plan.vnic_name} of running VM "
                       f"{vm.vm_name} was missing on provider {plan.provider.name}: port {port.id} was made and "
                       f"plugged on host {vm.host.name}.", "warning", vm_id=vm.vm_id,
                       provider_id=plan.provider.id)  # fmt: skip
            else:
                report.bindings_repaired += 1
                record(session, Code.PORT_BINDING_REPAIRED, f"Port {port.id} of vNIC {plan.vnic_name} of running VM "
                       f"{vm.vm_name} on provider {plan.provider.name} was brought back in line (binding host, MAC).",
                       "warning", vm_id=vm.vm_id, provider_id=plan.provider.id)  # fmt: skip
        for plan, port in alloc.discard:
            enqueue(session, provider_id=plan.provider.id, port_id=port.id, vnic_id=plan.vnic_id,
                    vnic_name=plan.vnic_name, vm_id=vm.vm_id, vm_name=vm.vm_name, reason="duplicate")  # fmt: skip
        lease.release(row)
    lifecycle.notify_released()


# --- the engine's worker --------------------------------------------------------------------------------------------


class ReconcilerService:
    """Runs a pass at engine start, then every ``interval`` seconds (0 or less: only at start)."""

    def __init__(self, database: Database, services: EngineServices, interval: float) -> None:
        self.database = database
        self.services = services
        self.interval = interval
        self.last: ReconcileReport | None = None
        self._worker = Worker("extnet-reconciler", self._pass, log=log, failure="reconciling the ports failed",
                              backoff=lambda _failures: self._next(), join_timeout=self._join_timeout)  # fmt: skip

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _join_timeout(self) -> float:
        return self.services.provider_connect_timeout + self.services.provider_read_timeout + 5

    def _pass(self) -> float | None:
        self.last = reconcile(self.database, self.services)
        log.info("ports reconciled: %d repair(s), %d failure(s), %d VM(s) busy", self.last.repairs,
                 len(self.last.failures), len(set(self.last.busy)))  # fmt: skip
        return self._next()

    def _next(self) -> float | None:
        """When the next pass is due: ``interval`` seconds after this one, or never."""
        return self.interval if self.interval > 0 else None
