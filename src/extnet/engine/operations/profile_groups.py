"""Saving a vNIC profile whose ``SecurityGroups`` must exist on its network's provider: the rules are checked in a
short read transaction, the provider is asked for the groups outside any transaction (filtered there by id), then
the rules are checked again, with the groups the provider lacks, and the profile is written in a short write
transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from extnet.engine.commands.base import run
from extnet.engine.commands.security_groups import CheckProfile, GroupCheck, SaveProfile
from extnet.engine.commands.vnicprofiles import AddVnicProfile, UpdateVnicProfile
from extnet.engine.operations.provider_calls import ProviderCall, remote
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code
from extnet.engine.store.models import VnicProfile

ProfileCommand = AddVnicProfile | UpdateVnicProfile


def save_profile(database: Database, services: EngineServices,
                 build: Callable[[Session], ProfileCommand]) -> VnicProfile:  # fmt: skip
    """Run the add or update ``build`` makes (once per transaction), with its security groups found first."""
    with database.transaction(write=False) as session:
        checked = run(CheckProfile(build(session)))
    found = find_groups(database, services, checked) if checked is not None else []
    with database.transaction() as session:
        profile: VnicProfile = run(SaveProfile(build(session), checked, found))
        return profile


def find_groups(database: Database, services: EngineServices, check: GroupCheck) -> list[str]:
    """The ids of the groups of ``check`` that the provider has."""
    call = ProviderCall(database, services, check.provider_id)
    what = f"check the security groups of vNIC profile '{check.profile_name}'"
    groups = remote(
        call,
        lambda client: client.find_security_groups(list(check.groups), what),
        Code.SECURITY_GROUPS_CHECK_FAILED,  # the provider's message names the profile and the provider
    )
    return [group.id for group in groups]
