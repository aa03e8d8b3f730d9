"""Availability zones (``availability_zone``, ``network_availability_zone``, ``router_availability_zone``): the zones
the agents report, as Neutron derives them: a DHCP agent's zone holds networks, an L3 agent's routers, and an OVN
chassis that may host gateways (``ovn-cms-options``: ``availability-zones=a:b``) both, as Neutron's OVN driver reads
it. A zone is ``available`` while one of its agents is administratively up. Networks and routers take zones as
``availability_zone_hints`` when they are made; none is scheduled here, so their ``availability_zones`` are empty."""

from __future__ import annotations

from typing import Any

from extnet.provider.errors import NeutronError
from extnet.provider.service.common import Ctx
from extnet.provider.store.backend import In, Kind, Query

RESOURCES_OF = {"DHCP agent": ("network",), "L3 agent": ("router",),
                "OVN Controller agent": ("network", "router"), "OVN Controller Gateway agent": ("network", "router")}
ZONES_OPTION = "availability-zones="


def zones(ctx: Ctx) -> list[dict[str, Any]]:
    """Every zone by name and resource, with its state."""
    agents = ctx.tx.find(Kind.AGENT, Query(where=In("agent_type", tuple(RESOURCES_OF)))).records
    up: dict[tuple[str, str], bool] = {}
    for agent in agents:
        for name in _zones_of(agent):
            for resource in RESOURCES_OF[agent["agent_type"]]:
                up[(name, resource)] = up.get((name, resource), False) or bool(agent["admin_state_up"])
    return [{"name": name, "resource": resource, "state": "available" if on else "unavailable"}
            for (name, resource), on in sorted(up.items())]  # fmt: skip


def check_hints(ctx: Ctx, resource: str, hints: list[str]) -> list[str]:
    """The hints of a new network or router: zones that exist for that kind of resource (Neutron's 404 else)."""
    known = {zone["name"] for zone in zones(ctx) if zone["resource"] == resource} if hints else set()
    for hint in hints:
        if hint not in known:
            raise NeutronError(404, "AvailabilityZoneNotFound", f"AvailabilityZone {hint} could not be found.")
    return hints


def _zones_of(agent: dict[str, Any]) -> list[str]:
    if agent["agent_type"].startswith("OVN"):
        options = str((agent.get("configurations") or {}).get("ovn-cms-options", ""))
        if "enable-chassis-as-gw" not in options:
            return []
        found = [part[len(ZONES_OPTION):] for part in options.split(",") if part.startswith(ZONES_OPTION)]
        return [name for text in found for name in text.split(":") if name]
    return [agent["availability_zone"]] if agent.get("availability_zone") else []
