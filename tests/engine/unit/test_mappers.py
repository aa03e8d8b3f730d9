"""The generated render function of a mapper gives what calling each field's source in declared order gives."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from extnet.engine.api.hrefs import href, links, ref
from extnet.engine.api.mappers import Field, Inline, Mapper, attr, const, given, identity, link_fields, reference
from extnet.engine.api.schema import TYPES

THING = Mapper("UnitThing", "unit_thing", "unit_things", (
    *identity("things"),
    Field("size", "int", attr("size")),
    Field("fixed", "bool", const(False)),
    Field("tags", "str", const(["a"])),
    Field("status", "str", given("status"), "out"),
    Field("owner", "Host", reference("hosts", "owner_id")),
    Field("double", "int", lambda obj, extra: obj.size * 2),
    Field("secret", "str", attr("secret"), "in"),
    *link_fields("things", "parts", "events"),
))  # fmt: skip
del TYPES["UnitThing"]  # a mapper declares its type for the API; this one is no part of it


def thing(owner_id: str | None) -> Any:
    return SimpleNamespace(id="1f", name="t", description=None, comment="c", size=3, owner_id=owner_id, secret="x")


def by_hand(obj: Any, status: str) -> dict[str, Any]:
    return {"href": href("things", obj.id), "id": obj.id, "name": obj.name, "description": obj.description,
            "comment": obj.comment, "size": obj.size, "fixed": False, "tags": ["a"], "status": status,
            "owner": ref("hosts", obj.owner_id), "double": 6,
            "link": links(href("things", obj.id), "parts", "events")}  # fmt: skip


def test_render_is_every_output_field_in_declared_order() -> None:
    for owner in ("9a", None):
        rendered = THING.render(thing(owner), status="up")
        expected = by_hand(thing(owner), "up")
        assert rendered == expected
        assert list(rendered) == list(expected)  # the order of elements in XML


def test_a_rendered_list_is_a_fresh_copy() -> None:
    first = THING.render(thing(None), status="up")
    first["tags"].append("b")
    assert THING.render(thing(None), status="up")["tags"] == ["a"]


def test_an_inline_source_called_alone_gives_what_the_generated_function_inlines() -> None:
    owner = reference("hosts", "owner_id")
    assert isinstance(owner, Inline)
    assert owner(thing("9a"), {}) == ref("hosts", "9a")
    assert owner(thing(None), {}) is None
    assert Inline("$x + obj.size", x=4)(thing(None), {}) == 7


def test_a_view_renders_its_sources_in_the_mappers_order() -> None:
    view = THING.view({"size": given("size"), "status": None, "name": attr("comment")}, inherit=False)
    assert list(view.render(thing(None), size=5)) == ["name", "size"]
    assert view.render(thing(None), size=5) == {"name": "c", "size": 5}
