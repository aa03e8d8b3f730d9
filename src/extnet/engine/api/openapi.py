"""An OpenAPI 3 description of the JSON API, generated from the declared types and collections."""

from __future__ import annotations

from typing import Any

from extnet.engine.api.resources.base import API, Collection
from extnet.engine.api.schema import TYPES, Kind, List

_METHODS = {
    "list": ("get", "List"), "add": ("post", "Add"), "get": ("get", "Get"),
    "update": ("put", "Update"), "remove": ("delete", "Remove"),
}  # fmt: skip


def _schema(kind: Kind) -> dict[str, Any]:
    if isinstance(kind, List):
        item = _schema(kind.kind)
        return {"type": "object", "properties": {kind.item: {"type": "array", "items": item}}}
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


def _overridden(cls: type[Collection], name: str) -> bool:
    return getattr(cls, name) is not getattr(Collection, name)


def _paths(prefix: str, cls: type[Collection], seen: set[type[Collection]], paths: dict[str, Any]) -> None:
    tdef = cls.tdef()
    ref = {"$ref": f"#/components/schemas/{tdef.name}"}
    body = {"required": True, "content": {"application/json": {"schema": ref}}}
    ok = {"description": "OK", "content": {"application/json": {"schema": ref}}}
    listing = {"description": "OK", "content": {"application/json": {"schema": {
        "type": "object", "properties": {tdef.tag: {"type": "array", "items": ref}}}}}}  # fmt: skip
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
              for p in _path_params(prefix)]  # fmt: skip
    coll: dict[str, Any] = {}
    if _overridden(cls, "list_"):
        query = [{"name": "max", "in": "query", "schema": {"type": "integer"}}]
        if cls.search_fields is not None:
            query.append({"name": "search", "in": "query", "schema": {"type": "string"},
                          "description": "fields: " + ", ".join(sorted(cls.search_fields))})  # fmt: skip
        coll["get"] = {"summary": f"List {tdef.plural}", "parameters": params + query,
                       "responses": {"200": listing}}  # fmt: skip
    if _overridden(cls, "add"):
        coll["post"] = {"summary": f"Add a {tdef.tag}", "parameters": params, "requestBody": body,
                        "responses": {"201": ok}}  # fmt: skip
    if coll:
        paths[prefix] = coll
    item_prefix = f"{prefix}/{{{tdef.tag}_id}}"
    item_params = params + [{"name": f"{tdef.tag}_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    item: dict[str, Any] = {}
    if _overridden(cls, "get"):
        item["get"] = {"summary": f"Get a {tdef.tag}", "parameters": item_params, "responses": {"200": ok}}
    if _overridden(cls, "update"):
        item["put"] = {"summary": f"Update a {tdef.tag}", "parameters": item_params, "requestBody": body,
                       "responses": {"200": ok}}  # fmt: skip
    if _overridden(cls, "remove"):
        item["delete"] = {"summary": f"Remove a {tdef.tag}", "parameters": item_params,
                          "responses": {"200": {"description": "Removed"}}}  # fmt: skip
    if item:
        paths[item_prefix] = item
    action_ref = {"$ref": "#/components/schemas/Action"}
    for action in cls.actions:
        paths[f"{item_prefix}/{action}"] = {"post": {
            "summary": f"{action} on a {tdef.tag}", "parameters": item_params,
            "requestBody": {"content": {"application/json": {"schema": action_ref}}},
            "responses": {"200": {"description": "Done", "content": {"application/json": {"schema": action_ref}}}},
        }}  # fmt: skip
    for name, sub in cls.subs.items():
        if sub not in seen:
            _paths(f"{item_prefix}/{name}", sub, seen | {sub}, paths)


def _path_params(prefix: str) -> list[str]:
    return [part[1:-1] for part in prefix.split("/") if part.startswith("{")]


def openapi_document(roots: dict[str, type[Collection]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for name, cls in roots.items():
        _paths(f"{API}/{name}", cls, {cls}, paths)
    schemas = {
        tdef.name: {"type": "object", "additionalProperties": False,
                    "properties": {field: _schema(kind) for field, kind in tdef.fields.items()}}
        for tdef in TYPES.values()
    }  # fmt: skip
    return {
        "openapi": "3.0.3",
        "info": {"title": "extnet engine API (oVirt REST API v4, JSON)", "version": "4.5.0"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "basic": {"type": "http", "scheme": "basic"}},
        },
        "security": [{"bearer": []}, {"basic": []}],
    }  # fmt: skip
