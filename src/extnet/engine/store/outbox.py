"""The port outbox's writing side, in the caller's transaction: a port the engine no longer needs is queued here in
the transaction that made it unneeded, so it is never forgotten (``operations/outbox.py`` delivers the deletions).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from extnet.engine.store.models import Cluster, PortOutbox, Vm, VmNic


def enqueue(session: Session, *, provider_id: str, port_id: str, vnic_id: str, vnic_name: str, vm_id: str | None,
            vm_name: str | None, reason: str) -> None:  # fmt: skip
    """Delete port ``port_id`` on its provider once this transaction commits (once, however often it is asked)."""
    stmt = select(PortOutbox.id).where(PortOutbox.provider_id == provider_id, PortOutbox.port_id == port_id)
    if session.scalar(stmt) is None:
        session.add(PortOutbox(provider_id=provider_id, port_id=port_id, vnic_id=vnic_id, vnic_name=vnic_name,
                               vm_id=vm_id, vm_name=vm_name, reason=reason, attempts=0,
                               next_attempt_at=datetime.now(UTC)))  # fmt: skip


def release_port(session: Session, nic: VmNic, vm_name: str | None, reason: str) -> bool:
    """The vNIC no longer needs its port: queue the port's deletion and forget it. False if it had none."""
    if not nic.port_id or not nic.port_provider_id:
        return False
    enqueue(session, provider_id=nic.port_provider_id, port_id=nic.port_id, vnic_id=nic.id, vnic_name=nic.name,
            vm_id=nic.vm_id, vm_name=vm_name, reason=reason)  # fmt: skip
    nic.port_id = nic.port_provider_id = None
    return True


def release_ports_of_data_center(session: Session, data_center_id: str) -> int:
    """Queue the ports of the vNICs of every VM in the data center (its removal with force); how many."""
    stmt = (select(VmNic, Vm.name).join(Vm, Vm.id == VmNic.vm_id).join(Cluster, Cluster.id == Vm.cluster_id)
            .where(Cluster.data_center_id == data_center_id, VmNic.port_id.is_not(None)))  # fmt: skip
    rows = list(session.execute(stmt))
    for nic, vm_name in rows:
        release_port(session, nic, vm_name, "data center removed")
    return len(rows)


_PENDING = select(PortOutbox.port_id).where(PortOutbox.provider_id == bindparam("provider_id"))  # built once


def pending_port_ids(session: Session, provider_id: str) -> set[str]:
    """Ports of ``provider_id`` waiting to be deleted: never to be taken up again by a vNIC."""
    return set(session.scalars(_PENDING, {"provider_id": provider_id}))
