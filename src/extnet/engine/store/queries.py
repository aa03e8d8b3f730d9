"""Named lookups on the inventory that every layer above the store shares: a row by id or by a nested reference
(``{"id": ..}`` or ``{"name": ..}``, as oVirt clients send them), a VM and its vNICs, the external network behind a
vNIC profile. Each fails with a fault that names the object.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from extnet.engine.errors import BadRequest, NotFound
from extnet.engine.store.db import fetch
from extnet.engine.store.models import Network, Vm, VmNic, VnicProfile

Entity = dict[str, Any]


def parse_uuid(text: str, what: str) -> str:
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        raise BadRequest(f"Invalid {what} id '{text}': it must be a UUID") from None


def load(session: Session, model: type[Any], entity_id: str, what: str) -> Any:
    """Fetch a row by id or fail with a 404 that names the object."""
    row = fetch(session, model, parse_uuid(entity_id, what))
    if row is None:
        raise NotFound(f"Entity not found: {what} '{entity_id}'")
    return row


def resolve(
    session: Session,
    model: type[Any],
    reference: Entity | None,
    what: str,
    scope: Callable[[Select[Any]], Select[Any]] | None = None,
) -> Any:
    """Find the row a nested reference points at, by id or, failing that, by name (as oVirt clients send)."""
    if not reference:
        return None
    if reference.get("id"):
        row = session.get(model, parse_uuid(str(reference["id"]), what))
        if row is None:
            raise BadRequest(f"The {what} with id '{reference['id']}' does not exist")
        return row
    name = reference.get("name")
    if not name:
        raise BadRequest(f"A {what} reference needs an id or a name")
    stmt = select(model).where(model.name == name)
    if scope is not None:
        stmt = scope(stmt)
    rows = session.scalars(stmt.limit(2)).all()
    if not rows:
        raise BadRequest(f"The {what} named '{name}' does not exist")
    if len(rows) > 1:
        raise BadRequest(f"More than one {what} is named '{name}'; refer to it by id")
    return rows[0]


def vm_of(session: Session, vm_id: str, lock: bool = False) -> Vm:
    """The VM, or a 404; ``lock`` serializes the changes of one VM (its run state, vNIC set and snapshots)."""
    vm = fetch(session, Vm, parse_uuid(vm_id, "VM"), lock=lock)
    if vm is None:
        raise NotFound(f"Entity not found: VM '{vm_id}'")
    return vm


def nic_in(session: Session, vm: Vm, nic_id: str) -> VmNic:
    nic = fetch(session, VmNic, parse_uuid(nic_id, "vNIC"))
    if nic is None or nic.vm_id != vm.id:
        raise NotFound(f"Entity not found: vNIC '{nic_id}' of VM '{vm.name}'")
    return nic


def external_target(session: Session, profile_id: str | None) -> tuple[VnicProfile, Network] | None:
    """The profile and external network a vNIC with this profile is on; None if the network is not external."""
    if not profile_id:
        return None
    row = session.execute(select(VnicProfile, Network).join(Network, Network.id == VnicProfile.network_id)
                          .where(VnicProfile.id == profile_id)).first()  # fmt: skip
    if row is None or row[1].external_provider_id is None or not row[1].external_id:
        return None
    return row[0], row[1]


_TARGETS = (
    select(VnicProfile, Network)
    .join(Network, Network.id == VnicProfile.network_id)
    .where(VnicProfile.id.in_(bindparam("ids", expanding=True)))
)  # fmt: skip  (built once: store.db.fetch)


def external_targets(session: Session, profile_ids: set[str]) -> dict[str, tuple[VnicProfile, Network]]:
    """``external_target`` of several profiles in one query: {profile id: (profile, network)}, external ones only."""
    if not profile_ids:
        return {}
    rows = session.execute(_TARGETS, {"ids": list(profile_ids)})
    return {profile.id: (profile, network) for profile, network in rows
            if network.external_provider_id is not None and network.external_id}  # fmt: skip


def port_key(session: Session, profile_id: str | None) -> tuple[str, str] | None:
    """(provider id, provider network id) of the external network of a profile: a vNIC keeps its port while
    this stays the same."""
    target = external_target(session, profile_id)
    if target is None:
        return None
    network = target[1]
    assert network.external_provider_id is not None and network.external_id is not None
    return network.external_provider_id, network.external_id
