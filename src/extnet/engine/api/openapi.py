"""An OpenAPI 3 description of the JSON API, generated from the declared types and collections.

The schemas describe the canonical (output) shape: every scalar is a string, as oVirt's JSON writes it; a list
field is ``{"usage": [..]}`` unless its element name is the field name itself (``"link": [..]``), which is how
repeated elements inline in the XML map to JSON. Input is more lenient (JSON booleans and numbers are accepted).
"""

from __future__ import annotations

from typing import Any

from extnet.engine.api.follow import FOLLOW_PATTERN
from extnet.engine.api.hrefs import API
from extnet.engine.api.http import SSO_ERRORS
from extnet.engine.api.openapi_input import InputSchemas
from extnet.engine.api.resources.base import MAX_RESULTS, Collection
from extnet.engine.api.schema import TYPES, Kind, List

Operation = dict[str, Any]

_FAULT = {"$ref": "#/components/schemas/Fault"}
_ID_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "string", "pattern": "^[0-9]+$"}}
_XML: dict[str, Any] = {"application/xml": {}}  # the default representation; its shape is the JSON one's, as elements
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def _fault(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response = {"description": description, "content": {"application/json": {"schema": _FAULT}, **_XML}}
    return {**response, "headers": headers} if headers else response


_ERRORS = {
    "400": _fault("The request is malformed (a value the schema refuses), names an object that does not exist, "
                  "or breaks a rule of the model that a schema cannot express (the search language, a "
                  "compatibility version, a range that overlaps another, ...)"),
    "401": _fault("No credentials, or wrong ones", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
    "403": _fault("The user may not do this (a read-only user changes something)"),
    "404": _fault("The path names an object that does not exist"),
    "409": _fault("A rule of the model refuses the change in the current state (a name in use, an object in "
                  "use)"),
    "415": _fault("The body's Content-Type is neither JSON nor XML"),
    "429": _fault("Too many wrong passwords from this address: wait", _RETRY_AFTER),
    "500": _fault("An internal error: the engine log has the details"),
}  # fmt: skip
_STOPPING = {"503": _fault("The engine is stopping and takes no new background jobs")}


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
    return {"description": description, "content": {"application/json": {"schema": schema}, **_XML}}


def _overridden(cls: type[Collection], name: str) -> bool:
    return getattr(cls, name) is not getattr(Collection, name)


def _param(name: str, where: str = "path", schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema or {"type": "string"}, **extra}


def _operation(op_id: str, summary: str, params: list[dict[str, Any]], responses: dict[str, Any],
               body: dict[str, Any] | None = None, body_required: bool = False) -> Operation:  # fmt: skip
    op: Operation = {"operationId": op_id, "summary": summary, "parameters": params,
                     "responses": {**responses, **_ERRORS}}  # fmt: skip
    if body is not None:  # an empty body is an empty object: required where the object has required fields
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    return op


def _list_query(cls: type[Collection]) -> list[dict[str, Any]]:
    query = [_param("max", "query", {"type": "integer", "minimum": -1, "maximum": MAX_RESULTS},
                    description="At most this many; -1: all")]  # fmt: skip
    if cls.search_fields is not None:
        search = {"type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f]*$"}
        query.append(_param("search", "query", search, description="oVirt's search language; fields: "
                            + ", ".join(sorted(cls.search_fields))))  # fmt: skip
        query.append(_param("case_sensitive", "query", {"type": "boolean"}))
    return query + [FOLLOW, *(_param(name, "query", schema) for name, schema in cls.list_parameters.items())]


FOLLOW = _param("follow", "query", {"type": "string", "pattern": FOLLOW_PATTERN},
                description="Links to embed in the answer: fields of its type, a dotted path to follow on "
                            "(nics.vnic_profile,cluster)")  # fmt: skip


class _Builder:
    def __init__(self) -> None:
        self.paths: dict[str, dict[str, Operation]] = {}
        self.inputs = InputSchemas()

    def collection(self, prefix: str, op_prefix: str, cls: type[Collection], seen: frozenset[type[Collection]],
                   params: list[dict[str, Any]]) -> None:  # fmt: skip
        tdef = cls.tdef()
        ref = _ref(tdef.name)
        coll: dict[str, Operation] = {}
        if _overridden(cls, "list_"):
            listing = {"type": "object", "properties": {tdef.tag: {"type": "array", "items": ref}}}
            coll["get"] = _operation(f"{op_prefix}_list", f"List {tdef.plural}", params + _list_query(cls),
                                     {"200": _json(listing)})  # fmt: skip
        if _overridden(cls, "add"):
            added = {"201": _json(ref, "Added")}
            if "add" in cls.self_managed:
                added["202"] = _json(ref, "Added; the rest happens in the background")
            coll["post"] = _operation(f"{op_prefix}_add", f"Add a {tdef.tag}", params, added,
                                      body=self.inputs.body(tdef.name, cls.required_on_add),
                                      body_required=bool(cls.required_on_add))  # fmt: skip
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
            item["get"] = _operation(f"{op_prefix}_get", f"Get a {tdef.tag}", [*params, FOLLOW], {"200": _json(ref)})
        if _overridden(cls, "update"):
            item["put"] = _operation(f"{op_prefix}_update", f"Update a {tdef.tag}", params, {"200": _json(ref)},
                                     body=self.inputs.body(tdef.name))  # fmt: skip
        if _overridden(cls, "remove"):
            force = _param("force", "query", {"type": "boolean"})
            item["delete"] = _operation(f"{op_prefix}_remove", f"Remove a {tdef.tag}", [*params, force],
                                        {"200": {"description": "Removed"}})  # fmt: skip
        if item:
            self.paths[prefix] = item
        action = _ref("Action")
        for name in cls.actions:
            done = {"200": _json(action, "Done")}
            query = [_param("async", "query", {"type": "boolean"})]
            if f"action:{name}" in cls.self_managed:
                done |= {"202": _json(action, "Started in the background: its job"), **_STOPPING}
            post = _operation(f"{op_prefix}_{name}", f"{name} on a {tdef.tag}", params + query, done,
                              body=self.inputs.body("Action"))  # fmt: skip
            self.paths[f"{prefix}/{name}"] = {"post": post}


def _unique_name(name: str, params: list[dict[str, Any]]) -> str:
    taken = {p["name"] for p in params}
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{n}", n + 1
    return candidate


def _fixed_paths() -> dict[str, dict[str, Operation]]:
    token_form = {"type": "object", "required": ["grant_type", "username", "password"], "properties": {
        "grant_type": {"type": "string", "enum": ["password"]},
        "scope": {"type": "string", "pattern": "(^|\\s)ovirt-app-api(\\s|$)", "default": "ovirt-app-api"},
        "username": {"type": "string", "minLength": 1}, "password": {"type": "string"}}}  # fmt: skip
    token = {"type": "object", "required": ["access_token", "token_type", "exp", "scope"], "properties": {
        "access_token": {"type": "string"}, "token_type": {"type": "string", "enum": ["bearer"]},
        "exp": {"type": "string", "pattern": "^[0-9]+$"}, "scope": {"type": "string"}}}  # fmt: skip
    error = {"type": "object", "required": ["error", "error_description"], "additionalProperties": False,
             "properties": {"error": {"type": "string", "enum": list(SSO_ERRORS)},
                            "error_description": {"type": "string"}}}  # fmt: skip

    def sso(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        response = {"description": description, "content": {"application/json": {"schema": error}}}
        return {**response, "headers": headers} if headers else response

    sso_responses = {
        "200": {"description": "A token", "content": {"application/json": {"schema": token}}},
        "400": sso("The form is incomplete or asks for what is not supported (grant type, scope), or the "
                   "credentials are in the URL"),
        "401": sso("Wrong credentials"),
        "429": sso("Too many wrong passwords for this user from this address: wait", _RETRY_AFTER),
    }  # fmt: skip
    return {
        API: {"get": _operation("api_get", "The API root", [], {"200": _json(_ref("Api"))})},
        "/ovirt-engine/sso/oauth/token": {"post": {
            "operationId": "sso_token", "summary": "Log in: an access token for the API", "security": [],
            "requestBody": {"required": True,
                            "content": {"application/x-www-form-urlencoded": {"schema": token_form}}},
            "responses": sso_responses,
        }},
    }  # fmt: skip


def openapi_document(roots: dict[str, type[Collection]]) -> dict[str, Any]:
    builder = _Builder()
    for name, cls in roots.items():
        builder.collection(f"{API}/{name}", name, cls, frozenset({cls}), [])
    schemas = {
        tdef.name: {"type": "object", "additionalProperties": False,
                    "properties": {field: _schema(kind, field) | ({"writeOnly": True} if field in tdef.input_only
                                                                  else {})
                                   for field, kind in tdef.fields.items()}}
        for tdef in TYPES.values()
    }  # fmt: skip
    schemas.update(builder.inputs.schemas)
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
