"""``/vms``: virtual machines, their vNICs (``/vms/{id}/nics``) and snapshots (``/vms/{id}/snapshots``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from extnet.engine.api.hrefs import href, ref
from extnet.engine.api.inputs import action_input, to_input
from extnet.engine.api.mappers import (
    Field,
    Mapper,
    Source,
    attr,
    const,
    href_field,
    identity,
    link_fields,
    reference,
)
from extnet.engine.api.resources.base import Collection, Ctx, completed, services_of
from extnet.engine.api.resources.hosts import related_matcher
from extnet.engine.api.resources.provider_ports import NicOpenStackPorts
from extnet.engine.api.resources.reported import NicReportedDevices, VmReportedDevices
from extnet.engine.api.schema import NIC_INTERFACES, VM_STATUS, List
from extnet.engine.api.search import Matcher
from extnet.engine.commands.base import run
from extnet.engine.commands.nics import NicInput, nics_of
from extnet.engine.commands.snapshots import (
    AddSnapshot,
    CommitSnapshot,
    PreviewInput,
    PreviewSnapshot,
    RemoveSnapshot,
    RestoreSnapshot,
    SnapshotInput,
    UndoSnapshot,
    current_nics,
)
from extnet.engine.commands.vms import (
    BLANK_TEMPLATE_ID,
    AddVm,
    MigrateInput,
    StartInput,
    StopInput,
    UpdateVm,
    VmInput,
    start_options,
)
from extnet.engine.errors import BadRequest, NotFound
from extnet.engine.operations import migration, vm_run, vnics
from extnet.engine.store.db import fetch
from extnet.engine.store.models import Cluster, DataCenter, Host, Snapshot, Vm, VmNic
from extnet.engine.store.queries import Entity, nic_in, parse_uuid, vm_of

VM_LINKS = ("nics", "snapshots", "numanodes", "diskattachments", "reporteddevices", "statistics")
NIC_LINKS = ("networkfilterparameters", "reporteddevices", "statistics", "openstackports")


def utc(moment: datetime | None) -> datetime | None:
    """Dates as stored come back without a zone from SQLite; they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _status_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    status = value.lower()
    if status not in VM_STATUS:
        raise BadRequest(f"Unknown VM status '{value}'; known: {', '.join(VM_STATUS)}")
    return Vm.status != status if op == "!=" else Vm.status == status


def _time(name: str) -> Source:
    return lambda vm, extra: utc(getattr(vm, name))


VM = Mapper("Vm", "vm", "vms", (
    *identity("vms", Vm),
    Field("status", VM_STATUS, attr("status"), "out", search=_status_matcher),
    Field("memory", "int", attr("memory")),
    Field("cpu", "Cpu", lambda vm, extra: {"topology": {"sockets": vm.cpu_sockets, "cores": vm.cpu_cores,
                                                        "threads": vm.cpu_threads}, "architecture": "x86_64"}),
    Field("os", "OperatingSystem", lambda vm, extra: {"type": vm.os_type}),
    Field("type", ("desktop", "server", "high_performance"), attr("vm_type")),
    Field("stateless", "bool", attr("stateless")),
    Field("delete_protected", "bool", attr("delete_protected")),
    Field("high_availability", "HighAvailability",
          lambda vm, extra: {"enabled": vm.high_availability, "priority": vm.ha_priority}),
    Field("creation_time", "date", _time("creation_time"), "out"),
    Field("start_time", "date", _time("start_time"), "out"),
    Field("stop_time", "date", _time("stop_time"), "out"),
    Field("run_once", "bool", const(False)),
    Field("next_run_configuration_exists", "bool", const(False), "out"),
    Field("cluster", "Cluster", reference("clusters", "cluster_id"), required=True,
          search=related_matcher(Vm.cluster_id, select(Cluster.id), Cluster.name)),
    Field("template", "Template", reference("templates", "template_id")),
    Field("original_template", "Template", reference("templates", "template_id")),
    Field("host", "Host", reference("hosts", "host_id"), search=related_matcher(Vm.host_id, select(Host.id),
                                                                                  Host.name)),
    *link_fields("vms", *VM_LINKS),
    Field("nics", List("nic", "Nic")),
    Field("snapshots", List("snapshot", "Snapshot")),
))  # fmt: skip


def render_vm(vm: Vm) -> Entity:
    return VM.render(vm)


class Vms(Collection):
    required_on_add = VM.required()
    type_name = VM.type_name
    what = "VM"
    actions = ("start", "stop", "shutdown", "previewsnapshot", "commitsnapshot", "undosnapshot", "migrate")
    # these call providers and hosts, or change the VM's vNIC set: they run under the VM's lease
    # (operations.vm_run, operations.migration)
    self_managed = frozenset({"remove", *(f"action:{name}" for name in actions)})
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **VM.search_fields(),
        "datacenter": related_matcher(
            Vm.cluster_id, select(Cluster.id).join(DataCenter, DataCenter.id == Cluster.data_center_id),
            DataCenter.name,
        ),
    }  # fmt: skip

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = self.apply_search(ctx, select(Vm).order_by(Vm.name), {"name": Vm.name, "status": Vm.status})
        return [render_vm(vm) for vm in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_vm(vm_of(ctx.db, entity_id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        return render_vm(run(AddVm(ctx.db, to_input(VM, body, VmInput))))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        given = to_input(VM, body, VmInput)
        return render_vm(run(UpdateVm(ctx.db, given, vm_of(ctx.db, entity_id, lock=True))))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        vm_run.remove_vm(ctx.database, services_of(ctx), parse_uuid(entity_id, "VM"))

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        vm_id, services = parse_uuid(entity_id, "VM"), services_of(ctx)
        if name == "start":
            vm_run.start_vm(ctx.database, services, vm_id, **start_options(action_input(body, StartInput)))
        elif name in ("stop", "shutdown"):
            vm_run.stop_vm(ctx.database, services, vm_id, name, bool(action_input(body, StopInput).force))
        elif name == "migrate":
            migration.migrate_vm(ctx.database, services, vm_id, action_input(body, MigrateInput))
        elif name == "previewsnapshot":
            given = action_input(body, PreviewInput)
            vm_run.snapshot_action(ctx.database, services, vm_id,
                                  lambda s, vm: PreviewSnapshot(s, vm, _action_snapshot(s, vm, given)))  # fmt: skip
        elif name == "commitsnapshot":
            vm_run.snapshot_action(ctx.database, services, vm_id, CommitSnapshot)
        else:
            vm_run.snapshot_action(ctx.database, services, vm_id, UndoSnapshot)
        return completed()


def _action_snapshot(session: Session, vm: Vm, given: PreviewInput) -> Snapshot:
    snapshot_id = given.snapshot_id()
    if not snapshot_id:
        raise BadRequest(f"Say which snapshot of VM '{vm.name}' to preview: <snapshot id=\"...\"/>")
    return snapshot_in(session, vm, snapshot_id)


# --- vNICs -------------------------------------------------------------------------------------------------


def _nic_href(nic: VmNic) -> str:
    return href("vms", nic.vm_id, "nics", nic.id)


NIC = Mapper("Nic", "nic", "nics", (
    *identity(_nic_href),
    Field("interface", NIC_INTERFACES, attr("interface")),
    Field("mac", "Mac", lambda nic, extra: {"address": nic.mac_address}),
    Field("linked", "bool", attr("linked")),
    Field("plugged", "bool", attr("plugged")),
    Field("vnic_profile", "VnicProfile", reference("vnicprofiles", "vnic_profile_id")),
    Field("vm", "Vm", reference("vms", "vm_id")),
    *link_fields(_nic_href, *NIC_LINKS),
    Field("network", "Network"),
    Field("boot_protocol", ("none", "dhcp", "static", "autoconf", "poly_dhcp_autoconf")),
    Field("on_boot", "bool"),
))  # fmt: skip


def render_nic(nic: VmNic) -> Entity:
    return NIC.render(nic)


class VmNics(Collection):
    required_on_add = NIC.required()
    type_name = NIC.type_name
    what = "vNIC"
    actions = ("activate", "deactivate")
    # changes of a VM's vNICs plug them on hosts and make or remove their ports (operations.vnics)
    self_managed = frozenset({"add", "update", "remove", "action:activate", "action:deactivate"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        vm = vm_of(ctx.db, parents[0])
        return [render_nic(nic) for nic in nics_of(ctx.db, vm.id)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_nic(nic_in(ctx.db, vm_of(ctx.db, parents[0]), entity_id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        given = to_input(NIC, body, NicInput)
        nic_id = vnics.add_nic(ctx.database, services_of(ctx), parse_uuid(parents[0], "VM"), given)
        return _render_nic_by_id(ctx, parents[0], nic_id)

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        vm_id, given = parse_uuid(parents[0], "VM"), to_input(NIC, body, NicInput)
        vnics.update_nic(ctx.database, services_of(ctx), vm_id, entity_id, vnics.edit_command(given),
                         "Cannot edit Interface")  # fmt: skip
        return _render_nic_by_id(ctx, vm_id, entity_id)

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        vnics.remove_nic(ctx.database, services_of(ctx), parse_uuid(parents[0], "VM"), entity_id)

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        vnics.update_nic(ctx.database, services_of(ctx), parse_uuid(parents[0], "VM"), entity_id,
                         vnics.plug_command(name == "activate"), f"Cannot {name} Interface")  # fmt: skip
        return completed()


def _render_nic_by_id(ctx: Ctx, vm_id: str, nic_id: str) -> Entity:
    with ctx.database.transaction(write=False) as session:
        return render_nic(nic_in(session, vm_of(session, vm_id), nic_id))


class _NicDevices(Collection):
    """A per-vNIC collection that is empty until hosts report (filter parameters, guest devices, statistics)."""

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        nic_in(ctx.db, vm_of(ctx.db, parents[0]), parents[1])
        return []

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        nic_in(ctx.db, vm_of(ctx.db, parents[0]), parents[1])
        raise NotFound(f"Entity not found: {self.what} '{entity_id}'")


class NicFilterParameters(_NicDevices):
    type_name = "NetworkFilterParameter"
    what = "network filter parameter"


class NicStatistics(_NicDevices):
    type_name = "Statistic"
    what = "statistic"


VmNics.subs = {"networkfilterparameters": NicFilterParameters, "reporteddevices": NicReportedDevices,
               "statistics": NicStatistics, "openstackports": NicOpenStackPorts}  # fmt: skip


# --- snapshots ---------------------------------------------------------------------------------------------


def _snapshot_href(snapshot: Snapshot) -> str:
    return href("vms", snapshot.vm_id, "snapshots", snapshot.id)


SNAPSHOT = Mapper("Snapshot", "snapshot", "snapshots", (
    href_field(_snapshot_href),
    Field("id", "id", attr("id")),
    Field("name", "str"),
    Field("description", "str", attr("description"), required=True),
    Field("comment", "str"),
    Field("date", "date", _time("date"), "out"),
    Field("snapshot_type", ("active", "regular", "preview", "stateless"), attr("snapshot_type")),
    Field("snapshot_status", ("ok", "in_preview", "locked"), attr("snapshot_status"), "out"),
    Field("persist_memorystate", "bool", attr("persist_memorystate")),
    Field("vm", "Vm", reference("vms", "vm_id")),
    *link_fields(_snapshot_href, "nics"),
    Field("nics", List("nic", "Nic")),
))  # fmt: skip


def render_snapshot(snapshot: Snapshot) -> Entity:
    return SNAPSHOT.render(snapshot)


def snapshot_in(session: Session, vm: Vm, snapshot_id: str) -> Snapshot:
    snapshot = fetch(session, Snapshot, parse_uuid(snapshot_id, "snapshot"))
    if snapshot is None or snapshot.vm_id != vm.id:
        raise NotFound(f"Entity not found: snapshot '{snapshot_id}' of VM '{vm.name}'")
    return snapshot


class VmSnapshots(Collection):
    required_on_add = SNAPSHOT.required()
    type_name = SNAPSHOT.type_name
    what = "snapshot"
    actions = ("restore",)
    self_managed = frozenset({"action:restore"})  # the VM's vNIC set changes: its lease, and the outbox

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        vm = vm_of(ctx.db, parents[0])
        stmt = select(Snapshot).where(Snapshot.vm_id == vm.id).order_by(Snapshot.date, Snapshot.id)
        return [render_snapshot(snapshot) for snapshot in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_snapshot(snapshot_in(ctx.db, vm_of(ctx.db, parents[0]), entity_id))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        vm = vm_of(ctx.db, parents[0], lock=True)
        command = AddSnapshot(ctx.db, vm, to_input(SNAPSHOT, body, SnapshotInput))
        return render_snapshot(run(command))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        vm = vm_of(ctx.db, parents[0], lock=True)
        run(RemoveSnapshot(ctx.db, vm, snapshot_in(ctx.db, vm, entity_id)))

    def action(self, ctx: Ctx, parents: list[str], entity_id: str, name: str, body: Entity) -> Entity:
        vm_run.snapshot_action(ctx.database, services_of(ctx), parse_uuid(parents[0], "VM"),
                              lambda s, vm: RestoreSnapshot(s, vm, snapshot_in(s, vm, entity_id)))  # fmt: skip
        return completed()


class SnapshotNics(Collection):
    """The vNICs a snapshot remembers (the active snapshot: the VM's current vNICs)."""

    type_name = "Nic"
    what = "snapshot vNIC"

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        vm = vm_of(ctx.db, parents[0])
        snapshot = snapshot_in(ctx.db, vm, parents[1])
        states = current_nics(ctx.db, vm) if snapshot.snapshot_type == "active" else snapshot.nics
        base = href("vms", vm.id, "snapshots", snapshot.id, "nics")
        return [_render_nic_state(state, base, vm.id) for state in sorted(states, key=lambda s: str(s["name"]))]


def _state(key: str) -> Source:
    return lambda state, extra: state[key]


def _state_if_any(key: str) -> Source:
    return lambda state, extra: state.get(key)


# a vNIC as a snapshot remembers it: a state of the vNIC (commands.snapshots), not a row
SNAPSHOT_NIC = NIC.view({
    "href": lambda state, extra: f"{extra['base']}/{state['id']}",
    "id": _state("id"), "name": _state("name"), "description": _state_if_any("description"),
    "comment": _state_if_any("comment"), "interface": _state("interface"),
    "mac": lambda state, extra: {"address": state["mac_address"]},
    "linked": _state("linked"), "plugged": _state("plugged"),
    "vnic_profile": lambda state, extra: ref("vnicprofiles", state.get("vnic_profile_id")),
    "vm": lambda state, extra: ref("vms", extra["vm_id"]),
}, inherit=False)  # fmt: skip


def _render_nic_state(state: dict[str, Any], base: str, vm_id: str) -> Entity:
    return SNAPSHOT_NIC.render(state, base=base, vm_id=vm_id)


VmSnapshots.subs = {"nics": SnapshotNics}


# --- per-VM collections that stay empty until there are disks and host agents --------------------------------


class _VmDevices(Collection):
    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        vm_of(ctx.db, parents[0])
        return []

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        vm_of(ctx.db, parents[0])
        raise NotFound(f"Entity not found: {self.what} '{entity_id}'")


class VmNumaNodes(_VmDevices):
    type_name = "VirtualNumaNode"
    what = "NUMA node"


class VmDiskAttachments(_VmDevices):
    type_name = "DiskAttachment"
    what = "disk attachment"


class VmStatistics(_VmDevices):
    type_name = "Statistic"
    what = "statistic"


Vms.subs = {"nics": VmNics, "snapshots": VmSnapshots, "numanodes": VmNumaNodes, "diskattachments": VmDiskAttachments,
            "reporteddevices": VmReportedDevices, "statistics": VmStatistics}  # fmt: skip

__all__ = ["BLANK_TEMPLATE_ID", "VmNics", "VmSnapshots", "Vms"]
