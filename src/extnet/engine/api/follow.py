"""``?follow=``: what a GET names is embedded in its answer, as oVirt 4.2 and later do, so that one request reads a
VM and its vNICs (``follow=nics``), a vNIC's profile (``follow=nics.vnic_profile``) or the cluster of every VM of a
list (``follow=cluster``).

A name is a field of the answer's type: a list the entity holds as a sub-collection (``nics``, ``snapshots``) comes
as that list, a reference (``cluster``, ``vnic_profile``) as the whole entity it names; a dotted name follows on
from there. Anything else is refused with the names that can be followed: a follow that was silently ignored would
leave the client believing a VM has no vNICs. What is read live from a provider is not followed (it would call the
provider inside the request's transaction): the fault says to read it at its own href.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from starlette.datastructures import QueryParams

from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.schema import List
from extnet.engine.errors import BadRequest, NotFound
from extnet.engine.store.queries import Entity

API_PREFIX = "/ovirt-engine/api/"
_NAMES = r"[a-z_]+(?:\.[a-z_]+)*"
FOLLOW_PATTERN = f"^(?:{_NAMES}(?:,{_NAMES})*)?$"  # in the OpenAPI document too
_FOLLOW = re.compile(FOLLOW_PATTERN)
Tree = dict[str, "Tree"]


class Located(Protocol):
    """Where an href leads (the router's Target)."""

    @property
    def collection(self) -> Collection: ...
    @property
    def parents(self) -> list[str]: ...
    @property
    def entity_id(self) -> str | None: ...
    @property
    def action(self) -> str | None: ...


class Follower:
    """Embeds what ``follow`` names; ``resolve`` finds where an href's path segments lead, ``instance`` gives the
    router's instance of a collection class."""

    def __init__(self, roots: dict[str, type[Collection]], resolve: Callable[[list[str]], Located],
                 instance: Callable[[type[Collection]], Collection]) -> None:  # fmt: skip
        self._resolve = resolve
        self._instance = instance
        self._entity_types = {cls.type_name for cls in _collections(roots.values())}

    def wanted(self, ctx: Ctx, col: Collection) -> Tree:
        """What ``follow`` asks for ({} when nothing); refused before the collection is read, so that a refused
        follow never costs a provider call."""
        spec = ctx.query.get("follow")
        if not spec:
            return {}
        tree = _tree(spec)
        if ctx.session is None:
            raise BadRequest(f"The {col.what} collection is read live from its provider: it cannot follow links "
                             f"('follow={spec}'); read each link at its href")  # fmt: skip
        return tree

    def apply(self, ctx: Ctx, col: Collection, parents: list[str], entities: list[Entity], tree: Tree) -> None:
        if tree:
            plain = Ctx(ctx.session, ctx.principal, QueryParams(), ctx.services, ctx.database)
            self._follow(plain, col, parents, entities, tree)

    def _follow(self, ctx: Ctx, col: Collection, parents: list[str], entities: list[Entity], tree: Tree) -> None:
        fields = col.tdef().fields
        for name, nested in tree.items():
            kind = fields.get(name)
            if isinstance(kind, List) and name in col.subs:
                self._embed_list(ctx, col, parents, entities, name, nested)
            elif isinstance(kind, str) and kind in self._entity_types:
                self._embed_references(ctx, col, entities, name, nested)
            else:
                raise BadRequest(f"'{name}' cannot be followed from a {col.tdef().tag}: it is none of its links; "
                                 f"these are: {', '.join(self._followable(col)) or 'none'}")  # fmt: skip

    def _embed_list(self, ctx: Ctx, col: Collection, parents: list[str], entities: list[Entity], name: str,
                    nested: Tree) -> None:  # fmt: skip
        sub = self._instance(col.subs[name])
        _readable(sub, "list_", f"the {name} of a {col.tdef().tag}")
        for entity in entities:
            path = [*parents, str(entity["id"])]
            items = sub.list_(ctx, path)
            if nested:
                self._follow(ctx, sub, path, items, nested)
            entity[name] = {sub.tdef().tag: items}
            links = entity.get("link")
            if isinstance(links, list):  # the link is now the list itself
                entity["link"] = [link for link in links if link.get("rel") != name]

    def _embed_references(self, ctx: Ctx, col: Collection, entities: list[Entity], name: str, nested: Tree) -> None:
        read: dict[str, Entity] = {}  # the same cluster of many VMs is read once
        for entity in entities:
            ref = entity.get(name)
            href = ref.get("href") if isinstance(ref, dict) else None
            if not isinstance(href, str) or not href.startswith(API_PREFIX):
                continue  # not set here (a VM that runs nowhere has no host)
            found = read.get(href)
            if found is None:
                target = self._resolve([s for s in href[len(API_PREFIX) :].split("/") if s])
                if target.entity_id is None or target.action is not None:
                    continue
                _readable(target.collection, "get", f"the {name} of a {col.tdef().tag}")
                try:
                    found = target.collection.get(ctx, target.parents, target.entity_id)
                except NotFound:  # what it names is gone: it stays a reference, the answer is not a 404
                    continue
                if nested:
                    self._follow(ctx, target.collection, target.parents, [found], nested)
                read[href] = found
            entity[name] = found

    def _followable(self, col: Collection) -> list[str]:
        fields = col.tdef().fields
        return sorted(name for name, kind in fields.items()
                      if (isinstance(kind, List) and name in col.subs)
                      or (isinstance(kind, str) and kind in self._entity_types))  # fmt: skip


def _readable(col: Collection, operation: str, what: str) -> None:
    if operation in col.self_managed:
        raise BadRequest(f"{what[0].upper()}{what[1:]} is read live from its provider and cannot be followed; read it "
                         "at its href")  # fmt: skip


def _tree(spec: str) -> Tree:
    """``nics.vnic_profile,cluster`` -> {"nics": {"vnic_profile": {}}, "cluster": {}}."""
    if not _FOLLOW.match(spec):
        raise BadRequest(f"'follow={spec}' is not a comma-separated list of link names (dots between the names "
                         "of a path, as in 'nics.vnic_profile,cluster')")  # fmt: skip
    tree: Tree = {}
    for path in spec.split(","):
        node = tree
        for name in path.split("."):
            node = node.setdefault(name, {})
    return tree


def _collections(classes: Iterable[type[Collection]]) -> Iterator[type[Collection]]:
    seen: set[type[Collection]] = set()
    todo = list(classes)
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        todo.extend(cls.subs.values())

