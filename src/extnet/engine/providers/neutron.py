"""What the engine reads of a provider's networks, subnets, security groups, ports, routers and agents, parsed
tolerantly from Neutron's JSON, once, here: the rest of the engine (and the VIF builder, ``extnet.common.vif``) reads
only these typed values.

Unknown fields are ignored and a field of an unexpected type reads as absent (newer Neutron versions have turned
strings into objects before), so a provider's extensions never break discovery or import.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from extnet.common.vif import Binding, FixedIp, VifDetails

ROUTER_INTERFACE = "network:router_interface"  # the device_owner of a router's ports on its subnets


@dataclass(frozen=True)
class ProviderNetwork:
    id: str
    name: str
    description: str
    mtu: int | None
    network_type: str | None
    physical_network: str | None
    segmentation_id: int | None
    project_id: str | None

    @property
    def vlan_id(self) -> int | None:
        """The VLAN tag hosts must use: the segmentation id of a ``vlan`` segment (other segments have none)."""
        return self.segmentation_id if self.network_type == "vlan" else None


@dataclass(frozen=True)
class ProviderSubnet:
    id: str
    name: str
    network_id: str
    cidr: str
    ip_version: int
    gateway: str | None
    dns_servers: tuple[str, ...]


@dataclass(frozen=True)
class SecurityGroupRule:
    """A rule of a security group (what is missing or of another type is None: any)."""

    id: str
    direction: str | None  # ingress, egress
    ethertype: str | None  # IPv4, IPv6
    protocol: str | None  # a name (tcp, icmp, ...) or a number
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None


@dataclass(frozen=True)
class ProviderSecurityGroup:
    id: str
    name: str
    description: str = ""
    rules: tuple[SecurityGroupRule, ...] = ()  # empty too when the answer was asked for other fields only


@dataclass(frozen=True)
class ProviderPort:
    """A port as the provider answered it (what is missing or of another type is None). It is what the VIF builder
    reads of a port (``extnet.common.vif.VifPort``): ``binding`` is the binding as a host plugs it."""

    id: str
    network_id: str | None
    mac: str | None  # lower case
    device_id: str | None
    device_owner: str | None
    name: str | None
    host_id: str | None  # binding:host_id
    host_reported: bool  # whether the answer has a binding:host_id at all (a listing asks for the fields it needs)
    status: str | None
    vif_type: str | None  # binding:vif_type as answered (None: not answered)
    vif_details: VifDetails
    fixed_ips: tuple[FixedIp, ...]
    security_groups: tuple[str, ...] | None
    port_security_enabled: bool | None
    admin_state_up: bool | None

    @property
    def binding(self) -> Binding:
        """The binding as a host plugs it: an answer without a vif_type is not bound."""
        return Binding(self.host_id or None, self.vif_type or "unbound", self.vif_details)


@dataclass(frozen=True)
class RouterInterface:
    """A router's address on a subnet: one fixed IP of one of its ``network:router_interface`` ports."""

    subnet_id: str
    port_id: str
    ip_address: str


@dataclass(frozen=True)
class ProviderRouter:
    id: str
    name: str
    status: str | None
    gateway_network_id: str | None  # the external network of its gateway (None: no gateway)
    interfaces: tuple[RouterInterface, ...] = ()


@dataclass(frozen=True)
class ProviderAgent:
    """An agent the provider lists (``GET /agents``): the engine asks which binding hosts have an alive one."""

    host: str | None
    alive: bool
    admin_state_up: bool | None
    agent_type: str | None

    @property
    def serving(self) -> bool:
        """Alive, and not administratively down."""
        return self.alive and self.admin_state_up is not False


def text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return None


def network_from(raw: Any) -> ProviderNetwork | None:
    """A network of a Neutron answer, or None when it has no usable id."""
    if not isinstance(raw, dict) or not text(raw.get("id")):
        return None
    return ProviderNetwork(
        id=str(text(raw["id"])),
        name=text(raw.get("name")) or "",
        description=text(raw.get("description")) or "",
        mtu=number(raw.get("mtu")),
        network_type=text(raw.get("provider:network_type")),
        physical_network=text(raw.get("provider:physical_network")),
        segmentation_id=number(raw.get("provider:segmentation_id")),
        project_id=text(raw.get("project_id")) or text(raw.get("tenant_id")),
    )


def subnet_from(raw: Any) -> ProviderSubnet | None:
    """A subnet of a Neutron answer, or None when it has no usable id."""
    if not isinstance(raw, dict) or not text(raw.get("id")):
        return None
    servers = raw.get("dns_nameservers")
    return ProviderSubnet(
        id=str(text(raw["id"])),
        name=text(raw.get("name")) or "",
        network_id=text(raw.get("network_id")) or "",
        cidr=text(raw.get("cidr")) or "",
        ip_version=number(raw.get("ip_version")) or 4,
        gateway=text(raw.get("gateway_ip")),
        dns_servers=tuple(s for s in (servers if isinstance(servers, list) else []) if isinstance(s, str)),
    )


def security_group_from(raw: Any) -> ProviderSecurityGroup | None:
    """A security group of a Neutron answer, or None when it has no usable id."""
    if not isinstance(raw, dict) or not text(raw.get("id")):
        return None
    rules = [rule for rule in (rule_from(rule) for rule in items_of(raw, "security_group_rules")) if rule]
    rules.sort(key=_rule_order)  # Neutron answers a group's rules in no set order: the same group reads the same
    return ProviderSecurityGroup(id=str(text(raw["id"])), name=text(raw.get("name")) or "",
                                 description=text(raw.get("description")) or "", rules=tuple(rules))  # fmt: skip


def _rule_order(rule: SecurityGroupRule) -> tuple[str, str, str, int, int, str, str, str]:
    return (rule.direction or "", rule.ethertype or "", rule.protocol or "", rule.port_range_min or -1,
            rule.port_range_max or -1, rule.remote_ip_prefix or "", rule.remote_group_id or "", rule.id)  # fmt: skip


def rule_from(raw: Any) -> SecurityGroupRule | None:
    """A security group rule of a Neutron answer, or None when it has no usable id."""
    if not isinstance(raw, dict) or not text(raw.get("id")):
        return None
    return SecurityGroupRule(
        id=str(text(raw["id"])), direction=_string(raw, "direction"), ethertype=_string(raw, "ethertype"),
        protocol=text(raw.get("protocol")), port_range_min=number(raw.get("port_range_min")),
        port_range_max=number(raw.get("port_range_max")), remote_ip_prefix=_string(raw, "remote_ip_prefix"),
        remote_group_id=_string(raw, "remote_group_id"),
    )  # fmt: skip


def port_from(raw: Any) -> ProviderPort | None:
    """A port of a Neutron answer, or None when it has no id (read strictly: only strings are text here)."""
    if not isinstance(raw, dict) or not _string(raw, "id"):
        return None
    groups = raw.get("security_groups")
    return ProviderPort(
        id=str(raw["id"]), network_id=_string(raw, "network_id"),
        mac=(_string(raw, "mac_address") or "").lower() or None, device_id=_string(raw, "device_id"),
        device_owner=_string(raw, "device_owner"), name=_string(raw, "name"), host_id=_string(raw, "binding:host_id"),
        host_reported="binding:host_id" in raw, status=_string(raw, "status"),
        vif_type=_string(raw, "binding:vif_type"), vif_details=VifDetails.from_port(raw.get("binding:vif_details")),
        fixed_ips=_fixed_ips(raw.get("fixed_ips")),
        security_groups=tuple(str(g) for g in groups) if isinstance(groups, list) else None,
        port_security_enabled=_flag(raw, "port_security_enabled"), admin_state_up=_flag(raw, "admin_state_up"),
    )  # fmt: skip


def router_from(raw: Any) -> ProviderRouter | None:
    """A router of a Neutron answer (without its interfaces: they are ports), or None when it has no id."""
    if not isinstance(raw, dict) or not _string(raw, "id"):
        return None
    gateway = raw.get("external_gateway_info")
    return ProviderRouter(id=str(raw["id"]), name=_string(raw, "name") or "", status=_string(raw, "status"),
                          gateway_network_id=_string(gateway, "network_id") if isinstance(gateway, dict) else None)


def with_interfaces(router: ProviderRouter, ports: list[ProviderPort]) -> ProviderRouter:
    """``router`` with an interface per fixed IP of those ``ports`` that are its interfaces."""
    interfaces = tuple(RouterInterface(ip.subnet_id, port.id, ip.ip_address) for port in ports
                       if port.device_id == router.id and port.device_owner == ROUTER_INTERFACE
                       for ip in port.fixed_ips)  # fmt: skip
    return replace(router, interfaces=interfaces)


def agent_from(raw: Any) -> ProviderAgent | None:
    """An agent of a Neutron answer, or None when it is not an object."""
    if not isinstance(raw, dict):
        return None
    return ProviderAgent(host=_string(raw, "host"), alive=raw.get("alive") is True,
                         admin_state_up=_flag(raw, "admin_state_up"),
                         agent_type=_string(raw, "agent_type"))  # fmt: skip


def _string(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _flag(raw: dict[str, Any], key: str) -> bool | None:
    value = raw.get(key)
    return value if isinstance(value, bool) else None


def _fixed_ips(value: Any) -> tuple[FixedIp, ...]:
    """A port's fixed IPs; one without a subnet or an address keeps them empty (the VIF then says what is wrong)."""
    return tuple(FixedIp(_string(ip, "subnet_id") or "", _string(ip, "ip_address") or "") if isinstance(ip, dict)
                 else FixedIp() for ip in (value if isinstance(value, list) else []))  # fmt: skip


def items_of(body: Any, key: str) -> list[Any]:
    """The list ``key`` of a Neutron list answer (empty when the answer has none)."""
    if isinstance(body, dict) and isinstance(body.get(key), list):
        return list(body[key])
    return []


def next_page(body: Any, key: str) -> str | None:
    """The href of the next page of a paginated Neutron list, if any."""
    links = body.get(f"{key}_links") if isinstance(body, dict) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "next" and text(link.get("href")):
            return text(link["href"])
    return None
