"""``/v2.0/quotas``: Neutron's quota API (extensions ``quotas``, ``quota_details``, ``quota-check-limit``):

GET    /v2.0/quotas                      admin: the projects that have limits set
GET    /v2.0/quotas/{project_id}         the project's limits (a non-admin: its own project only)
PUT    /v2.0/quotas/{project_id}         admin: {"quota": {"network": 5, ...}}
DELETE /v2.0/quotas/{project_id}         admin: back to the defaults
GET    /v2.0/quotas/{project_id}/default the defaults
GET    /v2.0/quotas/{project_id}/details limit, used and reserved of each resource
GET    /v2.0/quotas/project, /tenant     the caller's project id
"""

from __future__ import annotations

import orjson

from extnet.provider.api.wire import JSON, Request, Response, Runner, not_allowed, not_found, ok
from extnet.provider.errors import NeutronError
from extnet.provider.identity.service import Principal
from extnet.provider.service import quotas

PATH = "quotas"


def route(api: Runner, request: Request, principal: Principal, rest: list[str]) -> Response:
    method = request.method
    if not rest:
        return _collection(api, request, principal)
    project_id = rest[0]
    if len(rest) == 1:
        if method == "GET" and project_id in ("project", "tenant"):
            return _caller(principal, project_id)
        return _member(api, request, principal, project_id)
    if len(rest) == 2 and method == "GET" and rest[1] == "default":
        return ok({"quota": api.run(False, principal, lambda ctx: quotas.show_defaults(ctx, project_id))})
    if len(rest) == 2 and method == "GET" and rest[1] == "details":
        return ok({"quota": api.run(False, principal, lambda ctx: quotas.details(ctx, project_id))})
    raise not_found()


def _collection(api: Runner, request: Request, principal: Principal) -> Response:
    if request.method == "GET":
        return ok({"quotas": api.run(False, principal, quotas.listing)})
    if request.method == "POST":
        raise NeutronError(501, "HTTPNotImplemented", "POST requests are not supported on this resource.")
    raise not_allowed()


def _member(api: Runner, request: Request, principal: Principal, project_id: str) -> Response:
    if request.method == "GET":
        return ok({"quota": api.run(False, principal, lambda ctx: quotas.show(ctx, project_id))})
    if request.method == "PUT":
        body = request.json()
        return ok({"quota": api.run(True, principal, lambda ctx: quotas.update(ctx, project_id, body))})
    if request.method == "DELETE":
        api.run(True, principal, lambda ctx: quotas.delete(ctx, project_id))
        return 204, b"", []
    raise not_allowed()


def _caller(principal: Principal, which: str) -> Response:
    project_id = principal.project_id or ""
    return 200, orjson.dumps({which: {f"{which}_id": project_id}}), JSON
