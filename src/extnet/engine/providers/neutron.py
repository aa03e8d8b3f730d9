"""What the engine reads of a provider's networks and subnets, parsed tolerantly from Neutron's JSON.

Unknown fields are ignored and a field of an unexpected type reads as absent (newer Neutron versions have turned
strings into objects before), so a provider's extensions never break discovery or import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
class ProviderSecurityGroup:
    id: str
    name: str


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
    return ProviderSecurityGroup(id=str(text(raw["id"])), name=text(raw.get("name")) or "")


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
