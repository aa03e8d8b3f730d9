"""Recording audit events (oVirt's audit log, served at ``/events``)."""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy.orm import Session

from extnet.engine.store.models import Event


class Code(IntEnum):
    """Event codes, numbered after oVirt's AuditLogType where oVirt has the event."""

    PROVIDER_ADDED = 1700
    PROVIDER_ADDITION_FAILED = 1701
    PROVIDER_UPDATED = 1702
    PROVIDER_UPDATE_FAILED = 1703
    PROVIDER_REMOVED = 1704
    PROVIDER_REMOVAL_FAILED = 1705
    PROVIDER_CERTIFICATE_IMPORTED = 1706
    PROVIDER_CERTIFICATE_IMPORT_FAILED = 1707
    PROVIDER_SYNCHRONIZED = 1709
    PROVIDER_SYNCHRONIZED_FAILED = 1710
    PROVIDER_SYNCHRONIZED_DISABLED = 1711
    PROVIDER_SYNCHRONIZED_PERFORMED = 1712
    SUBNET_ADDED = 1100
    SUBNET_ADDITION_FAILED = 1101
    SUBNET_REMOVED = 1102
    SUBNET_REMOVAL_FAILED = 1103
    NETWORK_IMPORT_EXTERNAL_NETWORK = 9600
    NETWORK_IMPORT_EXTERNAL_NETWORK_FAILED = 9601
    NETWORK_ADDED_ON_PROVIDER = 9602
    NETWORK_REMOVED_FROM_PROVIDER = 9603
    NETWORK_GONE_FROM_PROVIDER = 9604
    PROVIDER_CONNECTIVITY_TESTED = 9605
    PROVIDER_CONNECTIVITY_FAILED = 9606
    REMOVE_PORT_FROM_EXTERNAL_PROVIDER_FAILED = 9607
    NETWORK_ADD_ON_PROVIDER_FAILED = 9620
    NETWORK_REMOVE_FROM_PROVIDER_FAILED = 9621
    NETWORK_UPDATED_FROM_PROVIDER = 9630
    NETWORK_BACK_ON_PROVIDER = 9631
    NETWORK_SYNC_SKIPPED = 9632
    NETWORK_ATTACHED_BY_SYNC = 9633
    SECURITY_GROUPS_CHECK_FAILED = 9634
    # the port lifecycle (engine/lifecycle)
    USER_RUN_VM = 32
    USER_STOP_VM = 33
    USER_FAILED_RUN_VM = 54
    VM_MIGRATION_DONE = 63
    VM_MIGRATION_FAILED = 65
    NETWORK_ACTIVATE_VM_INTERFACE_FAILURE = 1013
    NETWORK_DEACTIVATE_VM_INTERFACE_FAILURE = 1015
    PORT_REMOVED_AFTER_RETRY = 9640
    ORPHAN_PORT_REMOVED = 9641
    MISSING_PORT_RECREATED = 9642
    PORT_BINDING_REPAIRED = 9643
    VM_OPERATION_RECOVERED = 9644
    RECONCILE_FAILED = 9645
    PORT_LEFT_ON_PROVIDER = 9646
    CUSTOM = 9000
    ENGINE_STARTED = 9001
    HOST_NON_RESPONSIVE = 12
    HOST_STATUS_DETECTED = 13
    HOST_ADDED = 42
    HOST_REMOVED = 44
    HOST_PAIRED = 9700
    HOST_PAIRING_FAILED = 9701
    HOST_CERTIFICATE_REFUSED = 9702  # what answers at a host's address is not the agent it was paired with
    LOGIN_THROTTLED = 9710  # too many wrong passwords for one user from one address
    ENGINE_LEASE_TAKEN = 9720  # a standby engine took over the database


def record(
    session: Session,
    code: Code,
    description: str,
    severity: str = "normal",
    *,
    provider_id: str | None = None,
    data_center_id: str | None = None,
    cluster_id: str | None = None,
    network_id: str | None = None,
    vm_id: str | None = None,
    host_id: str | None = None,
) -> Event:
    event = Event(
        code=int(code), description=description, severity=severity, provider_id=provider_id,
        data_center_id=data_center_id, cluster_id=cluster_id, network_id=network_id, vm_id=vm_id, host_id=host_id,
    )  # fmt: skip
    session.add(event)
    return event
