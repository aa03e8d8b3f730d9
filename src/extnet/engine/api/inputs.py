"""Typed command inputs from coerced bodies, by the resource's declared mapper (``api/mappers.py``).

The mapper declares each field's wire name and kind once; a command family's input dataclass (``commands/``) names
the fields it reads, with Python names and types (``commands.inputs.wire``). ``to_input`` fills the input from a body
``schema.coerce`` checked: scalars as coerced, nested objects by the field's converter (lists item by item); a field
the body does not give stays None.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from extnet.engine.api.mappers import Mapper
from extnet.engine.api.schema import TYPES, Kind, List
from extnet.engine.commands.inputs import Convert, converter, wire_name
from extnet.engine.store.queries import Entity

I = TypeVar("I")  # noqa: E741 - the input class


def to_input(mapper: Mapper, body: Entity, cls: type[I]) -> I:
    """The input ``cls`` of a command, from ``body`` (a coerced body of the mapper's type)."""
    return _fill(mapper.type_name, {f.wire: f.kind for f in mapper.fields if f.direction != "out"}, body, cls)


def _fill(type_name: str, kinds: dict[str, Kind], body: Entity, cls: type[I]) -> I:
    """``cls`` with each of its fields the body gives, converted by its kind in ``type_name``."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = wire_name(field)
        assert name in kinds, f"{cls.__name__}.{field.name}: {type_name} has no input field '{name}'"
        if name in body:
            values[field.name] = _convert(kinds[name], body[name], converter(field))
    return cls(**values)


def _convert(kind: Kind, value: Any, convert: Convert | None) -> Any:
    if isinstance(kind, List):
        return tuple(_convert(kind.kind, item, convert) for item in value)
    if isinstance(value, dict):
        assert convert is not None, f"a nested value of kind {kind} needs a converter"
        return convert(value)
    return value


def action_input(body: Entity, cls: type[I]) -> I:
    """The input ``cls`` of an action, from ``body`` (a coerced ``Action`` body): as ``to_input``, by the fields the
    ``Action`` type declares."""
    action = TYPES["Action"]
    return _fill("Action", {name: kind for name, kind in action.fields.items() if name not in action.output_only},
                 body, cls)  # fmt: skip
