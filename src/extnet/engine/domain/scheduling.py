"""oVirt's built-in scheduling and migration policies, with their fixed ids (pure data, no I/O).

The scheduling policies and their default properties are those of ovirt-engine's ``InternalClusterPolicies``;
the property names and value patterns are those of its ``PolicyUnitParameter``. The migration policy ids are the
ones ovirt-engine ships and the ovirt.ovirt modules hard-code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SchedulingPolicy:
    id: str
    name: str
    properties: tuple[tuple[str, str], ...]
    default: bool = False


_BASE = (("CpuOverCommitDurationMinutes", "2"), ("HighUtilization", "80"))

SCHEDULING_POLICIES = (
    SchedulingPolicy("b4ed2332-a7ac-4d5f-9596-99a439cb2812", "none", _BASE, default=True),
    SchedulingPolicy("7677771e-5eab-422e-83fa-dc04080d21b7", "cluster_maintenance", _BASE),
    SchedulingPolicy(
        "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a",
        "evenly_distributed",
        (("HeSparesCount", "0"), *_BASE, ("VCpuToPhysicalCpuRatio", "0")),
    ),
    SchedulingPolicy(
        "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53",
        "power_saving",
        (("HeSparesCount", "0"), *_BASE, ("LowUtilization", "20")),
    ),
    SchedulingPolicy(
        "8d5d7bec-68de-4a67-b53e-0ac54686d579",
        "vm_evenly_distributed",
        (("HeSparesCount", "0"), *_BASE, ("HighVmCount", "10"), ("MigrationThreshold", "5"), ("SpmVmGrace", "5")),
    ),
)
DEFAULT_SCHEDULING_POLICY = next(policy for policy in SCHEDULING_POLICIES if policy.default)

# property name -> the pattern its value must match
POLICY_PROPERTIES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in (
        ("ScaleDown", r"(100|[1-9]|[1-9][0-9])"),
        ("HighVmCount", r"([0-9]|[1-9][0-9]+)"),
        ("MigrationThreshold", r"([2-9]|[1-9][0-9]+)"),
        ("SpmVmGrace", r"([0-9]|[1-9][0-9]+)"),
        ("CpuOverCommitDurationMinutes", r"([1-9][0-9]*)"),
        ("HighUtilization", r"([5-9][0-9])"),
        ("LowUtilization", r"([0-9]|[1-4][0-9])"),
        ("VCpuToPhysicalCpuRatio", r"([0-2](\.([0-9]+))?)"),
        ("HostsInReserve", r"[0-9][0-9]*"),
        ("EnableAutomaticHostPowerManagement", r"(true|false)"),
        ("MaxFreeMemoryForOverUtilized", r"([1-9][0-9]*)"),
        ("MinFreeMemoryForUnderUtilized", r"([1-9][0-9]*)"),
        ("HeSparesCount", r"([0-9][0-9]*)"),
        ("MaximumAllowedSwapUsage", r"1?[0-9]?[0-9]"),
    )
}

MIGRATION_POLICIES = {
    "00000000-0000-0000-0000-000000000000": "Legacy",
    "80554327-0569-496b-bdeb-fcbbf52b827b": "Minimal downtime",
    "80554327-0569-496b-bdeb-fcbbf52b827c": "Suspend workload if needed",
    "a7aeedb2-8d66-4e51-bb22-32595027ce71": "Post-copy migration",
}
DEFAULT_MIGRATION_POLICY = "80554327-0569-496b-bdeb-fcbbf52b827b"


def scheduling_policy(key: str, by: str) -> SchedulingPolicy | None:
    """The built-in policy whose ``by`` ("id" or "name") is ``key``."""
    key = key.strip().lower() if by == "id" else key
    return next((policy for policy in SCHEDULING_POLICIES if getattr(policy, by) == key), None)


def property_problem(name: str, value: str) -> str | None:
    """Why ``name=value`` is not a valid scheduling policy property, or None."""
    pattern = POLICY_PROPERTIES.get(name)
    if pattern is None:
        return f"Unknown scheduling policy property '{name[:60]}'; known: {', '.join(sorted(POLICY_PROPERTIES))}"
    if not pattern.fullmatch(value):
        return f"Invalid value '{value[:60]}' for scheduling policy property '{name}'"
    return None
