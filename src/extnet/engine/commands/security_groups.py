"""The security groups of a vNIC profile: its custom property ``SecurityGroups`` (oVirt's interface custom property).

Absent, the ports of the profile's vNICs get the provider's default group; present and empty, no group; a
comma-separated list of security group UUIDs, exactly those groups. On a profile of an external network the groups
must exist on the network's provider when the profile is saved: ``CheckProfile`` checks every rule of the save and
says which groups the provider has to be asked about; the provider is asked outside any transaction, then the save
is validated again and written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.vnicprofiles import AddVnicProfile, ProfileValues, UpdateVnicProfile
from extnet.engine.store.models import Network, Provider, VnicProfile

SECURITY_GROUPS = "SecurityGroups"
_SEPARATOR = re.compile(r"\s*,\s*")


def requested_groups(properties: Iterable[dict[str, str]]) -> list[str] | None:
    """The security groups custom properties ask for: None (property absent: the provider's default group),
    [] (present and empty: no group) or the listed ids, in order and without repeats."""
    for prop in properties:
        if prop.get("name") == SECURITY_GROUPS:
            value = str(prop.get("value") or "").strip()
            if not value:
                return []
            return list(dict.fromkeys(part.lower() for part in _SEPARATOR.split(value) if part))
    return None


def port_security_groups(profile: VnicProfile | None) -> list[str] | None:
    """The ``security_groups`` of the port of a vNIC with this profile: None to leave it out of the port (the
    provider's default group), [] for none, else the group ids."""
    if profile is None:
        return None
    return requested_groups(profile.custom_properties or [])


@dataclass(frozen=True)
class GroupCheck:
    """Security groups a profile refers to, to be found on the provider of its network before it is saved."""

    provider_id: str
    provider_name: str
    profile_name: str
    groups: tuple[str, ...]


def group_check(
    session: Session, network: Network, profile_name: str, wanted: list[str] | None, stored: list[str] | None
) -> GroupCheck | None:
    """What to ask the provider, or None: nothing to find (no groups, or the same ones as stored), a network
    that is not external, or an unmanaged provider (extnet never calls it, so it cannot check)."""
    if network.external_provider_id is None or not wanted or set(wanted) == set(stored or ()):
        return None
    provider = session.get(Provider, network.external_provider_id)
    if provider is None or provider.unmanaged:
        return None
    return GroupCheck(provider.id, provider.name, profile_name, tuple(wanted))


def missing_groups_violation(check: GroupCheck, found: Iterable[str]) -> Violation | None:
    present = set(found)
    missing = [group for group in check.groups if group not in present]
    if not missing:
        return None
    listed = ", ".join(f"'{group}'" for group in missing)
    plural = "s" if len(missing) > 1 else ""
    verb = "do" if len(missing) > 1 else "does"
    return Violation(
        f"Security group{plural} {listed} of vNIC profile '{check.profile_name}' {verb} not exist on provider "
        f"'{check.provider_name}'",
        400,
    )


def plan_of(session: Session, command: AddVnicProfile | UpdateVnicProfile) -> GroupCheck | None:
    """The groups to find on the provider for a save whose validation passed."""
    if isinstance(command, AddVnicProfile):
        assert command.network is not None
        values = ProfileValues(command.given, None)
        return group_check(session, command.network, values.name, requested_groups(values.properties()), None)
    network = session.get(Network, command.profile.network_id)
    assert network is not None
    stored = requested_groups(command.profile.custom_properties or [])
    return group_check(session, network, command.values.name, requested_groups(command.values.properties()), stored)


class CheckProfile(Command[GroupCheck | None]):
    """Every rule of adding or updating a vNIC profile, checked without writing; the result says which security
    groups must be found on the provider before the profile is saved."""

    def __init__(self, command: AddVnicProfile | UpdateVnicProfile) -> None:
        super().__init__(command.session)
        self.command = command
        self.verb, self.noun = command.verb, command.noun

    def validate(self) -> Iterable[Violation]:
        return self.command.validate()

    def execute(self) -> GroupCheck | None:
        return plan_of(self.session, self.command)


class SaveProfile(Command[VnicProfile]):
    """The save, after the provider was asked: every rule again, and the groups the provider does not have."""

    def __init__(
        self, command: AddVnicProfile | UpdateVnicProfile, checked: GroupCheck | None, found: Iterable[str]
    ) -> None:
        super().__init__(command.session)
        self.command = command
        self.checked = checked
        self.found = set(found)
        self.verb, self.noun = command.verb, command.noun

    def validate(self) -> Iterable[Violation]:
        violations = list(self.command.validate())
        yield from violations
        if violations:
            return
        check = plan_of(self.session, self.command)
        if check != self.checked:  # the profile changed while the provider was asked
            name = check.profile_name if check else (self.checked.profile_name if self.checked else "?")
            yield Violation(f"vNIC profile '{name}' was changed while its security groups were being checked; retry")
        elif check is not None:
            violation = missing_groups_violation(check, self.found)
            if violation:
                yield violation

    def execute(self) -> VnicProfile:
        return self.command.execute()

    def integrity_message(self, error: IntegrityError) -> str:
        return self.command.integrity_message(error)
