"""Live migration of a VM: its ports bound to the destination host, plugged there, then the VM moved, under its
lease (``vm_ports`` says how VM operations treat ports and hosts)."""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy.orm import Session

from extnet.engine.commands.inputs import Ref
from extnet.engine.commands.nics import nics_of
from extnet.engine.commands.vms import MigrateInput
from extnet.engine.errors import BadRequest, Conflict, Fault
from extnet.engine.operations.context import Lifecycle
from extnet.engine.operations.ports import (
    Allocation,
    PortAllocator,
    PortFailure,
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
)
from extnet.engine.operations.vm_leases import Lease, holding
from extnet.engine.operations.vm_ports import (
    Remote,
    binding_for,
    discard_allocation,
    error_text,
    lifecycle_of,
    pending_by_provider,
    store_ports,
    storer,
    undo_on_host,
    wait_unreported,
)
from extnet.engine.providers.client import ProviderError
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Cluster, Host, Vm, VmNic
from extnet.engine.store.queries import resolve, vm_of

log = logging.getLogger("extnet.engine.vmops")


# --- migration ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Migration:
    vm_name: str
    source: Candidate
    plans: list[PortPlan]
    pending: dict[str, set[str]]
    hosts: list[Candidate]
    scope: Scope


def migrate_vm(database: Database, services: EngineServices, vm_id: str, given: MigrateInput) -> None:
    """Live migration: choose the destination (the given host, or the best other up host of the cluster), rebind
    the VM's ports to it, plug them there, wait for them, then destroy the VM at the source. A failure before the
    end rebinds the ports to the source and leaves the VM running there."""
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, "migration", "Cannot migrate VM") as lease:
        with database.transaction(write=False) as session:
            plan = _plan_migration(session, services, vm_id, given)
        try:
            choice = choose(services, plan.hosts, [p.need() for p in plan.plans], plan.vm_name, plan.scope)
        except NoHost as err:
            raise Conflict(f"[Cannot migrate VM. {error_text(err)}.]") from None
        except ProviderError as err:
            raise Fault(f"[Cannot migrate VM. {error_text(err)}.]") from None
        with database.transaction() as session:
            vm_of(session, vm_id, lock=True).status = "migrating"
        dest = choice.host
        alloc = _move(database, services, lifecycle, lease, plan, choice)
        undo_on_host(lambda: services.host_agents.vm_destroy(plan.source.endpoint, vm_id))
        with database.transaction() as session:
            vm = vm_of(session, vm_id, lock=True)
            store_ports(session, list(alloc.ports.values()))
            discard_allocation(session, lease, alloc, plan.vm_name, "duplicate port of a vNIC")
            vm.status, vm.host_id = "up", dest.id
            lease.release(vm)
            record(session, Code.VM_MIGRATION_DONE, f"Migration of VM {vm.name} from host {plan.source.name} to host "
                   f"{dest.name} completed.", vm_id=vm.id, host_id=dest.id)  # fmt: skip


def _plan_migration(session: Session, services: EngineServices, vm_id: str, given: MigrateInput) -> _Migration:
    vm = vm_of(session, vm_id)
    if vm.status != "up" or vm.host_id is None:
        raise Conflict(f"[Cannot migrate VM. VM '{vm.name}' is {vm.status}; only a running VM migrates.]")
    source_row = fetch(session, Host, vm.host_id)
    assert source_row is not None
    source = candidate(source_row, services)
    plans = plans_for(session, services, [nic for nic in nics_of(session, vm.id) if nic.plugged])
    wanted = given.host
    if wanted is None:
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
    return _Migration(vm.name, source, plans, pending_by_provider(session, plans), hosts, scope)


def _destination(session: Session, services: EngineServices, vm: Vm, reference: Ref) -> Candidate:
    try:
        host: Host = resolve(session, Host, reference.wire(), "host")
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
        allocator = PortAllocator(services, lifecycle, binding_for(dest), plan.pending, store, plan.vm_name)
        allocator.allocate(plan.plans, alloc)
        vifs = [vif_of(p, alloc.ports[p.vnic_id][1], plan.vm_name) for p in plan.plans]
        created_on_dest = True
        reported = services.host_agents.vm_create(dest.endpoint, lease.vm_id, plan.vm_name, vifs)
        wait_unreported(services, lifecycle, choice.reporting, dest, list(alloc.ports.values()), plan.vm_name, reported)
    except Remote as err:
        _undo_move(database, services, lifecycle, lease, plan, dest, created_on_dest, error_text(err))
        raise Fault(f"[Cannot migrate VM. {error_text(err)}.]") from None
    return alloc


def _undo_move(database: Database, services: EngineServices, lifecycle: Lifecycle, lease: Lease, plan: _Migration,
               dest: Candidate, created_on_dest: bool, message: str) -> None:  # fmt: skip
    if created_on_dest:
        undo_on_host(lambda: services.host_agents.vm_destroy(dest.endpoint, lease.vm_id))
    try:  # the ports go back to the source, where the VM still runs
        back = PortAllocator(services, lifecycle, binding_for(plan.source), plan.pending, lambda pairs: None,
                             plan.vm_name)  # fmt: skip
        back.allocate(_refreshed(database, services, plan), Allocation())
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
