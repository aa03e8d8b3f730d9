"""What command inputs are made of: typed values, never raw bodies.

A command family declares its input as a frozen dataclass (e.g. ``NetworkInput``) whose fields have Python names and
types. The API builds it from the coerced body (``api/inputs.to_input``), by the resource's declared mapper; the
command reads only its input.

A field is None when the body does not give it: after ``api/schema.coerce`` no given value is None (a JSON null is
"not given", as oVirt reads it), so an update changes exactly the fields that are not None. ``wire`` names a field's
wire name when it differs from its Python name, and how a nested value (an object of the body) becomes a typed one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]
Convert = Callable[[Entity], Any]  # a nested value of the body (a coerced object) -> its typed value


def wire(name: str | None = None, convert: Convert | None = None) -> Any:
    """A field of an input, None unless the body gives it: its wire name (default: the field's own) and how a nested
    value is converted (default: scalars and lists of scalars as coerced)."""
    return dataclasses.field(default=None, metadata={"wire": name, "convert": convert})


def wire_name(field: dataclasses.Field[Any]) -> str:
    return field.metadata.get("wire") or field.name


def converter(field: dataclasses.Field[Any]) -> Convert | None:
    convert: Convert | None = field.metadata.get("convert")
    return convert


@dataclass(frozen=True)
class Ref:
    """A reference to another entity, by id or, failing that, by name (``<mac_pool id="..."/>``). An empty reference
    (``<mac_pool/>``) is no reference at all: it converts to None, as every command read it."""

    id: str | None = None
    name: str | None = None
    empty: bool = False  # given as an empty object (only ``always`` keeps one)

    @classmethod
    def of(cls, value: Entity) -> Ref | None:
        return cls(value.get("id"), value.get("name")) if value else None

    @classmethod
    def always(cls, value: Entity) -> Ref:
        """For a field whose mere presence matters (an empty ``<network_filter/>`` means "none"): an empty reference
        is kept, marked ``empty``."""
        return cls(value.get("id"), value.get("name"), not value)

    def wire(self) -> Entity:
        """The reference in the form ``store.queries.resolve`` takes."""
        return {} if self.empty else {"id": self.id, "name": self.name}


def reference(ref: Ref | None) -> Entity | None:
    """``ref`` in the form ``store.queries.resolve`` takes (None: no reference)."""
    return None if ref is None else ref.wire()


def nonempty(value: Entity) -> Entity | None:
    """A nested object kept as coerced (for a caller that passes it on as it is), None when empty."""
    return value or None


@dataclass(frozen=True)
class Property:
    """A ``<property>`` (or ``<custom_property>``): a name and a value, each "" when not given."""

    name: str
    value: str

    @classmethod
    def of(cls, value: Entity) -> Property:
        return cls(str(value.get("name", "")), str(value.get("value", "")))
