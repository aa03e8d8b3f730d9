"""What the VM operations share (``vm_run``: start, stop, removal, snapshots; ``vnics``: add, hot-plug and
hot-unplug, rewiring, removal; ``migration``): storing ports the moment they exist, waiting for them, undoing
what an attempt made.

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

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from extnet.common.hostrpc import ErrorCode
from extnet.engine.hosts.client import HostAgentError
from extnet.engine.operations.context import Lifecycle
from extnet.engine.operations.ports import (
    ACTIVE,
    Allocation,
    PortFailure,
    PortPlan,
    reports_status,
    wait_active,
)
from extnet.engine.operations.scheduling import (
    Candidate,
    reporting_providers,
)
from extnet.engine.operations.vm_leases import Lease
from extnet.engine.providers.client import ProviderError
from extnet.engine.providers.neutron import ProviderPort
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, fetch
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Vm, VmNic
from extnet.engine.store.outbox import enqueue, pending_port_ids

log = logging.getLogger("extnet.engine.vmops")
HOT = ("up", "paused")  # a VM whose vNICs are plugged on a host
Remote = (PortFailure, HostAgentError)


def lifecycle_of(services: EngineServices) -> Lifecycle:
    lifecycle = services.lifecycle
    assert isinstance(lifecycle, Lifecycle), "the engine app sets services.lifecycle"
    return lifecycle


def error_text(err: Exception) -> str:
    return str(getattr(err, "message", None) or err).rstrip(".")


def pending_by_provider(session: Session, plans: list[PortPlan]) -> dict[str, set[str]]:
    return {pid: pending_port_ids(session, pid) for pid in {plan.provider.id for plan in plans}}


def storer(
    database: Database, lease: Lease, vm_name: str, on_nic: bool = True, host_id: str | None = None
) -> Callable[[list[tuple[PortPlan, ProviderPort]]], None]:
    """Stores ports the moment they were created: in the lease (undone if the engine dies) and on their vNICs (not
    when ``on_nic`` is false: a vNIC being rewired keeps its old port until the new one is plugged); ``host_id``:
    the host the VM goes to, recorded with them. A few statements built once, no rows loaded: a start's ports are
    stored while it waits."""

    def store(pairs: list[tuple[PortPlan, ProviderPort]]) -> None:
        made = [{"provider_id": plan.provider.id, "port_id": port.id, "vnic_id": plan.vnic_id} for plan, port in pairs]
        mine = {"vm_id": lease.vm_id, "token": lease.token}
        with database.transaction() as session:
            row = session.execute(_LEASE_PORTS, mine).first()
            if row is not None:  # still this operation's
                values = {**mine, "ports": [*(row[0] or []), *made], "new_host": host_id}
                session.execute(_RECORD_PORTS if host_id is None else _RECORD_PORTS_ON_HOST, values)
            gone = store_ports(session, pairs) if on_nic else _missing_nics(session, pairs)
        if gone:
            raise PortFailure(f"vNIC '{gone[0]}' of VM '{vm_name}' was removed while its port was being made")

    return store


def store_ports(session: Session, pairs: list[tuple[PortPlan, ProviderPort]]) -> list[str]:
    """Store each port on its vNIC (one statement for them all); the names of the vNICs that no longer exist."""
    if not pairs:
        return []
    values = [{"nic_id": plan.vnic_id, "new_port": port.id, "new_provider": plan.provider.id}
              for plan, port in pairs]  # fmt: skip
    if session.execute(_PORT_ON_NIC, values).rowcount == len(pairs):  # type: ignore[attr-defined]
        return []
    return _missing_nics(session, pairs)  # some are gone (or the driver does not count an executemany's rows)


def _missing_nics(session: Session, pairs: list[tuple[PortPlan, ProviderPort]]) -> list[str]:
    present = set(session.scalars(_NIC_IDS, {"ids": [plan.vnic_id for plan, _port in pairs]}))
    return [plan.vnic_name for plan, _port in pairs if plan.vnic_id not in present]


# built once (see store.db.fetch), on the tables (no ORM bookkeeping): a port's creation is stored by these
VM_TABLE: Table = Vm.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
_NIC_TABLE: Table = VmNic.__table__  # type: ignore[assignment]
_VMS, _NICS = VM_TABLE.c, _NIC_TABLE.c
MINE = (_VMS.id == bindparam("vm_id"), _VMS.operation_owner == bindparam("token"))
_LEASE_PORTS = select(_VMS.operation_ports).where(*MINE).with_for_update()
_RECORD_PORTS = update(VM_TABLE).where(*MINE).values(operation_ports=bindparam("ports"))
_RECORD_PORTS_ON_HOST = update(VM_TABLE).where(*MINE).values(operation_ports=bindparam("ports"),
                                                                  host_id=bindparam("new_host"))  # fmt: skip
ON_HOST = update(VM_TABLE).where(*MINE).values(host_id=bindparam("new_host"))
_PORT_ON_NIC = (update(_NIC_TABLE).where(_NICS.id == bindparam("nic_id"))
                .values(port_id=bindparam("new_port"), port_provider_id=bindparam("new_provider")))  # fmt: skip
_NIC_IDS = select(_NICS.id).where(_NICS.id.in_(bindparam("ids", expanding=True)))


def binding_for(host: Candidate) -> Callable[[PortPlan], str]:
    return lambda plan: host.binding(plan.provider.plugin_type) or ""


def check_serves(host: Candidate, plans: list[PortPlan], vm_name: str) -> None:
    for plan in plans:
        if not host.binding(plan.provider.plugin_type):
            raise PortFailure(f"Host '{host.name}' of VM '{vm_name}' cannot serve external network "
                              f"'{plan.network_name}': it reports no binding for plugin type "
                              f"'{plan.provider.plugin_type}' of provider '{plan.provider.name}'")  # fmt: skip


def wait_unreported(services: EngineServices, lifecycle: Lifecycle, reporting: frozenset[str], host: Candidate,
          ports: list[tuple[PortPlan, ProviderPort]], vm_name: str, reported: dict[str, str]) -> None:  # fmt: skip
    """Wait for the ports to become ACTIVE, except those the host's answer says their provider already made ACTIVE
    (it handed on what the provider answered its report of the plug)."""
    waited = [(plan, port) for plan, port in ports if reports_status(lifecycle, reporting, plan.provider.id)
              and reported.get(port.id) != ACTIVE]  # fmt: skip
    if waited:
        wait_active(services, waited, lifecycle.active_timeout, vm_name, host.name)


def reporting_of(services: EngineServices, host: Candidate, plans: list[PortPlan], vm_name: str) -> frozenset[str]:
    try:
        return reporting_providers(services, host, [plan.need() for plan in plans], vm_name)
    except ProviderError as err:
        raise PortFailure(err.message) from None


def delete_created(services: EngineServices, created: list[tuple[PortPlan, ProviderPort]], vm_name: str) -> list[str]:
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


def forget_created(session: Session, lease: Lease, vm: Vm | None, created: list[tuple[PortPlan, ProviderPort]],
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


def undo_on_host(what: Callable[[], Any], ignore_missing: bool = True) -> None:
    """A best-effort host call of an undo step: failures are logged (the reconciler and the next start repair)."""
    try:
        what()
    except HostAgentError as err:
        if not (ignore_missing and err.code == ErrorCode.VM_NOT_FOUND):
            log.warning("undo on host: %s", err.message)


def discard_allocation(session: Session, lease: Lease, alloc: Allocation, vm_name: str, reason: str) -> None:
    for plan, port in alloc.discard:
        enqueue(session, provider_id=plan.provider.id, port_id=port.id, vnic_id=plan.vnic_id, vnic_name=plan.vnic_name,
                vm_id=lease.vm_id, vm_name=vm_name, reason=reason)  # fmt: skip


def record_event(database: Database, code: Code, text: str, severity: str, vm_id: str | None) -> None:
    with database.transaction() as session:
        record(session, code, text, severity, vm_id=vm_id)
