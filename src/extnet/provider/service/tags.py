"""The tags API of taggable resources (replace all, add one, remove one or all, check one)."""

from __future__ import annotations

from extnet.provider.errors import NeutronError, forbidden
from extnet.provider.service import common
from extnet.provider.service.common import Ctx
from extnet.provider.store.backend import Kind

TAGS = frozenset({"tags"})
MAX_TAGS = 50


def _not_found(tag: str) -> NeutronError:
    return NeutronError(404, "TagNotFound", f"Tag {tag} could not be found.")


def get_all(ctx: Ctx, kind: Kind, id_: str) -> list[str]:
    return list(common.load(ctx, kind, id_, want=TAGS)["tags"])


def check(ctx: Ctx, kind: Kind, id_: str, tag: str) -> None:
    if tag not in get_all(ctx, kind, id_):
        raise _not_found(tag)


def too_many(plural: str) -> NeutronError:
    return NeutronError(400, "BadRequest", f"Bad {plural} request: The number of tags exceed the per-resource limit "
                        f"of {MAX_TAGS}.")  # fmt: skip


def replace(ctx: Ctx, kind: Kind, id_: str, tags: list[str], plural: str) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise too_many(plural)
    common.check_writer(ctx, f"update_{common.singular(kind)}_tags")
    common.load_owned(ctx, kind, id_, "update", want=frozenset())
    ctx.tx.update(kind, id_, common.touched(ctx, {"tags": tags}))
    return tags


def add(ctx: Ctx, kind: Kind, id_: str, tags: list[str], plural: str, creating: bool = False) -> list[str]:
    """Add the ``tags`` the resource lacks (``tag-creation``: ``POST .../tags``, ``creating``; or ``PUT
    .../tags/{tag}`` for one); those it has stay, and nothing is written when it has them all."""
    common.check_writer(ctx, f"update_{common.singular(kind)}_tags")
    if creating and not ctx.admin:  # Neutron 29 checks its create_<resource>:tags rule before it looks for it
        found = ctx.tx.get(kind, id_, want=frozenset({"project_id"}))
        if found is None or found["project_id"] != ctx.project_id:
            raise forbidden(f"rule:create_{common.singular(kind)}:tags is disallowed by policy")
    current = list(common.load_owned(ctx, kind, id_, "update", want=TAGS)["tags"])
    missing = [tag for tag in tags if tag not in current]
    if not missing:
        return tags
    if len(current) + len(missing) > MAX_TAGS:
        raise too_many(plural)
    ctx.tx.update(kind, id_, common.touched(ctx, {"tags": [*current, *missing]}))
    return tags


def remove(ctx: Ctx, kind: Kind, id_: str, tag: str | None) -> None:
    common.check_writer(ctx, f"update_{common.singular(kind)}_tags")
    current = list(common.load_owned(ctx, kind, id_, "update", want=TAGS)["tags"])
    if tag is None:
        remaining: list[str] = []
    elif tag not in current:
        raise _not_found(tag)
    else:
        remaining = [t for t in current if t != tag]
    ctx.tx.update(kind, id_, common.touched(ctx, {"tags": remaining}))
