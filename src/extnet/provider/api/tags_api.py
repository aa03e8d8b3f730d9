"""The tags API of taggable resources (``standard-attr-tag`` and ``tag-creation``): ``/v2.0/{resources}/{id}/tags``
to list (GET), replace all (PUT), add those missing (POST) or remove all (DELETE), and ``/tags/{tag}`` to check,
add or remove one."""

from __future__ import annotations

from typing import Any

from extnet.provider.api import convert as cv
from extnet.provider.api.spec import ResourceSpec
from extnet.provider.api.wire import Request, Response, Runner, not_allowed, ok
from extnet.provider.errors import bad_request, invalid_input
from extnet.provider.identity.service import Principal
from extnet.provider.service import tags


def handle(api: Runner, request: Request, principal: Principal, spec: ResourceSpec, id_: str,
           tag: str | None) -> Response:  # fmt: skip
    if tag is None:
        return _all(api, request, principal, spec, id_)
    kind, method = spec.kind, request.method
    if method == "GET":
        api.run(False, principal, lambda ctx: tags.check(ctx, kind, id_, tag))
        return 204, b"", []
    if method == "PUT":
        checked = cv.tag("tag", tag)
        api.run(True, principal, lambda ctx: tags.add(ctx, kind, id_, [checked], spec.plural))
        return 201, b"", []
    if method == "DELETE":
        api.run(True, principal, lambda ctx: tags.remove(ctx, kind, id_, tag))
        return 204, b"", []
    raise not_allowed()


def _all(api: Runner, request: Request, principal: Principal, spec: ResourceSpec, id_: str) -> Response:
    kind, method = spec.kind, request.method
    if method == "GET":
        return ok({"tags": api.run(False, principal, lambda ctx: tags.get_all(ctx, kind, id_))})
    if method == "PUT":
        body = request.json()
        if not isinstance(body, dict) or set(body) != {"tags"}:
            raise bad_request("Unable to find 'tags' in request body")
        new = cv.tags("tags", body["tags"])
        return ok({"tags": api.run(True, principal, lambda ctx: tags.replace(ctx, kind, id_, new, spec.plural))})
    if method == "POST":
        new = cv.tags("tags", _tags_of(request.json()))
        return ok({"tags": api.run(True, principal, lambda ctx: tags.add(ctx, kind, id_, new, spec.plural, True))})
    if method == "DELETE":
        api.run(True, principal, lambda ctx: tags.remove(ctx, kind, id_, None))
        return 204, b"", []
    raise not_allowed()


def _tags_of(body: Any) -> Any:
    if not isinstance(body, dict) or "tags" not in body:
        raise invalid_input("Invalid tags body.")
    return body["tags"]
