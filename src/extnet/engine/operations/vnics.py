"""A VM's vNICs: adding, hot-plugging and hot-unplugging, rewiring one to another network or profile, and
removing them, under the VM's lease (``vm_ports`` says how VM operations treat ports and hosts)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from extnet.common.hostrpc import ErrorCode
from extnet.engine.commands.base import Command, run
from extnet.engine.commands.hosts import check
from extnet.engine.commands.nics import AddNic, NicInput, PlugNic, RemoveNic, UpdateNic
from extnet.engine.errors import Fault
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
    candidate,
)
from extnet.engine.operations.vm_leases import Lease, holding
from extnet.engine.operations.vm_ports import (
    HOT,
    Remote,
    binding_for,
    check_serves,
    delete_created,
    discard_allocation,
    error_text,
    forget_created,
    lifecycle_of,
    pending_by_provider,
    record_event,
    reporting_of,
    store_ports,
    storer,
    undo_on_host,
    wait_unreported,
)
from extnet.engine.providers.client import ProviderError
from extnet.engine.providers.protocol import NetworkProvider
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Host, Vm, VmNic
from extnet.engine.store.outbox import release_port
from extnet.engine.store.queries import nic_in, port_key, vm_of

log = logging.getLogger("extnet.engine.vmops")


# --- vNICs: add, update, plug -------------------------------------------------------------------------------------


def _hot_host(session: Session, services: EngineServices, vm: Vm) -> Candidate | None:
    if vm.status not in HOT or vm.host_id is None:
        return None
    host = fetch(session, Host, vm.host_id)
    return candidate(host, services) if host is not None else None


def add_nic(database: Database, services: EngineServices, vm_id: str, given: NicInput) -> str:
    """Add a vNIC; into a running VM, a plugged vNIC on an external network is hot-plugged: added unplugged, its
    port made, plugged on the host, then recorded plugged. Any failure adds nothing."""
    lifecycle = lifecycle_of(services)
    with holding(database, lifecycle, vm_id, "hot-plug", "Cannot add Interface") as lease:
        with database.transaction() as session:
            vm = vm_of(session, vm_id, lock=True)
            nic = run(AddNic(session, vm, given))
            host = _hot_host(session, services, vm)
            plans = plans_for(session, services, [nic]) if host is not None and nic.plugged else []
            nic_id, vm_name = nic.id, vm.name
            if plans:
                nic.plugged = False  # until the host has plugged it
                pending = pending_by_provider(session, plans)
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
            raise Fault(f"[Cannot add Interface. {error_text(err)}.]") from None
        with database.transaction() as session:
            vm = vm_of(session, vm_id, lock=True)
            added = fetch(session, VmNic, nic_id)
            assert added is not None
            added.plugged = True
            store_ports(session, list(alloc.ports.values()))
            discard_allocation(session, lease, alloc, vm_name, "duplicate port of a vNIC")
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
        check_serves(host, plans, vm_name)
        reporting = reporting_of(services, host, plans, vm_name)
        allocator = PortAllocator(services, lifecycle, binding_for(host), pending,
                                  storer(database, lease, vm_name, on_nic), vm_name)  # fmt: skip
        allocator.allocate(plans, alloc)
        reported: dict[str, str] = {}
        for plan in plans:
            vif = vif_of(plan, alloc.ports[plan.vnic_id][1], vm_name)
            reported.update(services.host_agents.vm_hotplug_nic(host.endpoint, lease.vm_id, vif))
            plugged.append(plan.vnic_id)
        wait_unreported(services, lifecycle, reporting, host, list(alloc.ports.values()), vm_name, reported)
    except Remote as err:
        for vnic_id in plugged:
            undo_on_host(lambda v=vnic_id: services.host_agents.vm_hotunplug_nic(host.endpoint, lease.vm_id, v))  # type: ignore[misc]
        left = delete_created(services, alloc.created, vm_name)
        with database.transaction() as session:
            vm = fetch(session, Vm, lease.vm_id, lock=True)
            forget_created(session, lease, vm, alloc.created, left, vm_name, "hot-plug failed")
            record(session, Code.NETWORK_ACTIVATE_VM_INTERFACE_FAILURE, f"Failed to plug a network interface into VM "
                   f"{vm_name}: {error_text(err)}.", "error", vm_id=lease.vm_id, host_id=host.id)  # fmt: skip
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
            vm = vm_of(session, vm_id)
            nic = nic_in(session, vm, nic_id)
            command = make(session, vm, nic)
            check(command)
            change = _nic_change(session, services, vm, nic, command)
        alloc = _apply_remote(database, services, lifecycle, lease, nic_id, change, fault_prefix)
        with database.transaction() as session:
            vm = vm_of(session, vm_id, lock=True)
            nic = nic_in(session, vm, nic_id)
            if change.moved:
                release_port(session, nic, vm.name, "vNIC moved to another network")
            run(make(session, vm, nic))
            store_ports(session, list(alloc.ports.values()))
            discard_allocation(session, lease, alloc, change.vm_name, "duplicate port of a vNIC")
            lease.release(vm)
    if change.moved and change.had_port or alloc.discard:
        lifecycle.wake_outbox()


def _nic_change(session: Session, services: EngineServices, vm: Vm, nic: VmNic, command: Command[VmNic]) -> _NicChange:
    given = command.given if isinstance(command, UpdateNic) else NicInput()
    plugged = getattr(command, "plugged", None)
    if plugged is None:
        plugged = nic.plugged if given.plugged is None else given.plugged
    after_plugged = bool(plugged)
    new_profile = nic.vnic_profile_id
    if given.vnic_profile is not None:
        profile = getattr(command, "profile", None)
        new_profile = profile.id if profile is not None else None
    old_key, new_key = port_key(session, nic.vnic_profile_id), port_key(session, new_profile)
    old_plans = plans_for(session, services, [nic])
    vnic_name = nic.name if given.name is None else given.name
    linked = nic.linked if given.linked is None else given.linked
    new_plans = [dataclasses.replace(plan, plugged=after_plugged, vnic_name=vnic_name,
                                     mac=(getattr(command, "mac", None) or nic.mac_address).lower(), linked=linked,
                                     port_id=plan.port_id if old_key == new_key else None,
                                     port_provider_id=plan.port_provider_id if old_key == new_key else None)
                 for plan in plans_for(session, services, [nic], {nic.id: new_profile})]  # fmt: skip
    return _NicChange(vm.name, _hot_host(session, services, vm), nic.plugged, after_plugged, old_key, new_key,
                      bool(nic.port_id), new_plans, old_plans, pending_by_provider(session, new_plans))  # fmt: skip


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
            allocator = PortAllocator(services, lifecycle, binding_for(host), change.pending,
                                      storer(database, lease, change.vm_name), change.vm_name)  # fmt: skip
            alloc = allocator.allocate(change.new_plans, Allocation())
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
        raise Fault(f"[{fault_prefix}. {error_text(err)}.]") from None


def _unplug(database: Database, services: EngineServices, lease: Lease, host: Candidate, nic_id: str, vm_name: str,
            fault_prefix: str) -> None:  # fmt: skip
    """Hot-unplug a vNIC on the host (its port stays); a VM the host no longer runs has nothing to unplug."""
    try:
        services.host_agents.vm_hotunplug_nic(host.endpoint, lease.vm_id, nic_id)
    except HostAgentError as err:
        if err.code == ErrorCode.VM_NOT_FOUND:
            return
        record_event(database, Code.NETWORK_DEACTIVATE_VM_INTERFACE_FAILURE,
                     f"Failed to unplug a network interface of VM {vm_name}: {error_text(err)}.", "error",
                     lease.vm_id)  # fmt: skip
        raise Fault(f"[{fault_prefix}. {error_text(err)}.]") from None


def _replug(services: EngineServices, lease: Lease, host: Candidate, plan: PortPlan, vm_name: str) -> None:
    """Plug a vNIC back with the port it had (a rewiring that failed); best effort."""
    if plan.stored is None:
        return
    try:
        client: NetworkProvider = services.providers.get(plan.provider.config)
        found = client.find_ports(f"find the port of vNIC '{plan.vnic_name}'", {"id": [plan.stored]})
        port = next(iter(found), None)
        if port is not None:
            services.host_agents.vm_hotplug_nic(host.endpoint, lease.vm_id, vif_of(plan, port, vm_name))
    except (ProviderError, *Remote) as err:
        log.warning("plugging vNIC %s of VM %s back with its port: %s", plan.vnic_name, vm_name, error_text(err))


def edit_command(given: NicInput) -> NicCommand:
    return lambda session, vm, nic: UpdateNic(session, vm, given, nic)


def plug_command(plugged: bool) -> NicCommand:
    return lambda session, vm, nic: PlugNic(session, vm, nic, plugged)


def remove_nic(database: Database, services: EngineServices, vm_id: str, nic_id: str) -> None:
    lifecycle = lifecycle_of(services)
    with (holding(database, lifecycle, vm_id, "vNIC removal", "Cannot remove Interface") as lease,
          database.transaction() as session):  # fmt: skip
        vm = vm_of(session, vm_id, lock=True)
        nic = nic_in(session, vm, nic_id)
        command = RemoveNic(session, vm, nic)
        check(command)
        queued = release_port(session, nic, vm.name, "vNIC removed")
        run(command)
        lease.release(vm)
    if queued:
        lifecycle.wake_outbox()
