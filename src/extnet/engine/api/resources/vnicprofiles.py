"""``/vnicprofiles``: the vNIC profiles of all VM networks (no search, as in oVirt)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from extnet.engine.api.resources.base import Collection, Ctx, href, links, ref, services_of
from extnet.engine.commands.base import run
from extnet.engine.commands.vnicprofiles import AddVnicProfile, RemoveVnicProfile, UpdateVnicProfile
from extnet.engine.operations.profile_groups import save_profile
from extnet.engine.store.models import VnicProfile
from extnet.engine.store.queries import Entity, load


def render(profile: VnicProfile) -> Entity:
    base = href("vnicprofiles", profile.id)
    properties = [{"name": p["name"], "value": p["value"]} for p in profile.custom_properties]
    return {
        "href": base,
        "id": profile.id,
        "name": profile.name,
        "description": profile.description,
        "comment": profile.comment,
        "custom_properties": {"custom_property": properties} if properties else None,
        "migratable": profile.migratable,
        # always present: the Ansible module reads pass_through.mode without a None check
        "pass_through": {"mode": profile.pass_through_mode},
        "port_mirroring": profile.port_mirroring,
        "network": ref("networks", profile.network_id),
        "network_filter": ref("networkfilters", profile.network_filter_id),
        "link": links(base, "permissions"),
    }


class VnicProfiles(Collection):
    type_name = "VnicProfile"
    what = "vNIC profile"
    # the security groups of a profile of an external network are looked up on its provider, outside transactions
    self_managed = frozenset({"add", "update"})

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = self.apply_search(ctx, select(VnicProfile).order_by(VnicProfile.name, VnicProfile.id), {})
        return [render(profile) for profile in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render(load(ctx.db, VnicProfile, entity_id, "vNIC profile"))

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        return render(save_profile(ctx.database, services_of(ctx), lambda session: AddVnicProfile(session, body)))

    def update(self, ctx: Ctx, parents: list[str], entity_id: str, body: Entity) -> Entity:
        def command(session: Session) -> UpdateVnicProfile:
            return UpdateVnicProfile(session, load(session, VnicProfile, entity_id, "vNIC profile"), body)

        return render(save_profile(ctx.database, services_of(ctx), command))

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        run(RemoveVnicProfile(ctx.db, load(ctx.db, VnicProfile, entity_id, "vNIC profile")))
