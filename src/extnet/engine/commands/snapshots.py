"""Snapshot commands: add, remove, preview, commit, undo and restore, as far as the VM's vNIC set goes.

A snapshot remembers the VM's vNICs (``Snapshot.nics``). Every VM has one ``active`` snapshot, "Active VM", which
stands for its current state. Previewing a snapshot keeps the state before the preview in a ``preview`` snapshot,
marks the previewed one ``in_preview`` and gives the VM the previewed vNIC set; commit keeps that set, undo goes
back to the kept one. Restore is preview and commit in one step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from extnet.engine.commands import macs
from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Ref, wire
from extnet.engine.commands.nics import nic_state, nics_of, profile_problem
from extnet.engine.commands.vms import preview_of
from extnet.engine.store.models import Cluster, Snapshot, Vm, VmNic, VnicProfile
from extnet.engine.store.outbox import release_port
from extnet.engine.store.queries import port_key

PREVIEW_DESCRIPTION = "Active VM before the preview"


@dataclass(frozen=True)
class SnapshotInput:
    description: str | None = wire()
    persist_memorystate: bool | None = wire()


@dataclass(frozen=True)
class PreviewInput:
    """The options of the VM's ``previewsnapshot`` action: the snapshot to preview (by id)."""

    snapshot: Ref | None = wire(convert=Ref.of)

    def snapshot_id(self) -> str | None:
        return None if self.snapshot is None or not self.snapshot.id else str(self.snapshot.id)


def snapshot_of(session: Session, vm: Vm, snapshot_type: str) -> Snapshot | None:
    return session.scalars(
        select(Snapshot).where(Snapshot.vm_id == vm.id, Snapshot.snapshot_type == snapshot_type).limit(1)
    ).first()


def replace_nics(session: Session, vm: Vm, wanted: list[dict[str, Any]]) -> None:
    """Give ``vm`` exactly the vNICs described by ``wanted`` (ids, names, MACs, profiles, ...).

    A MAC that another VM's vNIC took meanwhile is replaced by a fresh one from the pool, and a profile the VM's
    cluster can no longer use is dropped (the vNIC keeps no profile), as oVirt does when it restores a snapshot.
    A vNIC that stays (same id) on the same external network keeps its port; the ports of the other vNICs go to
    the outbox (the next start makes new ones)."""
    cluster = session.get(Cluster, vm.cluster_id)
    assert cluster is not None
    profiles = {str(state["id"]): _usable_profile(session, state.get("vnic_profile_id"), cluster, vm.name)
                for state in wanted}  # fmt: skip
    kept: dict[str, tuple[str, str]] = {}
    for nic in nics_of(session, vm.id):
        key = port_key(session, nic.vnic_profile_id)
        stays = nic.id in profiles and key is not None and key == port_key(session, profiles[nic.id])
        if stays and nic.port_id and nic.port_provider_id:
            kept[nic.id] = (nic.port_id, nic.port_provider_id)
        else:
            release_port(session, nic, vm.name, "snapshot changed the VM's vNICs")
        session.delete(nic)
    session.flush()
    pool = macs.pool_of_cluster(session, cluster)
    for state in wanted:
        nic = VmNic(vm_id=vm.id, **{k: v for k, v in state.items() if k not in ("mac_address", "vnic_profile_id")})
        nic.vnic_profile_id = profiles[str(state["id"])]
        nic.port_id, nic.port_provider_id = kept.get(nic.id, (None, None))
        macs.insert_nic(session, nic, pool, preferred=state.get("mac_address"))


def _usable_profile(session: Session, profile_id: str | None, cluster: Cluster, vm_name: str) -> str | None:
    profile = session.get(VnicProfile, profile_id) if profile_id else None
    if profile is None or profile_problem(session, profile, cluster, vm_name):
        return None
    return profile.id


def current_nics(session: Session, vm: Vm) -> list[dict[str, Any]]:
    return [nic_state(nic) for nic in nics_of(session, vm.id)]


class _SnapshotCommand(Command[Any]):
    noun = "Snapshot"

    def __init__(self, session: Session, vm: Vm, snapshot: Snapshot | None = None) -> None:
        super().__init__(session)
        self.vm = vm
        self.snapshot = snapshot

    def down_violations(self) -> Iterable[Violation]:
        if self.vm.status != "down":
            yield Violation(f"VM '{self.vm.name}' is {self.vm.status}; it must be down")

    def not_in_preview_violations(self) -> Iterable[Violation]:
        previewed = preview_of(self.session, self.vm)
        if previewed is not None:
            yield Violation(
                f"VM '{self.vm.name}' is previewing snapshot '{previewed.description}'; "
                "commit or undo the preview first"
            )

    def previewable_violations(self) -> Iterable[Violation]:
        snapshot = self.snapshot
        assert snapshot is not None
        if snapshot.snapshot_type != "regular":
            state = "current" if snapshot.snapshot_type == "active" else "pre-preview"
            yield Violation(
                f"Snapshot '{snapshot.description}' of VM '{self.vm.name}' is the VM's {state} state, "
                "not a snapshot to go back to"
            )


class AddSnapshot(_SnapshotCommand):
    verb = "create"

    def __init__(self, session: Session, vm: Vm, given: SnapshotInput) -> None:
        super().__init__(session, vm)
        self.description = given.description
        self.persist_memory = bool(given.persist_memorystate)

    def validate(self) -> Iterable[Violation]:
        if not self.description or not self.description.strip():
            yield Violation("A snapshot needs a description", 400)
        yield from self.not_in_preview_violations()

    def execute(self) -> Snapshot:
        snapshot = Snapshot(vm_id=self.vm.id, description=self.description, snapshot_type="regular",
                            persist_memorystate=self.persist_memory and self.vm.status != "down",
                            nics=current_nics(self.session, self.vm))  # fmt: skip
        self.session.add(snapshot)
        return snapshot


class RemoveSnapshot(_SnapshotCommand):
    verb = "remove"

    def validate(self) -> Iterable[Violation]:
        snapshot = self.snapshot
        assert snapshot is not None
        if snapshot.snapshot_type == "active":
            yield Violation(f"The active snapshot of VM '{self.vm.name}' is its current state and cannot be removed")
            return
        yield from self.not_in_preview_violations()

    def execute(self) -> None:
        self.session.delete(self.snapshot)


class PreviewSnapshot(_SnapshotCommand):
    verb = "preview"

    def validate(self) -> Iterable[Violation]:
        yield from self.down_violations()
        yield from self.not_in_preview_violations()
        yield from self.previewable_violations()

    def execute(self) -> None:
        snapshot = self.snapshot
        assert snapshot is not None
        self.session.add(Snapshot(vm_id=self.vm.id, description=PREVIEW_DESCRIPTION, snapshot_type="preview",
                                  nics=current_nics(self.session, self.vm)))  # fmt: skip
        snapshot.snapshot_status = "in_preview"
        replace_nics(self.session, self.vm, list(snapshot.nics))


class _EndPreview(_SnapshotCommand):
    def validate(self) -> Iterable[Violation]:
        yield from self.down_violations()
        self.snapshot = preview_of(self.session, self.vm)
        if self.snapshot is None:
            yield Violation(f"VM '{self.vm.name}' is not previewing a snapshot")

    def end(self) -> Snapshot | None:
        """Ends the preview; returns the snapshot that kept the state before it."""
        assert self.snapshot is not None
        self.snapshot.snapshot_status = "ok"
        before = snapshot_of(self.session, self.vm, "preview")
        if before is not None:
            self.session.delete(before)
        return before


class CommitSnapshot(_EndPreview):
    verb = "commit"

    def execute(self) -> None:
        self.end()


class UndoSnapshot(_EndPreview):
    verb = "undo"

    def execute(self) -> None:
        before = self.end()
        replace_nics(self.session, self.vm, list(before.nics) if before is not None else [])


class RestoreSnapshot(_SnapshotCommand):
    verb = "revert to"

    def validate(self) -> Iterable[Violation]:
        yield from self.down_violations()
        yield from self.not_in_preview_violations()
        yield from self.previewable_violations()

    def execute(self) -> None:
        assert self.snapshot is not None
        replace_nics(self.session, self.vm, list(self.snapshot.nics))
