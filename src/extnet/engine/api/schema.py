"""The types of oVirt's API v4 model that extnet speaks, declared once.

Each type lists its wire fields. A field is a scalar kind ("str", "int", "bool", "date", or an enum tuple),
a nested type (its type name), or a list ``List(item_tag, item_kind)``. Input in XML or JSON is checked and
coerced against these declarations (``coerce``); a field that is not declared is a 400 fault, so a typo is never
silently ignored. Output is built by the resource mappers in the same canonical shape, which is oVirt's JSON
shape: ``{"id": .., "href": .., "name": .., "usages": {"usage": ["vm"]}, "link": [{"rel", "href"}]}``.

The type of every resource (an entity of a collection: data centers, clusters, networks, vNIC profiles, MAC pools,
hosts, VMs, vNICs, snapshots, templates, jobs, scheduling policies, providers, their networks, subnets and
certificates, cluster providers, reported devices, network labels, events) is registered here by its declared mapper
(``api/mappers.py``), in the resource's module. Defined below: the value types resources nest (``Version``,
``Cpu``, ``Ip``, ...), which have no collection and no model of their own, the ``Action`` body, the API root, and
the types of the per-VM and per-vNIC collections that stay empty (disk attachments, NUMA nodes, statistics,
network filter parameters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from extnet.engine.errors import BadRequest


@dataclass(frozen=True)
class List:
    item: str
    kind: Kind


Kind = str | tuple[str, ...] | List

SCALARS = {"str", "int", "bool", "date", "id"}


@dataclass(frozen=True)
class TypeDef:
    name: str
    tag: str  # element name, e.g. "data_center"
    plural: str  # collection element name, e.g. "data_centers"
    fields: dict[str, Kind]
    # fields only the engine writes (readOnly in the OpenAPI document); input still accepts them back, as
    # ovirtsdk4 sends whole objects in updates
    output_only: frozenset[str] = frozenset()
    input_only: frozenset[str] = frozenset()  # fields never rendered (writeOnly), e.g. passwords


TYPES: dict[str, TypeDef] = {}
WRITTEN = ("href", "link", "actions")  # output only, in every type


def define(name: str, tag: str, plural: str, fields: dict[str, Kind], output: tuple[str, ...] = ()) -> TypeDef:
    base: dict[str, Kind] = {"id": "id", "href": "str", "name": "str", "description": "str", "comment": "str"}
    tdef = TypeDef(name, tag, plural, {**base, **fields}, frozenset((*WRITTEN, *output)))
    TYPES[name] = tdef
    return tdef


def links() -> dict[str, Kind]:
    return {"link": List("link", "Link"), "actions": "Actions"}


VM_STATUS = (
    "down", "up", "powering_up", "powering_down", "paused", "migrating", "unknown", "not_responding",
    "wait_for_launch", "reboot_in_progress", "saving_state", "restoring_state", "suspended",
    "image_locked", "image_illegal",
)  # fmt: skip
HOST_STATUS = (
    "up", "down", "maintenance", "non_responsive", "non_operational", "installing", "install_failed",
    "initializing", "connecting", "error", "preparing_for_maintenance", "reboot", "unassigned",
    "pending_approval", "installing_os", "kdumping",
)  # fmt: skip
NETWORK_USAGES = ("vm", "management", "display", "migration", "gluster", "default_route")
NIC_INTERFACES = ("virtio", "e1000", "e1000e", "rtl8139", "rtl8139_virtio", "pci_passthrough", "spapr_vlan")
RNG_SOURCES = ("urandom", "random", "hwrng")
MIGRATE_ON_ERROR = ("migrate", "migrate_highly_available", "do_not_migrate")
INHERITABLE_BOOLEAN = ("true", "false", "inherit")
SERIAL_NUMBER_POLICIES = ("none", "host", "vm", "custom")
JOB_STATUS = ("started", "finished", "failed", "aborted", "unknown")

define("Link", "link", "links", {"rel": "str"})
define("Actions", "actions", "actions", {"link": List("link", "Link")})
define("Version", "version", "versions", {
    "major": "int", "minor": "int", "build": "int", "revision": "int", "full_version": "str",
})  # fmt: skip
define("ProductInfo", "product_info", "product_infos", {"vendor": "str", "version": "Version", "instance_id": "str"})
define("Property", "property", "properties", {"value": "str"})
define("CustomProperty", "custom_property", "custom_properties", {"value": "str", "regexp": "str"})
define("Range", "range", "ranges", {"from": "str", "to": "str"})
define("Mac", "mac", "macs", {"address": "str"})
define("Vlan", "vlan", "vlans", {})
define("PassThrough", "pass_through", "pass_throughs", {"mode": ("disabled", "enabled")})
define("CpuTopology", "topology", "topologies", {"sockets": "int", "cores": "int", "threads": "int"})
define("Cpu", "cpu", "cpus", {"topology": "CpuTopology", "type": "str", "architecture": "str"})
define("OperatingSystem", "os", "oss", {"type": "str", "custom_kernel_cmdline": "str"})
define("HighAvailability", "high_availability", "high_availabilities", {"enabled": "bool", "priority": "int"})
define("Api", "api", "apis", {
    "product_info": "ProductInfo", "special_objects": "SpecialObjects", "summary": "ApiSummary", "time": "date",
    "authenticated_user": "User", **links(),
}, output=("product_info", "special_objects", "summary", "time", "authenticated_user"))  # fmt: skip
define("SpecialObjects", "special_objects", "special_objects", {"blank_template": "Template"})
define("ApiSummary", "summary", "summaries", {})
define("User", "user", "users", {"user_name": "str", "principal": "str", "domain": "str"})

# MacPool: api/resources/macpools.py (declared by its mapper)
# DataCenter: api/resources/datacenters.py (declared by its mapper)
# Cluster: api/resources/clusters.py (declared by its mapper)
# ExternalProvider: api/resources/cluster_providers.py (declared by its mapper)
define("MemoryPolicy", "memory_policy", "memory_policies", {
    "over_commit": "MemoryOverCommit", "ballooning": "bool", "guaranteed": "int", "max": "int",
    "transparent_hugepages": "TransparentHugePages",
})  # fmt: skip
define("MemoryOverCommit", "over_commit", "over_commits", {"percent": "int"})
define("TransparentHugePages", "transparent_hugepages", "transparent_hugepagess", {"enabled": "bool"})
# SchedulingPolicy: api/resources/schedulingpolicies.py (declared by its mapper)
define("Ksm", "ksm", "ksms", {"enabled": "bool", "merge_across_nodes": "bool"})
define("FencingPolicy", "fencing_policy", "fencing_policies", {
    "enabled": "bool", "skip_if_sd_active": "SkipIfSdActive", "skip_if_connectivity_broken": "SkipIfConnectivityBroken",
    "skip_if_gluster_bricks_up": "bool", "skip_if_gluster_quorum_not_met": "bool",
})  # fmt: skip
define("SkipIfSdActive", "skip_if_sd_active", "skip_if_sd_actives", {"enabled": "bool"})
define("SkipIfConnectivityBroken", "skip_if_connectivity_broken", "skip_if_connectivity_brokens", {
    "enabled": "bool", "threshold": "int",
})  # fmt: skip
define("ErrorHandling", "error_handling", "error_handlings", {"on_error": MIGRATE_ON_ERROR})
define("MigrationOptions", "migration", "migrations", {
    "auto_converge": INHERITABLE_BOOLEAN, "compressed": INHERITABLE_BOOLEAN, "encrypted": INHERITABLE_BOOLEAN,
    "bandwidth": "MigrationBandwidth", "policy": "MigrationPolicy",
})  # fmt: skip
define("MigrationBandwidth", "bandwidth", "bandwidths", {
    "assignment_method": ("auto", "hypervisor_default", "custom"), "custom_value": "int",
})  # fmt: skip
define("MigrationPolicy", "migration_policy", "migration_policies", {})
define("SerialNumber", "serial_number", "serial_numbers", {"policy": SERIAL_NUMBER_POLICIES, "value": "str"})
define("Display", "display", "displays", {"proxy": "str"})
# Network: api/resources/networks.py (declared by its mapper)
# OpenStackNetworkProvider: api/resources/providers.py (declared by its mapper)
define("AgentConfiguration", "agent_configuration", "agent_configurations", {})
# Certificate: api/resources/providers.py (declared by its mapper)
# OpenStackNetwork: api/resources/provider_networks.py (declared by its mapper)
# OpenStackSubnet: api/resources/provider_networks.py (declared by its mapper)
# Event: api/resources/events.py (declared by its mapper)
# VnicProfile: api/resources/vnicprofiles.py (declared by its mapper)
define("NetworkFilter", "network_filter", "network_filters", {})
# NetworkLabel: api/resources/networks.py (declared by its mapper)
define("Qos", "qos", "qoss", {})
# Host: api/resources/hosts.py (declared by its mapper)
define("HostAgentInfo", "host_agent", "host_agents", {
    "hostname": "str", "unique_id": "str", "runtime": "str", "protocol_version": "str",
    "vif_versions": List("vif_version", "str"), "binding_host_ids": List("property", "Property"),
    "plugin_types": List("plugin_type", "str"), "vif_types": List("vif_type", "str"),
    "vif_kinds": List("vif_kind", "str"),
    "bridges": List("bridge", "str"), "bridge_mappings": List("property", "Property"),
    "tunnel_types": List("tunnel_type", "str"), "datapath_type": "str",
    "heartbeats": List("heartbeat", "HostAgentHeartbeat"),
})  # fmt: skip
define("HostAgentHeartbeat", "heartbeat", "heartbeats", {
    "openstack_network_provider": "OpenStackNetworkProvider", "state": "str", "detail": "str",
})  # fmt: skip
define("Spm", "spm", "spms", {"priority": "int", "status": ("none", "contending", "spm")})
define("PowerManagement", "power_management", "power_managements", {"enabled": "bool", "kdump_detection": "bool"})
define("VmSummary", "summary", "summaries", {"active": "int", "migrating": "int", "total": "int"})
define("Ssh", "ssh", "sshs", {"port": "int", "authentication_method": ("password", "publickey")})
# Template: api/resources/templates.py (declared by its mapper)
define(
    "TemplateVersion",
    "version",
    "versions",
    {"version_number": "int", "version_name": "str", "base_template": "Template"},
)
# Vm: api/resources/vms.py (declared by its mapper)
# Nic: api/resources/vms.py (declared by its mapper)
# Snapshot: api/resources/vms.py (declared by its mapper)
define("NetworkFilterParameter", "network_filter_parameter", "network_filter_parameters", {"value": "str"})
define("Ip", "ip", "ips", {"address": "str", "netmask": "str", "gateway": "str", "version": ("v4", "v6")})
# ReportedDevice: api/resources/reported.py (declared by its mapper)
define("Statistic", "statistic", "statistics", {})
define("VirtualNumaNode", "vm_numa_node", "vm_numa_nodes", {})
define("DiskAttachment", "disk_attachment", "disk_attachments", {})
define("Action", "action", "actions", {
    "async": "bool", "force": "bool", "status": "str", "snapshot": "Snapshot", "restore_memory": "bool",
    "disks": List("disk", "Disk"), "vm": "Vm", "use_cloud_init": "bool", "use_sysprep": "bool",
    "pause": "bool", "volatile": "bool", "use_ignition": "bool", "use_initialization": "bool",
    "host": "Host", "data_center": "DataCenter", "fault": "Fault", "job": "Job", "reason": "str",
    "filter": "bool", "grace_period": "GracePeriod", "authorized_key": "AuthorizedKey", "attach_wgt": "bool",
    "stop_gluster_service": "bool", "certificates": List("certificate", "Certificate"),
    "attach_to_all_clusters": "bool", "public_use": "bool", "root_password": "str",
    "cluster": "Cluster", "migrate_vms_in_affinity_closure": "bool",
}, output=("status", "fault", "job"))  # fmt: skip
define("Disk", "disk", "disks", {})
# Job: api/resources/jobs.py (declared by its mapper)
define("GracePeriod", "grace_period", "grace_periods", {"expiry": "int"})
define("AuthorizedKey", "authorized_key", "authorized_keys", {})
define("Fault", "fault", "faults", {"reason": "str", "detail": "str"})

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
# NUL cannot be stored (PostgreSQL refuses it), the other C0 controls but tab and newlines are never meant, and
# lone surrogates (JSON "\\ud800") and U+FFFE/U+FFFF can be neither encoded as UTF-8 nor written in XML
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # oVirt's widest integer is a Java long


def coerce(type_name: str, raw: Any, path: str = "") -> dict[str, Any]:
    """Check ``raw`` (parsed XML or JSON) against ``type_name`` and return typed values."""
    tdef = TYPES[type_name]
    where = path or tdef.tag
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, dict):
        raise BadRequest(f"'{where}' must be an object, not {_describe(raw)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        kind = tdef.fields.get(key)
        if kind is None:
            raise BadRequest(f"Unknown field '{key}' in '{where}'; known fields: {', '.join(sorted(tdef.fields))}")
        if value is None:  # JSON null: the field is not given, as oVirt reads it
            continue
        out[key] = _coerce_value(kind, value, f"{where}.{key}")
    return out


def _coerce_value(kind: Kind, value: Any, where: str) -> Any:
    if isinstance(kind, List):
        return _coerce_list(kind, value, where)
    if isinstance(kind, tuple):
        text = _scalar_text(value, where)
        if text.lower() not in kind:
            raise BadRequest(f"Invalid value '{text}' for '{where}'; expected one of: {', '.join(kind)}")
        return text.lower()
    if kind in SCALARS:
        return _coerce_scalar(kind, value, where)
    return coerce(kind, value, where)


def _coerce_list(kind: List, value: Any, where: str) -> list[Any]:
    # XML gives {"usage": "vm"} or {"usage": ["vm", ...]}; JSON may also give a plain list
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        if set(value) - {kind.item}:
            extra = ", ".join(sorted(set(value) - {kind.item}))
            raise BadRequest(f"Unknown field '{extra}' in '{where}'; expected '{kind.item}' elements")
        value = value.get(kind.item, [])
    if not isinstance(value, list):
        value = [value]
    return [_coerce_value(kind.kind, item, f"{where}.{kind.item}") for item in value]


def _coerce_scalar(kind: str, value: Any, where: str) -> Any:
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = _scalar_text(value, where).lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise BadRequest(f"Invalid boolean '{text}' for '{where}'; expected true or false")
    if kind == "int":
        return _coerce_int(value, where)
    if kind == "date":
        text = _scalar_text(value, where)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise BadRequest(f"Invalid date '{text}' for '{where}'") from None
    return _scalar_text(value, where)


def _coerce_int(value: Any, where: str) -> int:
    if isinstance(value, bool | float):
        raise BadRequest(f"Invalid integer {value!r} for '{where}'")
    if isinstance(value, int):
        number = value
    else:
        text = _scalar_text(value, where)
        if len(text.strip()) > 20:
            raise BadRequest(f"Invalid integer '{text[:40]}' for '{where}': too many digits")
        try:
            number = int(text)
        except ValueError:
            raise BadRequest(f"Invalid integer '{text}' for '{where}'") from None
    if not INT_MIN <= number <= INT_MAX:
        raise BadRequest(f"Integer {number} for '{where}' is out of range ({INT_MIN} to {INT_MAX})")
    return number


def _scalar_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        text = str(value)
        if _CONTROL_RE.search(text):
            raise BadRequest(f"'{where}' contains a control character or an invalid code point; only text is accepted")
        return text
    raise BadRequest(f"'{where}' must be a single value, not {_describe(value)}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def is_mac(text: str) -> bool:
    return bool(_MAC_RE.match(text))
