"""``/vnicprofiles``: the vNIC profiles of all VM networks (no search, as in oVirt)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from extnet.engine.api.inputs import to_input
from extnet.engine.api.mappers import Field, Mapper, attr, identity, link_fields, reference
from extnet.engine.api.resources.base import Collection, Ctx, services_of
from extnet.engine.api.schema import List
from extnet.engine.commands.base import run
from extnet.engine.commands.vnicprofiles import (
    AddVnicProfile,
    RemoveVnicProfile,
    UpdateVnicProfile,
    VnicProfileInput,
)
from extnet.engine.operations.profile_groups import save_profile
from extnet.engine.store.models import VnicProfile
from extnet.engine.store.queries import Entity, load


def _custom_properties(profile: VnicProfile, extra: Entity) -> Entity | None:
    properties = [{"name": p["name"], "value": p["value"]} for p in profile.custom_properties]
    return {"custom_property": properties} if properties else None


VNIC_PROFILE = Mapper("VnicProfile", "vnic_profile", "vnic_profiles", (
    *identity("vnicprofiles"),
    Field("custom_properties", List("custom_property", "CustomProperty"), _custom_properties),
    Field("migratable", "bool", attr("migratable")),
    # always present: the Ansible module reads pass_through.mode without a None check
    Field("pass_through", "PassThrough", lambda profile, extra: {"mode": profile.pass_through_mode}),
    Field("port_mirroring", "bool", attr("port_mirroring")),
    Field("network", "Network", reference("networks", "network_id"), required=True),
    Field("network_filter", "NetworkFilter", reference("networkfilters", "network_filter_id")),
    Field("qos", "Qos"),
    Field("failover", "VnicProfile"),
    *link_fields("vnicprofiles", "permissions"),
))  # fmt: skip


def render(profile: VnicProfile) -> Entity:
    return VNIC_PROFILE.render(profile)


class VnicProfiles(Collection):
    required_on_add = VNIC_PROFILE.required()
    type_name = VNIC_PROFILE.type_name
    what = "vNIC profile"
    # the security groups of a profile of an external network are looked up on its provider, outside transactions
    self_managed = frozenset({"add", "update"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = self.apply_search(ctx, select(VnicProfile).order_by(VnicProfile.name, VnicProfile.id), {})
        return [render(profile) for profile in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render(load(ctx.db, VnicProfile, entity_id, "vNIC profile"))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        given = to_input(VNIC_PROFILE, body, VnicProfileInput)
        return render(save_profile(ctx.database, services_of(ctx), lambda session: AddVnicProfile(session, given)))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        given = to_input(VNIC_PROFILE, body, VnicProfileInput)

        def command(session: Session) -> UpdateVnicProfile:
            return UpdateVnicProfile(session, load(session, VnicProfile, entity_id, "vNIC profile"), given)

        return render(save_profile(ctx.database, services_of(ctx), command))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        run(RemoveVnicProfile(ctx.db, load(ctx.db, VnicProfile, entity_id, "vNIC profile")))
