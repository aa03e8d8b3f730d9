"""Neutron 29's policy on the port attributes a non-admin sets (neutron/conf/policies/port.py with its deprecated
rules still honoured, as Neutron runs by default): who may set what, and the rule Neutron names when it refuses.

Neutron's policy engine ANDs the action's rule with one rule per attribute given (``create_port:mac_address``) and,
for a list of dicts, one per key of each entry (``create_port:fixed_ips:ip_address``); a refusal names that whole
rule. Admins are never checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from extnet.provider.errors import forbidden
from extnet.provider.service import common
from extnet.provider.service.common import Ctx
from extnet.provider.store.backend import Record


@dataclass(frozen=True)
class Subject:
    """What the rules look at; the caller is not an admin."""

    port_owner: bool  # the port is in the caller's project
    network_owner: bool  # the port's network is in the caller's project
    shared: bool
    device_owner: str  # the port's device_owner as the request leaves it


Check = Callable[[Subject], bool]


def _anyone(subject: Subject) -> bool:
    return True


def _admin_only(subject: Subject) -> bool:
    return False


def _port_owner(subject: Subject) -> bool:
    return subject.port_owner


def _network_owner(subject: Subject) -> bool:
    return subject.network_owner


def _network_owner_or_shared(subject: Subject) -> bool:
    return subject.network_owner or subject.shared


def _network_owner_for_network_devices(subject: Subject) -> bool:
    return subject.network_owner or not subject.device_owner.startswith("network:")


RULES: dict[str, Check] = {
    "create_port": _anyone,
    "create_port:mac_address": _network_owner,
    "create_port:fixed_ips": _network_owner_or_shared,
    "create_port:fixed_ips:subnet_id": _network_owner_or_shared,
    "create_port:fixed_ips:ip_address": _network_owner,
    "create_port:device_id": _port_owner,
    "create_port:device_owner": _network_owner_for_network_devices,
    "create_port:allowed_address_pairs": _network_owner,
    "create_port:allowed_address_pairs:ip_address": _network_owner,
    "create_port:allowed_address_pairs:mac_address": _network_owner,
    "create_port:binding:vnic_type": _port_owner,
    "create_port:binding:host_id": _admin_only,
    "create_port:binding:profile": _admin_only,
    "create_port:port_security_enabled": _network_owner,
    "update_port": _port_owner,
    "update_port:mac_address": _admin_only,  # Neutron also lets a network owner with role manager, unknown here
    "update_port:fixed_ips": _network_owner,
    "update_port:fixed_ips:subnet_id": _network_owner_or_shared,
    "update_port:fixed_ips:ip_address": _network_owner,
    "update_port:device_id": _port_owner,
    "update_port:device_owner": _network_owner_for_network_devices,
    "update_port:allowed_address_pairs": _network_owner,
    "update_port:allowed_address_pairs:ip_address": _network_owner,
    "update_port:allowed_address_pairs:mac_address": _network_owner,
    "update_port:binding:vnic_type": _port_owner,
    "update_port:binding:host_id": _admin_only,
    "update_port:binding:profile": _admin_only,
    "update_port:port_security_enabled": _network_owner,
}

_NO_DEFAULT = object()

# (Neutron's name, record field, default) of the policed attributes, in the order Neutron joins their rules. On
# create, an attribute given with its default value is not checked.
POLICED: tuple[tuple[str, str, Any], ...] = (
    ("mac_address", "mac_address", _NO_DEFAULT),
    ("fixed_ips", "fixed_ips", _NO_DEFAULT),
    ("device_id", "device_id", ""),
    ("device_owner", "device_owner", ""),
    ("allowed_address_pairs", "allowed_address_pairs", _NO_DEFAULT),
    ("binding:vnic_type", "vnic_type", "normal"),
    ("binding:host_id", "host_id", _NO_DEFAULT),
    ("binding:profile", "profile", _NO_DEFAULT),
    ("port_security_enabled", "port_security_enabled", _NO_DEFAULT),
)


def check_create(ctx: Ctx, network: Record, values: dict[str, Any]) -> None:
    if ctx.admin:
        return
    subject = _subject(ctx, network, True, common.pick(values, "device_owner", ""))
    given = [(name, values[key]) for name, key, default in POLICED if key in values and values[key] != default]
    _authorize("create_port", subject, given)


def check_update(ctx: Ctx, port: Record, network: Record, values: dict[str, Any]) -> None:
    if ctx.admin:
        return
    port_owner = port["project_id"] == ctx.project_id
    subject = _subject(ctx, network, port_owner, common.pick(values, "device_owner", port["device_owner"]))
    given = [(name, values[key]) for name, key, _ in POLICED if key in values]
    _authorize("update_port", subject, given)


def _subject(ctx: Ctx, network: Record, port_owner: bool, device_owner: str) -> Subject:
    shared = network["shared"] or network["id"] in common.rbac_granted(ctx, "access_as_shared")
    return Subject(port_owner, network["project_id"] == ctx.project_id, shared, device_owner)


def _authorize(action: str, subject: Subject, given: list[tuple[str, Any]]) -> None:
    text, names = _match(action, given)
    if not all(RULES[name](subject) for name in names):
        raise forbidden(f"{text} is disallowed by policy")


def _match(action: str, given: list[tuple[str, Any]]) -> tuple[str, list[str]]:
    """The rule Neutron builds for ``action`` with these attributes: as it prints it, and the rule names it ANDs."""
    text, names = f"rule:{action}", [action]
    for name, value in given:
        rule = f"{action}:{name}"
        part = f"rule:{rule}"
        keys = [f"{rule}:{key}" for entry in value for key in entry] if isinstance(value, list) else []
        if keys:
            part = f"({part} and ({' and '.join(f'rule:{key}' for key in keys)}))"
        text = f"({text} and {part})"
        names += [rule, *keys]
    return text, names
