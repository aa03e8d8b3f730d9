"""``/schedulingpolicies`` (read-only): oVirt's built-in scheduling policies, with oVirt's fixed ids.

As in oVirt, the collection has no ``search`` (the SDK's ``list`` offers none, so clients such as the ovirt.ovirt
modules find a policy by listing and matching the name); ``max`` is honoured.
"""

from __future__ import annotations

from extnet.engine.api.hrefs import href
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.domain.scheduling import SCHEDULING_POLICIES, SchedulingPolicy, scheduling_policy
from extnet.engine.errors import NotFound
from extnet.engine.store.queries import Entity, parse_uuid


def render(policy: SchedulingPolicy) -> Entity:
    return {
        "href": href("schedulingpolicies", policy.id),
        "id": policy.id,
        "name": policy.name,
        "default_policy": policy.default,
        "locked": True,
        "properties": {"property": [{"name": name, "value": value} for name, value in policy.properties]},
    }


class SchedulingPolicies(Collection):
    type_name = "SchedulingPolicy"
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
