"""The tags API of taggable resources (replace all, add one, remove one or all, check one)."""

from __future__ import annotations

from extnet.provider.errors import NeutronError
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


def replace(ctx: Ctx, kind: Kind, id_: str, tags: list[str]) -> list[str]:
    common.check_writer(ctx, f"update_{common.singular(kind)}_tags")
    common.load_owned(ctx, kind, id_, "update", want=frozenset())
    ctx.tx.update(kind, id_, common.touched(ctx, {"tags": tags}))
    return tags


def add(ctx: Ctx, kind: Kind, id_: str, tag: str) -> None:
    common.check_writer(ctx, f"update_{common.singular(kind)}_tags")
    current = list(common.load_owned(ctx, kind, id_, "update", want=TAGS)["tags"])
    if tag in current:
        return
    if len(current) >= MAX_TAGS:
        raise NeutronError(400, "TagResourceLimitExceeded", f"The number of tags exceeds the limit of {MAX_TAGS}.")
    ctx.tx.update(kind, id_, common.touched(ctx, {"tags": [*current, tag]}))


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
