"""Value rules of the inventory (pure functions, no I/O)."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[\w.-]+$")
NAME_MAX = 50
VLAN_MIN, VLAN_MAX = 0, 4094
MTU_MIN, MTU_MAX = 68, 65535  # 0 means "the default MTU"
DEFAULT_MTU = 1500


def name_problem(name: str | None, what: str) -> str | None:
    """Why ``name`` is not a valid name for a ``what``, or None."""
    if name is None or name == "":
        return f"The {what} name is required"
    if len(name) > NAME_MAX:
        return f"The {what} name '{name[:60]}' is longer than {NAME_MAX} characters"
    if not NAME_PATTERN.match(name):
        return f"The {what} name '{name}' may contain only letters, digits, '_', '-' and '.'"
    return None


def vlan_problem(vlan: int | None) -> str | None:
    if vlan is not None and not VLAN_MIN <= vlan <= VLAN_MAX:
        return f"VLAN id {vlan} is out of range; it must be between {VLAN_MIN} and {VLAN_MAX}"
    return None


def mtu_problem(mtu: int | None) -> str | None:
    if mtu is not None and mtu != 0 and not MTU_MIN <= mtu <= MTU_MAX:
        return f"MTU {mtu} is out of range; it must be 0 (the default) or between {MTU_MIN} and {MTU_MAX}"
    return None
