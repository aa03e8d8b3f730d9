"""The request side of the OpenAPI document: what ``schema.coerce`` accepts, as JSON Schema (OpenAPI 3.0).

Input is more lenient than output (which writes every scalar as a string): a text field also takes a JSON number
or boolean, an integer a JSON integer or its digits, a boolean ``true``/``false`` in any case, ``1`` or ``0``, an
enum value any case, a list its bare array or ``{"item": [..]}``; ``null`` is a field not given. Text never carries
a control character. A reference to another entity (a field whose type has links) is ``{id, href, name}``; the
fields the engine writes (``href``, ``link``, ``status``, ...) are ``readOnly``: accepted back, as ovirtsdk4 sends
whole objects, but never needed. Names that the inventory's name rule checks carry its pattern.
"""

from __future__ import annotations

from typing import Any

from extnet.engine.api.schema import INT_MAX, INT_MIN, TYPES, Kind, List, TypeDef
from extnet.engine.domain.rules import NAME_MAX

Schema = dict[str, Any]

# No C0 control but tab and newlines, no DEL (schema._CONTROL_RE)
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"
NAME_PATTERN = f"^[\\w.-]{{1,{NAME_MAX}}}$"
INT_PATTERN = "^[-+]?[0-9]{1,18}$"
# Types whose own name is checked by the name rule (domain/rules.name_problem) when added or renamed
NAMED = frozenset({"DataCenter", "Cluster", "Network", "VnicProfile", "Host", "Vm", "Nic", "MacPool",
                   "OpenStackNetworkProvider", "OpenStackSubnet"})  # fmt: skip


def input_name(type_name: str) -> str:
    return f"{type_name}Input"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c.replace(".", "\\.") for c in word)


def _enum(values: tuple[str, ...]) -> Schema:
    text = {"type": "string", "pattern": "^(" + "|".join(_any_case(v) for v in values) + ")$"}
    if "true" in values or "false" in values:  # a JSON boolean is read as its text
        return {"anyOf": [text, {"type": "boolean"}]}
    return text


def _scalar(kind: str) -> Schema:
    if kind == "bool":
        return {
            "anyOf": [
                {"type": "boolean"},
                {"type": "integer", "enum": [0, 1]},
                {"type": "string", "pattern": "^(" + "|".join(map(_any_case, ("true", "false"))) + "|1|0)$"},
            ]
        }
    if kind == "int":
        return {"anyOf": [{"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX},
                          {"type": "string", "pattern": INT_PATTERN}]}  # fmt: skip
    if kind == "date":
        return {"type": "string", "format": "date-time"}
    return {"anyOf": [{"type": "string", "pattern": TEXT_PATTERN}, {"type": "number"}, {"type": "boolean"}]}


def _name() -> Schema:
    """A name the name rule takes: its text, or a JSON boolean or number whose text it is."""
    return {"anyOf": [{"type": "string", "pattern": NAME_PATTERN}, {"type": "boolean"},
                      {"type": "integer", "minimum": 1 - 10 ** (NAME_MAX - 1), "maximum": 10**NAME_MAX - 1},
                      {"type": "number", "minimum": -(10**15), "maximum": 10**15}]}  # fmt: skip


def _is_entity(type_name: str) -> bool:
    return "link" in TYPES[type_name].fields


def _empty() -> Schema:
    return {"type": "string", "maxLength": 0}  # "" is read as "not given"


class InputSchemas:
    """Builds ``<Type>Input`` component schemas (and ``Ref``) on demand, each once."""

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}

    def body(self, type_name: str, required: tuple[str, ...] = ()) -> Schema:
        """The body of an add (``required``: the fields it needs) or an update (none: any subset)."""
        if not required:
            return self.named(type_name)
        name = type_name + "Add" + "".join(field.title().replace("_", "") for field in required)
        if name not in self.schemas:
            schema = self._object(TYPES[type_name])
            for field in required:  # given: neither null nor empty
                schema["properties"][field] = self._given(TYPES[type_name].fields[field], field)
            self.schemas[name] = {**schema, "required": list(required)}
        return _ref(name)

    def _given(self, kind: Kind, field: str) -> Schema:
        if field == "name":
            return _name()
        if isinstance(kind, List):
            return {"anyOf": [{"type": "array", "items": self.kind(kind.kind), "minItems": 1},
                              {"type": "object", "additionalProperties": False, "required": [kind.item],
                               "properties": {kind.item: {"type": "array", "items": self.kind(kind.kind),
                                                          "minItems": 1}}}]}  # fmt: skip
        if kind in ("str", "id"):
            return {"anyOf": [{"type": "string", "minLength": 1, "pattern": TEXT_PATTERN}, {"type": "number"},
                              {"type": "boolean"}]}  # fmt: skip
        if isinstance(kind, str) and kind in TYPES and _is_entity(kind):
            return self.reference()
        return self.kind(kind)

    def named(self, type_name: str) -> Schema:
        name = input_name(type_name)
        if name not in self.schemas:
            self.schemas[name] = {}  # reserved first: types refer to each other
            self.schemas[name] = self._object(TYPES[type_name])
        return _ref(name)

    def reference(self) -> Schema:
        if "Ref" not in self.schemas:
            props: dict[str, Schema] = {
                "id": {**_scalar("str"), "nullable": True},  # a UUID where the object is looked up
                "href": {**_scalar("str"), "nullable": True, "readOnly": True},
                "name": {**_scalar("str"), "nullable": True},
            }
            self.schemas["Ref"] = {"type": "object", "additionalProperties": False, "properties": props,
                                   "description": "A reference to another object, by id or else by name (an "
                                                  "empty one is no reference)"}  # fmt: skip
        return _ref("Ref")

    def _object(self, tdef: TypeDef) -> Schema:
        props: dict[str, Schema] = {}
        for field, kind in tdef.fields.items():
            schema = self.kind(kind)
            if field == "name" and tdef.name in NAMED:
                schema = _name()
            schema = {**schema, "nullable": True} if "$ref" not in schema else {"allOf": [schema], "nullable": True}
            if field in tdef.output_only:
                schema["readOnly"] = True
            if field in tdef.input_only:
                schema["writeOnly"] = True
            props[field] = schema
        return {"type": "object", "additionalProperties": False, "properties": props}

    def kind(self, kind: Kind) -> Schema:
        if isinstance(kind, List):
            return self._list(kind)
        if isinstance(kind, tuple):
            return _enum(kind)
        if kind in ("str", "id", "int", "bool", "date"):
            return _scalar(kind)
        target = self.reference() if _is_entity(kind) else self.named(kind)
        return {"anyOf": [target, _empty()], "nullable": True}  # null or "": an empty object

    def _list(self, kind: List) -> Schema:
        item = self.kind(kind.kind)
        items = {"type": "array", "items": item}
        # {"usage": [..]} or {"usage": "vm"}; a bare array; a bare scalar (a bare object is the wrapper itself)
        wrapper = {"type": "object", "additionalProperties": False,
                   "properties": {kind.item: {"anyOf": [items, item]}}}  # fmt: skip
        return {"anyOf": [items, wrapper, _empty(), *([item] if _scalar_kind(kind.kind) else [])]}


def _scalar_kind(kind: Kind) -> bool:
    return isinstance(kind, tuple) or kind in ("str", "id", "int", "bool", "date")
