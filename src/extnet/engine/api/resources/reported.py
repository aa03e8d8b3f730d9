"""What the guest reports of its vNICs (``reporteddevices`` of a VM and of each vNIC), read live from the host agent
of the host the VM runs on (``operations/reported.py``). Each plugged vNIC is a device of type ``network`` named as
the guest names it, with its MAC and the addresses the guest has."""

from __future__ import annotations

from extnet.engine.api.hrefs import href
from extnet.engine.api.mappers import Field, Mapper, attr, const, link_fields, reference
from extnet.engine.api.resources.base import Collection, Ctx, services_of
from extnet.engine.api.schema import List
from extnet.engine.errors import NotFound
from extnet.engine.operations import reported as ops
from extnet.engine.store.queries import Entity, parse_uuid


def _ip(address: ops.GuestAddress) -> Entity:
    entry: Entity = {"address": address.address, "version": f"v{address.version}"}
    if address.netmask is not None:
        entry["netmask"] = address.netmask
    return entry


def _device_href(device: ops.ReportedNic, extra: Entity) -> str:
    return href("vms", device.vm_id, "reporteddevices", device.id)


REPORTED_DEVICE = Mapper("ReportedDevice", "reported_device", "reported_devices", (
    Field("id", "id", attr("id")),
    Field("href", "str", _device_href, "out"),
    Field("name", "str", attr("name")),
    Field("description", "str", lambda device, extra: f"vNIC {device.vnic_name}"),
    Field("comment", "str"),
    Field("type", ("network",), const("network")),
    Field("mac", "Mac", lambda device, extra: {"address": device.mac}),
    Field("ips", List("ip", "Ip"), lambda device, extra: {"ip": [_ip(address) for address in device.addresses]}),
    Field("vm", "Vm", reference("vms", "vm_id")),
    *link_fields("vms"),
))  # fmt: skip


def render_device(device: ops.ReportedNic) -> Entity:
    return REPORTED_DEVICE.render(device)


def _by_id(devices: list[Entity], entity_id: str, what: str) -> Entity:
    for device in devices:
        if device["id"] == entity_id:
            return device
    raise NotFound(f"Entity not found: {what} '{entity_id}'")


class VmReportedDevices(Collection):
    type_name = REPORTED_DEVICE.type_name
    what = "reported device"
    self_managed = frozenset({"list_", "get"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        vm_id = parse_uuid(parents[0], "VM")
        return [render_device(nic) for nic in ops.reported_nics(ctx.database, services_of(ctx), vm_id).values()]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return _by_id(self.list_(ctx, parents), entity_id, self.what)


class NicReportedDevices(Collection):
    type_name = REPORTED_DEVICE.type_name
    what = "reported device"
    self_managed = frozenset({"list_", "get"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        vm_id, nic_id = parse_uuid(parents[0], "VM"), parse_uuid(parents[1], "vNIC")
        nic = ops.reported_nic(ctx.database, services_of(ctx), vm_id, nic_id)
        return [render_device(nic)] if nic else []

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return _by_id(self.list_(ctx, parents), entity_id, self.what)
