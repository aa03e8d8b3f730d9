"""Declared resource mappers: one declaration per oVirt resource, as the provider's ``api/spec.py`` does for Neutron.

A ``Mapper`` lists each field of a resource once: its wire name, its kind (as in ``schema.py``), its direction
(``in``: input only, e.g. a password; ``out``: written by the engine only, e.g. ``status``; ``both``), whether an
add needs it, its name in ``?search=`` (with its matcher), and where its value comes from on the model (``source``;
None: never rendered by extnet). From it derive:

- the type in ``schema.TYPES`` (``coerce`` checks input against it; ``out`` fields are its ``output_only``, which
  input still accepts back, as ovirtsdk4 sends whole objects in updates),
- rendering (``Mapper.render``: the fields with a source, in declared order),
- the OpenAPI document (the type's schemas; ``readOnly`` from ``out``; the add body's ``required``),
- the collection's ``required_on_add`` and ``search_fields``.

A ``View`` renders the same type from other sources (``Mapper.view``): the same fields in the same order, e.g. a
network as attached to a cluster, or a vNIC as a snapshot remembers it. Value types nested in resources (``Link``,
``Version``, ``Cpu``, ``Ip``, ...) have no collection and no model of their own: they stay declared with
``schema.define``, and the mapper of the resource that nests them builds them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from extnet.engine.api.hrefs import href, links, ref
from extnet.engine.api.schema import TYPES, WRITTEN, Kind, List, TypeDef
from extnet.engine.api.search import Matcher, column_matcher
from extnet.engine.store.queries import Entity

Direction = Literal["in", "out", "both"]
Source = Callable[[Any, dict[str, Any]], Any]  # (model object, extra values given to render) -> wire value


@dataclass(frozen=True)
class Field:
    wire: str
    kind: Kind
    source: Source | None = None
    direction: Direction = "both"
    required: bool = False  # on add
    search: Matcher | None = None  # ?search=<wire name> compares with this matcher


def attr(name: str) -> Source:
    """The model's attribute ``name``."""
    return lambda obj, extra: getattr(obj, name)


def const(value: Any) -> Source:
    """The same value for every object (a fresh copy of a list or dict: a rendered entity may be changed by its
    caller)."""
    if isinstance(value, dict | list):
        return lambda obj, extra: copy.deepcopy(value)
    return lambda obj, extra: value


def given(name: str) -> Source:
    """A value the caller computed (``render(obj, status=...)``), e.g. one that needs a query."""
    return lambda obj, extra: extra[name]


def reference(collection: str, attribute: str) -> Source:
    """``{"href", "id"}`` of the entity whose id is the model's ``attribute`` (None when it is None)."""
    return lambda obj, extra: ref(collection, getattr(obj, attribute))


@dataclass(frozen=True)
class Mapper:
    type_name: str
    tag: str  # element name, e.g. "data_center"
    plural: str  # collection element name, e.g. "data_centers"
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        names = [f.wire for f in self.fields]
        assert len(names) == len(set(names)), f"{self.type_name}: a field is declared twice"
        output = frozenset((*WRITTEN, *(f.wire for f in self.fields if f.direction == "out")))
        written = frozenset(f.wire for f in self.fields if f.direction == "in")
        TYPES[self.type_name] = TypeDef(self.type_name, self.tag, self.plural,
                                        {f.wire: f.kind for f in self.fields}, output, written)  # fmt: skip
        rendered = tuple((f.wire, f.source) for f in self.fields if f.source is not None and f.direction != "in")
        object.__setattr__(self, "_rendered", rendered)  # worked out once: render runs per object of a listing

    def render(self, obj: Any, **extra: Any) -> Entity:
        rendered: tuple[tuple[str, Source], ...] = self._rendered  # type: ignore[attr-defined]
        return {wire: source(obj, extra) for wire, source in rendered}

    def view(self, sources: dict[str, Source | None], inherit: bool = True) -> View:
        """This type rendered with other ``sources`` for some fields (None: not rendered); the others keep this
        mapper's source (``inherit``) or are not rendered."""
        unknown = set(sources) - {f.wire for f in self.fields}
        assert not unknown, f"{self.type_name} has no field {', '.join(sorted(unknown))}"
        return View(self, sources, inherit)

    def required(self) -> tuple[str, ...]:
        return tuple(f.wire for f in self.fields if f.required)

    def search_fields(self) -> dict[str, Matcher]:
        return {f.wire: f.search for f in self.fields if f.search is not None}


@dataclass(frozen=True, eq=False)
class View:
    """Another rendering of a mapper's type (``Mapper.view``): its declared fields, in its declared order."""

    mapper: Mapper
    sources: dict[str, Source | None]
    inherit: bool

    def render(self, obj: Any, **extra: Any) -> Entity:
        out: Entity = {}
        for f in self.mapper.fields:
            inherited = f.source if self.inherit else None
            source = self.sources.get(f.wire, inherited)
            if source is not None and f.direction != "in":
                out[f.wire] = source(obj, extra)
        return out


def _href_of(where: str | Callable[[Any], str]) -> Callable[[Any], str]:
    if callable(where):
        return where
    return lambda obj: href(where, str(obj.id))


def identity(where: str | Callable[[Any], str], model: Any = None, name_required: bool = True,
             comment: bool = True) -> tuple[Field, ...]:  # fmt: skip
    """``href``, ``id``, ``name``, ``description`` and ``comment`` of an entity of the collection ``where`` (or
    whose href that function gives); searchable on the columns of the same names when ``model`` is given."""
    href_of = _href_of(where)

    def search(column: str) -> Matcher | None:
        return column_matcher(getattr(model, column)) if model is not None else None

    return (
        href_field(href_of),
        Field("id", "id", lambda obj, extra: str(obj.id), search=search("id")),
        Field("name", "str", attr("name"), required=name_required, search=search("name")),
        Field("description", "str", attr("description"), search=search("description")),
        Field("comment", "str", attr("comment") if comment else None, search=search("comment") if comment else None),
    )


def href_field(where: str | Callable[[Any], str]) -> Field:
    """``href``: the entity's place in the collection ``where`` (or the place that function gives)."""
    href_of = _href_of(where)
    return Field("href", "str", lambda obj, extra: href_of(obj), "out")


def link_fields(where: str | Callable[[Any], str], *rels: str) -> tuple[Field, ...]:
    """``link`` (the sub-collections, ``rels``) and ``actions``."""
    href_of = _href_of(where)
    source: Source | None = (lambda obj, extra: links(href_of(obj), *rels)) if rels else None
    return (Field("link", List("link", "Link"), source, "out"), Field("actions", "Actions", None, "out"))
