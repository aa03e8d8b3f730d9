"""JSON (de)serialization of frozen dataclasses from their declaration: each field is declared once, on the class,
and read and written from there (as oslo.versionedobjects does for os-vif's objects).

Reading is tolerant, as a versioned contract needs: a key the class does not declare is ignored (a newer minor
version's field); a missing key (or null, for a field with a default) takes the field's default; a nested object or
list of the wrong shape is reported in ``problems``; scalar values are passed through as given, for the class's own
rules (its ``__post_init__``) to judge with messages that name the object. A field whose type is a ``Kinded`` base
holds one of its subclasses, chosen by the ``kind`` key.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, ClassVar, TypeVar, Union

T = TypeVar("T")
_MISSING = dataclasses.MISSING


class Kinded:
    """A base whose subclasses are told apart on the wire by their ``KIND``."""

    KIND: ClassVar[str] = ""

    @classmethod
    def kinds(cls) -> dict[str, type]:
        found: dict[str, type] = {}
        for sub in cls.__subclasses__():
            if getattr(sub, "KIND", ""):
                found[sub.KIND] = sub
            if issubclass(sub, Kinded):
                found.update(sub.kinds())
        return found


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        document = {"kind": value.KIND} if isinstance(value, Kinded) else {}
        document.update({f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)})
        return document
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    return value


def decode(cls: type[T], data: Any, label: str, problems: list[str], path: str = "") -> T | None:
    """An instance of ``cls`` read from ``data``; None (with ``problems`` told why) when its shape is wrong."""
    if not isinstance(data, dict):
        problems.append(f"{label}: {path or 'the document'} must be an object")
        return None
    kwargs: dict[str, Any] = {}
    known = len(problems)
    hints = _hints(cls)  # type: ignore[arg-type]
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        has_default = field.default is not _MISSING or field.default_factory is not _MISSING
        raw = data.get(field.name)
        if raw is None and has_default:
            continue
        kwargs[field.name] = _value(hints[field.name], raw, label, problems, _join(path, field.name))
    if len(problems) > known:  # a part of the wrong shape: the class's own rules cannot judge the rest
        return None
    return cls(**kwargs)


def _value(hint: Any, raw: Any, label: str, problems: list[str], path: str) -> Any:
    optional, inner = _unwrap_optional(hint)
    if raw is None and optional:
        return None
    origin = typing.get_origin(inner)
    if origin is tuple:
        if not isinstance(raw, list):
            problems.append(f"{label}: {path} must be a list")
            return ()
        (item_hint, *_rest) = typing.get_args(inner)
        return tuple(_value(item_hint, item, label, problems, f"{path}[{n}]") for n, item in enumerate(raw))
    if isinstance(inner, type) and issubclass(inner, Kinded):
        kind = raw.get("kind") if isinstance(raw, dict) else None
        chosen = inner.kinds().get(kind) if isinstance(kind, str) else None
        if chosen is None:  # a kind of a newer minor version (or none): the reader decides without it
            return None
        return decode(chosen, raw, label, problems, path)
    if isinstance(inner, type) and dataclasses.is_dataclass(inner):
        return decode(inner, raw, label, problems, path)
    return raw


def _unwrap_optional(hint: Any) -> tuple[bool, Any]:
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            return True, args[0]
    return False, hint


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
