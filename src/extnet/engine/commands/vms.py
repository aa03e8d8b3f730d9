"""VM commands: add, update, remove, and the rules of the run state (start, stop, shutdown); running a VM on a
host, with its ports, is ``engine.operations.vm_run``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Entity, Ref, nonempty, reference, wire
from extnet.engine.commands.nics import profile_problem
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import Cluster, Snapshot, Vm, VmNic, VnicProfile
from extnet.engine.store.queries import resolve

BLANK_TEMPLATE_ID = "00000000-0000-0000-0000-000000000000"
BLANK_TEMPLATE_NAME = "Blank"
ACTIVE_SNAPSHOT = "Active VM"
STARTABLE = ("down", "paused", "suspended")
MAX_VCPUS = 1024  # per topology part; keeps every value inside the database's integers
OS_TYPE_MAX = 64
HA_PRIORITY_MAX = 100
FIELDS = ("name", "description", "comment", "memory", "stateless", "delete_protected")
TOPOLOGY = ("sockets", "cores", "threads")


@dataclass(frozen=True)
class Topology:
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None

    @classmethod
    def of_cpu(cls, value: Entity) -> Topology:
        """The topology of a ``<cpu>`` (an empty one when the cpu gives none)."""
        topology = value.get("topology") or {}
        return cls(topology.get("sockets"), topology.get("cores"), topology.get("threads"))


@dataclass(frozen=True)
class HighAvailability:
    enabled: bool | None = None
    priority: int | None = None

    @classmethod
    def of(cls, value: Entity) -> HighAvailability:
        return cls(value.get("enabled"), value.get("priority"))


def os_type(value: Entity) -> str | None:
    """The type of an ``<os>``."""
    kind: str | None = value.get("type")
    return kind


@dataclass(frozen=True)
class VmInput:
    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    memory: int | None = wire()
    stateless: bool | None = wire()
    delete_protected: bool | None = wire()
    topology: Topology | None = wire("cpu", Topology.of_cpu)
    os_type: str | None = wire("os", os_type)
    vm_type: str | None = wire("type")
    high_availability: HighAvailability | None = wire(convert=HighAvailability.of)
    cluster: Ref | None = wire(convert=Ref.of)
    template: Ref | None = wire(convert=Ref.of)
    # refused here: a VM is not made from a snapshot, and its vNICs are added through its nics collection
    snapshots: tuple[Entity | None, ...] | None = wire(convert=nonempty)
    nics: tuple[Entity | None, ...] | None = wire(convert=nonempty)


@dataclass(frozen=True)
class StartInput:
    """The options of the ``start`` action."""

    pause: bool | None = wire()


@dataclass(frozen=True)
class StopInput:
    """The options of the ``stop`` and ``shutdown`` actions."""

    force: bool | None = wire()


@dataclass(frozen=True)
class MigrateInput:
    """The options of the ``migrate`` action: the destination host, if the caller chooses it."""

    host: Ref | None = wire(convert=Ref.of)


def preview_of(session: Session, vm: Vm) -> Snapshot | None:
    """The snapshot the VM is previewing, if any."""
    return session.scalars(
        select(Snapshot).where(Snapshot.vm_id == vm.id, Snapshot.snapshot_status == "in_preview").limit(1)
    ).first()


def template_problem(template: Ref | None) -> str | None:
    """Only the Blank template exists."""
    if template is None:
        return None
    if template.id:
        if template.id != BLANK_TEMPLATE_ID:
            return f"The template with id '{template.id}' does not exist"
    elif template.name and template.name != BLANK_TEMPLATE_NAME:
        return f"The template named '{template.name}' does not exist"
    return None


def shape_violations(given: VmInput, name: str) -> Iterable[Violation]:
    """Rules on the VM's own values (memory, CPU topology, OS)."""
    memory = given.memory
    if memory is not None and memory <= 0:
        yield Violation(f"The memory of VM '{name}' must be a positive number of bytes, not {memory}", 400)
    topology = given.topology or Topology()
    for part in TOPOLOGY:
        value = getattr(topology, part)
        if value is not None and not 1 <= value <= MAX_VCPUS:
            yield Violation(f"VM '{name}' needs between 1 and {MAX_VCPUS} CPU {part}, not {value}", 400)
    if given.os_type is not None and not 0 < len(given.os_type.strip()) <= OS_TYPE_MAX:
        yield Violation(f"The operating system type of VM '{name}' must be 1 to {OS_TYPE_MAX} characters", 400)
    priority = (given.high_availability or HighAvailability()).priority
    if priority is not None and not 0 <= priority <= HA_PRIORITY_MAX:
        yield Violation(f"The high availability priority of VM '{name}' must be between 0 and {HA_PRIORITY_MAX}", 400)


def apply_fields(vm: Vm, given: VmInput) -> None:
    """Set the fields the input gives (an update changes only those)."""
    for field in FIELDS:
        value = getattr(given, field)
        if value is not None:
            setattr(vm, field, value)
    topology = given.topology or Topology()
    for part in TOPOLOGY:
        if getattr(topology, part) is not None:
            setattr(vm, f"cpu_{part}", getattr(topology, part))
    if given.os_type:
        vm.os_type = given.os_type
    if given.vm_type:
        vm.vm_type = given.vm_type
    ha = given.high_availability or HighAvailability()
    if ha.enabled is not None:
        vm.high_availability = ha.enabled
    if ha.priority is not None:
        vm.ha_priority = ha.priority


class _VmCommand(Command[Vm]):
    noun = "VM"

    def __init__(self, session: Session, given: VmInput, vm: Vm | None = None) -> None:
        super().__init__(session)
        self.given = given
        self.vm = vm
        self.cluster: Cluster | None = None

    def name_violations(self) -> Iterable[Violation]:
        name = self.given.name
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
            self.cluster = resolve(self.session, Cluster, reference(self.given.cluster), "cluster")
        except BadRequest as err:
            return Violation(err.detail, 400)
        return None

    def integrity_message(self, error: IntegrityError) -> str:
        return f"The VM name '{self.given.name}' is already in use."


class AddVm(_VmCommand):
    verb = "add"

    def validate(self) -> Iterable[Violation]:
        name = self.given.name or ""
        yield from self.name_violations()
        if self.given.cluster is None:
            yield Violation("A VM needs a cluster: give the cluster's id or name", 400)
        else:
            violation = self.cluster_violation()
            if violation:
                yield violation
        problem = template_problem(self.given.template)
        if problem:
            yield Violation(problem, 400)
        yield from shape_violations(self.given, name)
        if self.given.snapshots:
            yield Violation("Creating a VM from a snapshot is not supported", 400)
        if self.given.nics:
            yield Violation(f"Add the vNICs of VM '{name}' through its nics collection once it exists", 400)

    def execute(self) -> Vm:
        assert self.cluster is not None
        vm = Vm(name=self.given.name, cluster_id=self.cluster.id, template_id=BLANK_TEMPLATE_ID, status="down")
        apply_fields(vm, self.given)
        self.session.add(vm)
        self.session.flush()
        self.session.add(Snapshot(vm_id=vm.id, description=ACTIVE_SNAPSHOT, snapshot_type="active", nics=[]))
        return vm


class UpdateVm(_VmCommand):
    verb = "update"

    def validate(self) -> Iterable[Violation]:
        vm = self.vm
        assert vm is not None
        if self.given.name is not None and self.given.name != vm.name:
            yield from self.name_violations()
        problem = template_problem(self.given.template)
        if problem:
            yield Violation(problem, 400)
        yield from shape_violations(self.given, vm.name)
        if self.given.cluster is not None:
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
        apply_fields(vm, self.given)
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


def start_options(given: StartInput) -> dict[str, Any]:
    return {"pause": bool(given.pause)}
