"""What the guest reports of its vNICs (``reporteddevices`` of a VM and of each vNIC): read live from the host agent
of the host the VM runs on (``VM.getStats``), as oVirt shows what its guest agent reports. Each plugged vNIC is a
device of type ``network`` named as the guest names it, with its MAC and the addresses the guest has."""

from __future__ import annotations

import ipaddress
import logging
import uuid
from typing import Any

from extnet.engine.api.hrefs import href, ref
from extnet.engine.api.resources.base import Collection, Ctx, services_of
from extnet.engine.errors import NotFound
from extnet.engine.hosts.client import HostAgentError
from extnet.engine.operations.pairing import endpoint_of
from extnet.engine.store.models import Host, Vm, VmNic
from extnet.engine.store.queries import Entity, parse_uuid

log = logging.getLogger("extnet.engine.reported")
RUNNING = ("up", "paused", "migrating", "powering_up")


def device_id(vm_id: str, vnic_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(vm_id), f"reported-device/{vnic_id}"))


def _ips(addresses: Any) -> list[dict[str, Any]]:
    found = []
    for cidr in addresses if isinstance(addresses, list) else []:
        try:
            interface = ipaddress.ip_interface(cidr)
        except ValueError:
            continue
        entry: dict[str, Any] = {"address": str(interface.ip), "version": f"v{interface.version}"}
        if interface.version == 4:
            entry["netmask"] = str(interface.netmask)
        found.append(entry)
    return found


def reported(ctx: Ctx, vm_id: str) -> dict[str, Entity]:
    """{vNIC id: its reported device} of a running VM (nothing when it does not run or its host does not answer)."""
    vm_id = parse_uuid(vm_id, "VM")
    with ctx.database.transaction(write=False) as session:
        vm = session.get(Vm, vm_id)
        if vm is None:
            raise NotFound(f"Entity not found: VM '{vm_id}'")
        host = session.get(Host, vm.host_id) if vm.host_id and vm.status in RUNNING else None
        endpoint = endpoint_of(host, services_of(ctx)) if host is not None else None
        nics = {nic.id for nic in session.query(VmNic).filter(VmNic.vm_id == vm_id)}
    if endpoint is None:
        return {}
    try:
        stats = services_of(ctx).host_agents.vm_stats(endpoint, vm_id)
    except HostAgentError as err:  # the guest's view is a report: none now is an empty one, not a fault
        log.info("host %s does not report VM %s: %s", endpoint.name, vm_id, err)
        return {}
    devices: dict[str, Entity] = {}
    for vnic in (stats.get("vm") or {}).get("vnics") or []:
        if not vnic.get("plugged") or vnic.get("vnic_id") not in nics:
            continue
        made = device_id(vm_id, vnic["vnic_id"])
        devices[vnic["vnic_id"]] = {
            "id": made, "href": href("vms", vm_id, "reporteddevices", made),
            "name": vnic.get("guest_name") or vnic.get("vnic_name"), "description": f"vNIC {vnic.get('vnic_name')}",
            "type": "network", "mac": {"address": vnic.get("mac")}, "ips": {"ip": _ips(vnic.get("addresses"))},
            "vm": ref("vms", vm_id),
        }  # fmt: skip
    return devices


class VmReportedDevices(Collection):
    type_name = "ReportedDevice"
    what = "reported device"
    self_managed = frozenset({"list_", "get"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        return list(reported(ctx, parents[0]).values())

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        for device in reported(ctx, parents[0]).values():
            if device["id"] == entity_id:
                return device
        raise NotFound(f"Entity not found: {self.what} '{entity_id}'")


class NicReportedDevices(Collection):
    type_name = "ReportedDevice"
    what = "reported device"
    self_managed = frozenset({"list_", "get"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        vm_id, nic_id = parse_uuid(parents[0], "VM"), parse_uuid(parents[1], "vNIC")
        with ctx.database.transaction(write=False) as session:
            nic = session.get(VmNic, nic_id)
            if nic is None or nic.vm_id != vm_id:
                raise NotFound(f"Entity not found: vNIC '{nic_id}'")
        device = reported(ctx, vm_id).get(nic_id)
        return [device] if device else []

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        for device in self.list_(ctx, parents):
            if device["id"] == entity_id:
                return device
        raise NotFound(f"Entity not found: {self.what} '{entity_id}'")
