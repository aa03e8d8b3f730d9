"""``/schedulingpolicies`` (read-only): oVirt's built-in scheduling policies, with oVirt's fixed ids.

As in oVirt, the collection has no ``search`` (the SDK's ``list`` offers none, so clients such as the ovirt.ovirt
modules find a policy by listing and matching the name); ``max`` is honoured.
"""

from __future__ import annotations

from extnet.engine.api.mappers import Field, Mapper, attr, const, href_field, link_fields
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.schema import List
from extnet.engine.domain.scheduling import SCHEDULING_POLICIES, SchedulingPolicy, scheduling_policy
from extnet.engine.errors import NotFound
from extnet.engine.store.queries import Entity, parse_uuid

SCHEDULING_POLICY = Mapper("SchedulingPolicy", "scheduling_policy", "scheduling_policies", (
    href_field("schedulingpolicies"),
    Field("id", "id", attr("id")),
    Field("name", "str", attr("name")),
    Field("description", "str"),
    Field("comment", "str"),
    Field("default_policy", "bool", attr("default")),
    Field("locked", "bool", const(True)),  # oVirt's built-in policies cannot be changed
    Field("properties", List("property", "Property"), lambda policy, extra: {
        "property": [{"name": name, "value": value} for name, value in policy.properties]}),
    *link_fields("schedulingpolicies"),
))  # fmt: skip


def render(policy: SchedulingPolicy) -> Entity:
    return SCHEDULING_POLICY.render(policy)


class SchedulingPolicies(Collection):
    type_name = SCHEDULING_POLICY.type_name
    what = "scheduling policy"

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        policies = sorted(SCHEDULING_POLICIES, key=lambda policy: policy.name)
        limit = ctx.max_results()
        return [render(policy) for policy in policies[:limit]]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        policy = scheduling_policy(parse_uuid(entity_id, "scheduling policy"), "id")
        if policy is None:
            raise NotFound(f"Entity not found: scheduling policy '{entity_id}'")
        return render(policy)
