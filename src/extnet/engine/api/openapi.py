"""An OpenAPI 3 description of the JSON API, generated from the declared types and collections.

The schemas describe the canonical (output) shape: every scalar is a string, as oVirt's JSON writes it; a list
field is ``{"usage": [..]}`` unless its element name is the field name itself (``"link": [..]``), which is how
repeated elements inline in the XML map to JSON. Input is more lenient (JSON booleans and numbers are accepted).
"""

from __future__ import annotations

from typing import Any

from extnet.engine.api.resources.base import API, Collection
from extnet.engine.api.schema import TYPES, Kind, List

Operation = dict[str, Any]

_FAULT = {"$ref": "#/components/schemas/Fault"}
_ID_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "string", "pattern": "^[0-9]+$"}}
_ERRORS = {"default": {"description": "A fault", "content": {"application/json": {"schema": _FAULT}}}}


def _schema(kind: Kind, field: str = "") -> dict[str, Any]:
    if isinstance(kind, List):
        items = {"type": "array", "items": _schema(kind.kind)}
        return items if kind.item == field else {"type": "object", "properties": {kind.item: items}}
    if isinstance(kind, tuple):
        return {"type": "string", "enum": list(kind)}
    if kind == "bool":
        return {"type": "string", "enum": ["true", "false"]}
    if kind == "int":
        return {"type": "string", "pattern": "^-?[0-9]+$"}
    if kind == "date":
        return {"type": "string", "format": "date-time"}
    if kind in ("str", "id"):
        return {"type": "string"}
    return {"$ref": f"#/components/schemas/{kind}"}


def _ref(type_name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{type_name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _overridden(cls: type[Collection], name: str) -> bool:
    return getattr(cls, name) is not getattr(Collection, name)


def _param(name: str, where: str = "path", schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema or {"type": "string"}, **extra}


def _operation(op_id: str, summary: str, params: list[dict[str, Any]], responses: dict[str, Any],
               body: dict[str, Any] | None = None) -> Operation:  # fmt: skip
    op: Operation = {"operationId": op_id, "summary": summary, "parameters": params,
                     "responses": {**responses, **_ERRORS}}  # fmt: skip
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


class _Builder:
    def __init__(self) -> None:
        self.paths: dict[str, dict[str, Operation]] = {}

    def collection(self, prefix: str, op_prefix: str, cls: type[Collection], seen: frozenset[type[Collection]],
                   params: list[dict[str, Any]]) -> None:  # fmt: skip
        tdef = cls.tdef()
        ref = _ref(tdef.name)
        coll: dict[str, Operation] = {}
        if _overridden(cls, "list_"):
            query = [_param("max", "query", {"type": "integer", "minimum": -1})]
            if cls.search_fields is not None:
                query.append(_param("search", "query", description="fields: " + ", ".join(sorted(cls.search_fields))))
                query.append(_param("case_sensitive", "query", {"type": "boolean"}))
            listing = {"type": "object", "properties": {tdef.tag: {"type": "array", "items": ref}}}
            coll["get"] = _operation(f"{op_prefix}_list", f"List {tdef.plural}", params + query,
                                     {"200": _json(listing)})  # fmt: skip
        if _overridden(cls, "add"):
            coll["post"] = _operation(f"{op_prefix}_add", f"Add a {tdef.tag}", params, {"201": _json(ref, "Added")},
                                      body=ref)  # fmt: skip
        if coll:
            self.paths[prefix] = coll
        id_name = _unique_name(f"{tdef.tag}_id", params)
        item_prefix = f"{prefix}/{{{id_name}}}"
        item_params = [*params, _param(id_name, schema=_ID_SCHEMAS[cls.id_kind])]
        self.item(item_prefix, op_prefix, cls, item_params)
        for name, sub in cls.subs.items():
            if sub not in seen:
                self.collection(f"{item_prefix}/{name}", f"{op_prefix}_{name}", sub, seen | {sub}, item_params)

    def item(self, prefix: str, op_prefix: str, cls: type[Collection], params: list[dict[str, Any]]) -> None:
        tdef = cls.tdef()
        ref = _ref(tdef.name)
        item: dict[str, Operation] = {}
        if _overridden(cls, "get"):
            item["get"] = _operation(f"{op_prefix}_get", f"Get a {tdef.tag}", params, {"200": _json(ref)})
        if _overridden(cls, "update"):
            item["put"] = _operation(f"{op_prefix}_update", f"Update a {tdef.tag}", params, {"200": _json(ref)},
                                     body=ref)  # fmt: skip
        if _overridden(cls, "remove"):
            force = _param("force", "query", {"type": "boolean"})
            item["delete"] = _operation(f"{op_prefix}_remove", f"Remove a {tdef.tag}", [*params, force],
                                        {"200": {"description": "Removed"}})  # fmt: skip
        if item:
            self.paths[prefix] = item
        action = _ref("Action")
        for name in cls.actions:
            post = _operation(f"{op_prefix}_{name}", f"{name} on a {tdef.tag}", params, {"200": _json(action, "Done")},
                              body=action)  # fmt: skip
            post["requestBody"]["required"] = False
            self.paths[f"{prefix}/{name}"] = {"post": post}


def _unique_name(name: str, params: list[dict[str, Any]]) -> str:
    taken = {p["name"] for p in params}
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{n}", n + 1
    return candidate


def _fixed_paths() -> dict[str, dict[str, Operation]]:
    token_form = {"type": "object", "required": ["grant_type", "username", "password"], "properties": {
        "grant_type": {"type": "string", "enum": ["password"]}, "scope": {"type": "string"},
        "username": {"type": "string"}, "password": {"type": "string"}}}  # fmt: skip
    token = {"type": "object", "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                                              "exp": {"type": "string"}, "scope": {"type": "string"}}}  # fmt: skip
    return {
        API: {"get": _operation("api_get", "The API root", [], {"200": _json(_ref("Api"))})},
        "/ovirt-engine/sso/oauth/token": {"post": {
            "operationId": "sso_token", "summary": "Log in: an access token for the API", "security": [],
            "requestBody": {"required": True,
                            "content": {"application/x-www-form-urlencoded": {"schema": token_form}}},
            "responses": {"200": _json(token, "A token or an SSO error")},
        }},
    }  # fmt: skip


def openapi_document(roots: dict[str, type[Collection]]) -> dict[str, Any]:
    builder = _Builder()
    for name, cls in roots.items():
        builder.collection(f"{API}/{name}", name, cls, frozenset({cls}), [])
    schemas = {
        tdef.name: {"type": "object", "additionalProperties": False,
                    "properties": {field: _schema(kind, field) for field, kind in tdef.fields.items()}}
        for tdef in TYPES.values()
    }  # fmt: skip
    return {
        "openapi": "3.0.3",
        "info": {"title": "extnet engine API (oVirt REST API v4, JSON)", "version": "4.5.0"},
        "paths": {**_fixed_paths(), **builder.paths},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{"bearer": []}, {"basic": []}],
    }  # fmt: skip
