"""VM commands: add, update, remove, and the rules of the run state (start, stop, shutdown); running a VM on a
host, with its ports, is ``engine.operations.vm_run``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.nics import profile_problem
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import Cluster, Snapshot, Vm, VmNic, VnicProfile
from extnet.engine.store.queries import Entity, resolve

BLANK_TEMPLATE_ID = "00000000-0000-0000-0000-000000000000"
BLANK_TEMPLATE_NAME = "Blank"
ACTIVE_SNAPSHOT = "Active VM"
STARTABLE = ("down", "paused", "suspended")
MAX_VCPUS = 1024  # per topology part; keeps every value inside the database's integers
OS_TYPE_MAX = 64
HA_PRIORITY_MAX = 100
FIELDS = ("name", "description", "comment", "memory", "stateless", "delete_protected")


def preview_of(session: Session, vm: Vm) -> Snapshot | None:
    """The snapshot the VM is previewing, if any."""
    return session.scalars(
        select(Snapshot).where(Snapshot.vm_id == vm.id, Snapshot.snapshot_status == "in_preview").limit(1)
    ).first()


def template_problem(reference: Entity | None) -> str | None:
    """Only the Blank template exists."""
    if not reference:
        return None
    if reference.get("id"):
        if reference["id"] != BLANK_TEMPLATE_ID:
            return f"The template with id '{reference['id']}' does not exist"
    elif reference.get("name") and reference["name"] != BLANK_TEMPLATE_NAME:
        return f"The template named '{reference['name']}' does not exist"
    return None


def shape_violations(body: Entity, name: str) -> Iterable[Violation]:
    """Rules on the VM's own values (memory, CPU topology, OS)."""
    memory = body.get("memory")
    if memory is not None and memory <= 0:
        yield Violation(f"The memory of VM '{name}' must be a positive number of bytes, not {memory}", 400)
    topology = (body.get("cpu") or {}).get("topology") or {}
    for part in ("sockets", "cores", "threads"):
        value = topology.get(part)
        if value is not None and not 1 <= value <= MAX_VCPUS:
            yield Violation(f"VM '{name}' needs between 1 and {MAX_VCPUS} CPU {part}, not {value}", 400)
    os_type = (body.get("os") or {}).get("type")
    if os_type is not None and not 0 < len(os_type.strip()) <= OS_TYPE_MAX:
        yield Violation(f"The operating system type of VM '{name}' must be 1 to {OS_TYPE_MAX} characters", 400)
    priority = (body.get("high_availability") or {}).get("priority")
    if priority is not None and not 0 <= priority <= HA_PRIORITY_MAX:
        yield Violation(f"The high availability priority of VM '{name}' must be between 0 and {HA_PRIORITY_MAX}", 400)


def apply_fields(vm: Vm, body: Entity) -> None:
    for field in FIELDS:
        if field in body:
            setattr(vm, field, body[field])
    topology = (body.get("cpu") or {}).get("topology") or {}
    for part in ("sockets", "cores", "threads"):
        if part in topology:
            setattr(vm, f"cpu_{part}", topology[part])
    if (body.get("os") or {}).get("type"):
        vm.os_type = body["os"]["type"]
    if body.get("type"):
        vm.vm_type = body["type"]
    ha = body.get("high_availability") or {}
    if "enabled" in ha:
        vm.high_availability = ha["enabled"]
    if "priority" in ha:
        vm.ha_priority = ha["priority"]


class _VmCommand(Command[Vm]):
    noun = "VM"

    def __init__(self, session: Session, body: Entity, vm: Vm | None = None) -> None:
        super().__init__(session)
        self.body = body
        self.vm = vm
        self.cluster: Cluster | None = None

    def name_violations(self) -> Iterable[Violation]:
        name = self.body.get("name")
        problem = name_problem(name, "VM")
        if problem:
            yield Violation(problem, 400)
            return
        stmt = select(Vm.id).where(Vm.name == name)
        if self.vm is not None:
            stmt = stmt.where(Vm.id != self.vm.id)
        if self.session.scalar(stmt.limit(1)):
            yield Violation(f"The VM name '{name}' is already in use")

    def cluster_violation(self) -> Violation | None:
        try:
            self.cluster = resolve(self.session, Cluster, self.body.get("cluster"), "cluster")
        except BadRequest as err:
            return Violation(err.detail, 400)
        return None

    def integrity_message(self, error: IntegrityError) -> str:
        return f"The VM name '{self.body.get('name')}' is already in use."


class AddVm(_VmCommand):
    verb = "add"

    def validate(self) -> Iterable[Violation]:
        name = self.body.get("name") or ""
        yield from self.name_violations()
        if not self.body.get("cluster"):
            yield Violation("A VM needs a cluster: give the cluster's id or name", 400)
        else:
            violation = self.cluster_violation()
            if violation:
                yield violation
        problem = template_problem(self.body.get("template"))
        if problem:
            yield Violation(problem, 400)
        yield from shape_violations(self.body, name)
        if self.body.get("snapshots"):
            yield Violation("Creating a VM from a snapshot is not supported", 400)
        if self.body.get("nics"):
            yield Violation(f"Add the vNICs of VM '{name}' through its nics collection once it exists", 400)

    def execute(self) -> Vm:
        assert self.cluster is not None
        vm = Vm(name=self.body["name"], cluster_id=self.cluster.id, template_id=BLANK_TEMPLATE_ID, status="down")
        apply_fields(vm, self.body)
        self.session.add(vm)
        self.session.flush()
        self.session.add(Snapshot(vm_id=vm.id, description=ACTIVE_SNAPSHOT, snapshot_type="active", nics=[]))
        return vm


class UpdateVm(_VmCommand):
    verb = "update"

    def validate(self) -> Iterable[Violation]:
        vm = self.vm
        assert vm is not None
        if "name" in self.body and self.body["name"] != vm.name:
            yield from self.name_violations()
        problem = template_problem(self.body.get("template"))
        if problem:
            yield Violation(problem, 400)
        yield from shape_violations(self.body, vm.name)
        if self.body.get("cluster"):
            violation = self.cluster_violation()
            if violation:
                yield violation
            elif self.cluster is not None and self.cluster.id != vm.cluster_id:
                yield from self.cluster_change_violations(vm, self.cluster)

    def cluster_change_violations(self, vm: Vm, cluster: Cluster) -> Iterable[Violation]:
        if vm.status != "down":
            yield Violation(f"VM '{vm.name}' is {vm.status}; it must be down to move to another cluster")
        current = self.session.get(Cluster, vm.cluster_id)
        if current is not None and current.data_center_id != cluster.data_center_id:
            yield Violation(f"Cluster '{cluster.name}' is in another data center than VM '{vm.name}'")
            return
        for nic in self.session.scalars(select(VmNic).where(VmNic.vm_id == vm.id).order_by(VmNic.name)):
            profile = self.session.get(VnicProfile, nic.vnic_profile_id) if nic.vnic_profile_id else None
            problem = profile_problem(self.session, profile, cluster, vm.name) if profile else None
            if problem:
                yield Violation(f"vNIC '{nic.name}': {problem}")

    def execute(self) -> Vm:
        vm = self.vm
        assert vm is not None
        apply_fields(vm, self.body)
        if self.cluster is not None:
            vm.cluster_id = self.cluster.id
        return vm


class RemoveVm(Command[None]):
    verb, noun = "remove", "VM"

    def __init__(self, session: Session, vm: Vm) -> None:
        super().__init__(session)
        self.vm = vm

    def validate(self) -> Iterable[Violation]:
        if self.vm.status != "down":
            yield Violation(f"VM '{self.vm.name}' is {self.vm.status}; stop it before removing it")
        if self.vm.delete_protected:
            yield Violation(f"VM '{self.vm.name}' is delete protected; disable delete protection first")
        preview = preview_of(self.session, self.vm)
        if preview is not None:
            yield Violation(f"VM '{self.vm.name}' is previewing snapshot '{preview.description}'")

    def execute(self) -> None:
        self.session.execute(delete(VmNic).where(VmNic.vm_id == self.vm.id))
        self.session.execute(delete(Snapshot).where(Snapshot.vm_id == self.vm.id))
        self.session.execute(delete(Vm).where(Vm.id == self.vm.id))


class StartVm(Command[Vm]):
    """The rules of running a VM; the run itself (scheduling, ports, the host) is ``operations.vm_run.start_vm``."""

    verb, noun = "run", "VM"

    def __init__(self, session: Session, vm: Vm, pause: bool = False) -> None:
        super().__init__(session)
        self.vm = vm
        self.pause = pause

    def validate(self) -> Iterable[Violation]:
        vm = self.vm
        if vm.status not in STARTABLE:
            yield Violation(f"VM '{vm.name}' is already running (status {vm.status})")

    def execute(self) -> Vm:
        return self.vm


class StopVm(Command[Vm]):
    """Power off (``stop``) or a guest shutdown (``shutdown``); both end with the VM down."""

    noun = "VM"

    def __init__(self, session: Session, vm: Vm, verb: str) -> None:
        super().__init__(session)
        self.vm = vm
        self.verb = verb

    def validate(self) -> Iterable[Violation]:
        if self.vm.status == "down":
            yield Violation(f"VM '{self.vm.name}' is not running")

    def execute(self) -> Vm:
        self.vm.status = "down"
        self.vm.host_id = None
        self.vm.stop_time = datetime.now(UTC)
        return self.vm


def start_options(body: Entity) -> dict[str, Any]:
    return {"pause": bool(body.get("pause"))}
