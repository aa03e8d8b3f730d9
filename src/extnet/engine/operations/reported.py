"""What the guest reports of a VM's vNICs, read live from the host agent of the host the VM runs on (``VM.getStats``),
as oVirt shows what its guest agent reports: each plugged vNIC, named as the guest names it, with its MAC and the
addresses the guest has. A report is never a fault: a VM that does not run, or whose host does not answer, reports
nothing."""

from __future__ import annotations

import ipaddress
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from extnet.engine.errors import NotFound
from extnet.engine.hosts.client import HostAgentError, HostEndpoint
from extnet.engine.operations.pairing import endpoint_of
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.models import Host, Vm, VmNic

log = logging.getLogger("extnet.engine.reported")
RUNNING = ("up", "paused", "migrating", "powering_up")


@dataclass(frozen=True)
class GuestAddress:
    address: str
    version: int  # 4 or 6
    netmask: str | None  # IPv4 only


@dataclass(frozen=True)
class ReportedNic:
    """A vNIC as the guest reports it (names and MAC as the agent sent them)."""

    id: str  # the reported device's id: stable for the VM and the vNIC (device_id)
    vm_id: str
    vnic_id: str
    name: str | None  # as the guest names it, else the vNIC's name
    vnic_name: str | None
    mac: str | None
    addresses: tuple[GuestAddress, ...]


def device_id(vm_id: str, vnic_id: str) -> str:
    return str(uuid.uuid5(uuid.UUID(vm_id), f"reported-device/{vnic_id}"))


def reported_nics(database: Database, services: EngineServices, vm_id: str) -> dict[str, ReportedNic]:
    """{vNIC id: what the guest reports of it} of the VM ``vm_id`` (a parsed id); NotFound if there is no such VM."""
    endpoint, nics = _where_it_runs(database, services, vm_id)
    if endpoint is None:
        return {}
    try:
        stats = services.host_agents.vm_stats(endpoint, vm_id)
    except HostAgentError as err:  # the guest's view is a report: none now is an empty one, not a fault
        log.info("host %s does not report VM %s: %s", endpoint.name, vm_id, err)
        return {}
    found: dict[str, ReportedNic] = {}
    for vnic in (stats.get("vm") or {}).get("vnics") or []:
        if vnic.get("plugged") and vnic.get("vnic_id") in nics:
            found[vnic["vnic_id"]] = _reported_nic(vm_id, vnic)
    return found


def reported_nic(database: Database, services: EngineServices, vm_id: str, nic_id: str) -> ReportedNic | None:
    """What the guest reports of the vNIC ``nic_id`` of the VM ``vm_id`` (parsed ids); NotFound if it has no such
    vNIC."""
    with database.transaction(write=False) as session:
        nic = session.get(VmNic, nic_id)
        if nic is None or nic.vm_id != vm_id:
            raise NotFound(f"Entity not found: vNIC '{nic_id}'")
    return reported_nics(database, services, vm_id).get(nic_id)


def _where_it_runs(database: Database, services: EngineServices, vm_id: str) -> tuple[HostEndpoint | None, set[str]]:
    """The endpoint of the host agent that runs the VM (None: it does not run), and the ids of the VM's vNICs."""
    with database.transaction(write=False) as session:
        vm = session.get(Vm, vm_id)
        if vm is None:
            raise NotFound(f"Entity not found: VM '{vm_id}'")
        host = session.get(Host, vm.host_id) if vm.host_id and vm.status in RUNNING else None
        endpoint = endpoint_of(host, services) if host is not None else None
        nics = {nic.id for nic in session.query(VmNic).filter(VmNic.vm_id == vm_id)}
    return endpoint, nics


def _reported_nic(vm_id: str, vnic: dict[str, Any]) -> ReportedNic:
    return ReportedNic(
        id=device_id(vm_id, vnic["vnic_id"]), vm_id=vm_id, vnic_id=vnic["vnic_id"],
        name=vnic.get("guest_name") or vnic.get("vnic_name"), vnic_name=vnic.get("vnic_name"), mac=vnic.get("mac"),
        addresses=_addresses(vnic.get("addresses")),
    )  # fmt: skip


def _addresses(addresses: Any) -> tuple[GuestAddress, ...]:
    found = []
    for cidr in addresses if isinstance(addresses, list) else []:
        try:
            interface = ipaddress.ip_interface(cidr)
        except ValueError:
            continue
        netmask = str(interface.netmask) if interface.version == 4 else None
        found.append(GuestAddress(str(interface.ip), interface.version, netmask))
    return tuple(found)
