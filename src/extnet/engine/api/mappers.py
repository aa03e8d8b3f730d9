"""Declared resource mappers: one declaration per oVirt resource, as the provider's ``api/spec.py`` does for Neutron.

A ``Mapper`` lists each field of a resource once: its wire name, its kind (as in ``schema.py``), its direction
(``in``: input only, e.g. a password; ``out``: written by the engine only, e.g. ``status``; ``both``), whether an
add needs it, its name in ``?search=`` (with its matcher), and where its value comes from on the model (``source``;
None: never rendered by extnet). From it derive:

- the type in ``schema.TYPES`` (``coerce`` checks input against it; ``out`` fields are its ``output_only``, which
  input still accepts back, as ovirtsdk4 sends whole objects in updates),
- rendering (``Mapper.render``: the fields with a source, in declared order, by one function generated from the
  declaration, so that a listing of 10,000 objects costs what a hand-written dict would),
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
from string import Template
from typing import Any, Literal

from extnet.engine.api.hrefs import href, links
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


class Inline:
    """A source written as a Python expression over ``obj`` and ``extra``, which a mapper's generated render function
    inlines (no call per field). ``$name`` stands for the value ``names[name]``, ``$tmp`` for a local name of its
    own (for a value used twice, bound with ``:=``). Expressions come from declarations in this package, never
    from a request."""

    def __init__(self, template: str, **names: Any) -> None:
        self.template = Template(template)
        self.names = names
        namespace: dict[str, Any] = {}
        self._call: Source = eval(f"lambda obj, extra: {self.code('', namespace)}", namespace)  # noqa: S307

    def code(self, suffix: str, namespace: dict[str, Any]) -> str:
        """The expression, its names bound in ``namespace`` under names ending in ``suffix``."""
        mapping = {"tmp": f"_tmp{suffix}"}
        for key, value in self.names.items():
            mapping[key] = f"_{key}{suffix}"
            namespace[mapping[key]] = value
        return self.template.substitute(mapping)

    def __call__(self, obj: Any, extra: dict[str, Any]) -> Any:
        return self._call(obj, extra)


def attr(name: str) -> Source:
    """The model's attribute ``name``."""
    assert name.isidentifier(), name
    return Inline(f"obj.{name}")


def const(value: Any) -> Source:
    """The same value for every object (a fresh copy of a list or dict: a rendered entity may be changed by its
    caller)."""
    if isinstance(value, dict | list):
        return lambda obj, extra: copy.deepcopy(value)
    return Inline("$value", value=value)


def given(name: str) -> Source:
    """A value the caller computed (``render(obj, status=...)``), e.g. one that needs a query."""
    return Inline(f"extra[{name!r}]")


def reference(collection: str, attribute: str) -> Source:
    """``{"href", "id"}`` of the entity whose id is the model's ``attribute`` (None when it is None): as
    ``hrefs.ref`` makes it."""
    assert attribute.isidentifier(), attribute
    expression = "(None if ($tmp := obj." + attribute + ") is None else {'href': $prefix + $tmp, 'id': $tmp})"
    return Inline(expression, prefix=href(collection, ""))


Render = Callable[[Any, dict[str, Any]], Entity]  # (model object, extra values given to render) -> entity


def render_function(type_name: str, rendered: tuple[tuple[str, Source], ...]) -> Render:
    """``(obj, extra) -> entity`` with each of ``rendered``'s fields in order: one dict display, inlining the
    ``Inline`` sources and calling the others."""
    namespace: dict[str, Any] = {}
    items = []
    for index, (wire, source) in enumerate(rendered):
        if isinstance(source, Inline):
            items.append(f"{wire!r}: {source.code(str(index), namespace)}")
        else:
            namespace[f"_source{index}"] = source
            items.append(f"{wire!r}: _source{index}(obj, extra)")
    code = f"def render(obj, extra):\n    return {{{', '.join(items)}}}\n"
    exec(compile(code, f"<render {type_name}>", "exec"), namespace)  # noqa: S102
    function: Render = namespace["render"]
    return function


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
        object.__setattr__(self, "_render", render_function(self.type_name, rendered))

    def render(self, obj: Any, **extra: Any) -> Entity:
        return self._render(obj, extra)  # type: ignore[attr-defined]

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

    def __post_init__(self) -> None:
        rendered = []
        for f in self.mapper.fields:
            source = self.sources.get(f.wire, f.source if self.inherit else None)
            if source is not None and f.direction != "in":
                rendered.append((f.wire, source))
        object.__setattr__(self, "_render", render_function(f"{self.mapper.type_name} view", tuple(rendered)))

    def render(self, obj: Any, **extra: Any) -> Entity:
        return self._render(obj, extra)  # type: ignore[attr-defined]


def identity(where: str | Callable[[Any], str], model: Any = None, name_required: bool = True,
             comment: bool = True) -> tuple[Field, ...]:  # fmt: skip
    """``href``, ``id``, ``name``, ``description`` and ``comment`` of an entity of the collection ``where`` (or
    whose href that function gives); searchable on the columns of the same names when ``model`` is given."""

    def search(column: str) -> Matcher | None:
        return column_matcher(getattr(model, column)) if model is not None else None

    return (
        href_field(where),
        Field("id", "id", Inline("str(obj.id)"), search=search("id")),
        Field("name", "str", attr("name"), required=name_required, search=search("name")),
        Field("description", "str", attr("description"), search=search("description")),
        Field("comment", "str", attr("comment") if comment else None, search=search("comment") if comment else None),
    )


def href_field(where: str | Callable[[Any], str]) -> Field:
    """``href``: the entity's place in the collection ``where`` (or the place that function gives)."""
    if callable(where):
        href_of = where
        return Field("href", "str", lambda obj, extra: href_of(obj), "out")
    return Field("href", "str", Inline("$prefix + str(obj.id)", prefix=href(where, "")), "out")


def link_fields(where: str | Callable[[Any], str], *rels: str) -> tuple[Field, ...]:
    """``link`` (the sub-collections, ``rels``, as ``hrefs.links`` makes them) and ``actions``."""
    source: Source | None = None
    if rels and isinstance(where, str):
        source = Inline(_links_expression(rels), prefix=href(where, ""))
    elif rels and callable(where):
        href_of = where
        source = lambda obj, extra: links(href_of(obj), *rels)  # noqa: E731
    return (Field("link", List("link", "Link"), source, "out"), Field("actions", "Actions", None, "out"))


def _links_expression(rels: tuple[str, ...]) -> str:
    """``[{'href': <base>/<rel>, 'rel': <rel>}, ...]``, the entity's href (the base) worked out once, in the first."""
    bases = ["($tmp := $prefix + str(obj.id))", *["$tmp"] * (len(rels) - 1)]
    entries = (f"{{'href': {base} + {'/' + rel!r}, 'rel': {rel!r}}}" for base, rel in zip(bases, rels, strict=True))
    return f"[{', '.join(entries)}]"
