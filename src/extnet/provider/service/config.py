"""The networking configuration the services need, parsed once from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from extnet.provider.settings import ProviderSettings

VXLAN_OVERHEAD = 50  # Neutron's VXLAN encapsulation (30) plus the IPv4 header (20)
GENEVE_OVERHEAD = 50  # Neutron's default geneve max_header_size (30) plus the IPv4 header (20)
MAX_VNI = 2**24 - 1


@dataclass(frozen=True)
class NetConfig:
    tenant_network_type: str = "vxlan"
    vni_ranges: tuple[tuple[int, int], ...] = ((1, 65535),)
    vlan_ranges: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=lambda: {"physnet1": ((100, 200),)})
    flat_networks: tuple[str, ...] = ("*",)
    global_physnet_mtu: int = 1500
    agent_down_time: int = 75
    max_dns_nameservers: int = 5
    max_subnet_host_routes: int = 20
    max_allowed_address_pairs: int = 10
    max_routes: int = 30
    # the mechanism driver's part: the agents ports bind to, and whether their heartbeats set port status (the
    # ``ovn`` driver takes both from OVN instead)
    binding_agents: tuple[str, ...] = ("Open vSwitch agent", "OVN Controller agent", "Linux bridge agent")
    device_reports: bool = True
    quota_defaults: dict[str, int] = field(default_factory=dict)  # resource -> limit (missing: -1, unlimited)

    def max_mtu(self, network_type: str) -> int:
        if network_type == "vxlan":
            return self.global_physnet_mtu - VXLAN_OVERHEAD
        if network_type == "geneve":
            return self.global_physnet_mtu - GENEVE_OVERHEAD
        return self.global_physnet_mtu

    def flat_allowed(self, physnet: str) -> bool:
        return "*" in self.flat_networks or physnet in self.flat_networks

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> NetConfig:
        return cls(
            tenant_network_type=settings.effective_tenant_network_type(),
            vni_ranges=parse_ranges(settings.vni_ranges, "vni_ranges"),
            vlan_ranges=parse_vlan_ranges(settings.vlan_ranges),
            flat_networks=tuple(name.strip() for name in settings.flat_networks.split(",") if name.strip()),
            global_physnet_mtu=settings.global_physnet_mtu,
            agent_down_time=settings.agent_down_time,
            binding_agents=("OVN Controller agent",) if settings.driver == "ovn" else cls.binding_agents,
            device_reports=settings.driver != "ovn",
            quota_defaults=settings.quota_defaults(),
        )


def parse_ranges(text: str, what: str) -> tuple[tuple[int, int], ...]:
    """``"1:1000,2000:3000"``."""
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        low, _, high = part.strip().partition(":")
        try:
            ranges.append((int(low), int(high or low)))
        except ValueError:
            raise ValueError(f"{what}: '{part}' is not FIRST:LAST") from None
    return tuple(ranges)


def parse_vlan_ranges(text: str) -> dict[str, tuple[tuple[int, int], ...]]:
    """``"physnet1:100:200,physnet2"``: a physical network alone allows provider VLANs there but no tenant ones."""
    result: dict[str, list[tuple[int, int]]] = {}
    for part in text.split(","):
        fields = [f.strip() for f in part.split(":")]
        if not fields[0]:
            continue
        ranges = result.setdefault(fields[0], [])
        if len(fields) == 3:
            ranges.append((int(fields[1]), int(fields[2])))
        elif len(fields) != 1:
            raise ValueError(f"vlan_ranges: '{part}' is not PHYSNET or PHYSNET:FIRST:LAST")
    return {name: tuple(ranges) for name, ranges in result.items()}
