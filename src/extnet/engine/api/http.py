"""The HTTP surface: SSO endpoints and the dispatcher of ``/ovirt-engine/api``."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from extnet.engine.api import codec
from extnet.engine.api.follow import Follower
from extnet.engine.api.hrefs import ref
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.schema import TYPES, coerce
from extnet.engine.auth import Authenticator, AuthError, Principal, Throttled
from extnet.engine.errors import (
    BadRequest,
    Fault,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
)
from extnet.engine.jobs import ABORTED, NOT_RUN, JobRunner, JobsStopped, end_job, forget_job, run_job, start_job
from extnet.engine.store.db import Database
from extnet.engine.store.queries import Entity, parse_uuid

log = logging.getLogger("extnet.engine.api")

XML = "application/xml;charset=UTF-8"
JSON = "application/json"
API_METHODS = ("GET", "POST", "PUT", "DELETE")
BODY_TYPES = {"application/xml": "xml", "text/xml": "xml", "application/json": "json"}  # media type -> how parsed
# Routed too, so that they get a <fault> instead of the router's plain-text 405
OTHER_METHODS = ("PATCH", "OPTIONS", "TRACE")
SSO_ERRORS = ("invalid_request", "unsupported_grant_type", "invalid_scope", "invalid_grant", "access_denied")
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
Reply = tuple[int, str, str | None, Any]  # (status, element tag, collection tag or None, payload)


@dataclass(frozen=True)
class Target:
    """Where a path leads: a collection, and optionally an entity, an action on it. ``path`` is the collection's
    path (``vms/{id}/nics``); ``ancestors`` the collections of ``parents``, outermost first."""

    collection: Collection
    parents: list[str]
    entity_id: str | None
    action: str | None
    path: str = ""
    ancestors: tuple[Collection, ...] = ()


class AnyPath(Convertor[str]):
    """Like Starlette's ``path``, but matching any character, newlines included: an id with a control character is
    the API's 404 fault, not the router's plain-text 404."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", AnyPath())


class ApiDispatcher:
    """Resolves paths against the collections and runs each request in one database transaction."""

    def __init__(
        self,
        db: Database,
        auth: Authenticator,
        roots: dict[str, type[Collection]],
        root_entity: Callable[[Ctx], Entity],
        max_body: int,
        services: Any = None,
        jobs: JobRunner | None = None,
    ) -> None:
        self.db = db
        self.auth = auth
        self.roots = {name: cls() for name, cls in roots.items()}
        self._instances: dict[type[Collection], Collection] = {}
        self.root_entity = root_entity
        self.max_body = max_body
        self.services = services
        self.jobs = jobs  # runs async actions; None: every action runs while its request waits
        self.follower = Follower(roots, self._resolve, self._instance)

    def routes(self) -> list[Route]:
        methods = [*API_METHODS, *OTHER_METHODS]
        return [
            Route("/ovirt-engine/sso/oauth/token", self.sso_token, methods=methods),  # all but POST: a 405
            Route("/ovirt-engine/services/sso-logout", self.sso_logout, methods=["POST", "GET"]),
            Route("/ovirt-engine/api", self.handle, methods=methods),
            Route("/ovirt-engine/api/{path:anypath}", self.handle, methods=methods),
        ]

    # --- SSO -------------------------------------------------------------------------------------------

    async def sso_token(self, request: Request) -> Response:
        if request.method != "POST" or {"username", "password"} & set(request.query_params):
            return _sso_error("invalid_request", "Send the credentials in the body of a POST "
                              "(application/x-www-form-urlencoded), never in the URL", status=405 if
                              request.method != "POST" else 400)  # fmt: skip
        try:
            form = await self._form(request)
        except BadRequest as err:
            return _sso_error("invalid_request", err.detail)
        if form.get("grant_type") != "password":
            return _sso_error("unsupported_grant_type", "Only grant_type=password is supported")
        scope = form.get("scope", "ovirt-app-api")
        if "ovirt-app-api" not in scope.split():
            return _sso_error("invalid_scope", "The scope must include ovirt-app-api")
        username, password = form.get("username", ""), form.get("password", "")
        if not username:
            return _sso_error("invalid_request", "The username is missing")
        try:
            token, expires = await run_in_threadpool(self.auth.login, username, password, _client(request))
        except Throttled as err:
            return _sso_error("invalid_grant", str(err), status=429, retry_after=err.retry_after)
        except AuthError as err:
            return _sso_error("access_denied", str(err), status=401)
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "exp": str(int(expires.timestamp() * 1000)),
             "scope": "ovirt-app-api"}
        )  # fmt: skip

    async def sso_logout(self, request: Request) -> Response:
        try:
            form = await self._form(request)
        except BadRequest as err:
            return _sso_error("invalid_request", err.detail)
        token = form.get("token") or _bearer(request)
        if token:
            await run_in_threadpool(self.auth.logout, token)
        return JSONResponse({})

    async def _form(self, request: Request) -> dict[str, str]:
        body = await self._read_body(request)
        pairs = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        pairs.update({k: v for k, v in parse_qs(request.url.query, keep_blank_values=True).items() if k not in pairs})
        return {key: values[0] for key, values in pairs.items()}

    # --- API -------------------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        wants_json = _wants_json(request)
        try:
            principal = await self.authenticate(request)
            if request.method not in API_METHODS:
                raise MethodNotAllowed(f"{request.method} is not supported; the API answers {', '.join(API_METHODS)}")
            if principal.read_only and request.method != "GET":
                raise Forbidden(f"User '{principal.name}' is read-only and cannot change anything")
            body = await self._read_body(request)
            if body.strip():
                _body_format(request)  # an unsupported Content-Type is refused before anything else looks at the body
            status, tag, plural, payload = await run_in_threadpool(self._dispatch, request, principal, body)
            return _render(status, tag, plural, payload, wants_json)
        except MethodNotAllowed as fault:  # the Allow header lists what the path does answer (RFC 9110)
            return _fault_response(fault, wants_json, {"Allow": ", ".join(self.allowed_methods(request))})
        except Fault as fault:
            return _fault_response(fault, wants_json)
        except DataError as err:  # a value the checks let through but the database cannot store
            log.warning("database refused a value on %s %s: %s", request.method, request.url.path, err.orig)
            detail = str(err.orig).strip().splitlines()[0] if err.orig else "invalid value"
            return _fault_response(BadRequest(f"A value in the request cannot be stored: {detail}"), wants_json)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return _fault_response(Fault("Internal error; the engine log has the details", status=500), wants_json)

    async def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        try:
            if scheme.lower() == "bearer" and value:
                return self.auth.by_token(value.strip())
            if scheme.lower() == "basic" and value:
                username, password = _basic_credentials(value)
                return await run_in_threadpool(self.auth.by_basic, username, password, _client(request))
        except Throttled as err:
            raise TooManyRequests(str(err), err.retry_after) from None
        except AuthError as err:
            raise Unauthorized(str(err)) from None
        raise Unauthorized("Authentication required: send an SSO bearer token or HTTP Basic credentials")

    async def _read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            raise BadRequest(f"The request body is larger than the limit of {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise BadRequest(f"The request body is larger than the limit of {self.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def allowed_methods(self, request: Request) -> list[str]:
        """The methods the request's path answers (none if it leads nowhere)."""
        segments = _segments(request)
        if not segments:
            return ["GET"]
        try:
            target = self._resolve(segments)
        except Fault:
            return []
        if target.action is not None:
            return ["POST"]
        col = type(target.collection)
        pairs = (("GET", "list_"), ("POST", "add")) if target.entity_id is None else \
            (("GET", "get"), ("PUT", "update"), ("DELETE", "remove"))  # fmt: skip
        return [method for method, name in pairs if getattr(col, name) is not getattr(Collection, name)]

    def _dispatch(self, request: Request, principal: Principal, body: bytes) -> Reply:
        """Returns (status, element tag, collection tag or None, payload)."""
        segments = _segments(request)
        write = request.method != "GET"
        target = self._resolve(segments) if segments else None
        if target is not None and _operation(request.method, target) in target.collection.self_managed:
            ctx = Ctx(None, principal, request.query_params, self.services, self.db)
            return self._run(ctx, request, target, body)
        with self.db.transaction(write=write) as session:
            ctx = Ctx(session, principal, request.query_params, self.services, self.db)
            if target is None:
                if request.method != "GET":
                    raise MethodNotAllowed("The API root only answers GET")
                return 200, "api", None, self.root_entity(ctx)
            return self._run(ctx, request, target, body)

    def _resolve(self, segments: list[str]) -> Target:
        collection = self.roots.get(segments[0])
        if collection is None:
            raise NotFound(f"No such collection: '{segments[0]}'")
        parents: list[str] = []
        ancestors: tuple[Collection, ...] = ()
        i = 1
        while True:
            path = "/".join(segments[:i])
            if i == len(segments):
                return Target(collection, parents, None, None, path, ancestors)
            entity_id = segments[i]
            if i + 1 == len(segments):
                return Target(collection, parents, entity_id, None, path, ancestors)
            name = segments[i + 1]
            if i + 2 == len(segments) and name in collection.actions:
                return Target(collection, parents, entity_id, name, path, ancestors)
            sub = collection.subs.get(name)
            if sub is None:
                raise NotFound(f"No such sub-collection or action: '{name}'")
            _check_id(collection, entity_id)  # a malformed parent id is refused even where the parent is not read
            ancestors = (*ancestors, collection)
            collection = self._instance(sub)
            parents = [*parents, entity_id]
            i += 2

    def _instance(self, cls: type[Collection]) -> Collection:
        instance = self._instances.get(cls)
        if instance is None:
            instance = self._instances[cls] = cls()
        return instance

    def _run(self, ctx: Ctx, request: Request, target: Target, body: bytes) -> Reply:
        col = target.collection
        tdef = col.tdef()
        method = request.method
        if target.action is not None:
            if method != "POST":
                raise MethodNotAllowed(f"Action '{target.action}' needs POST")
            assert target.entity_id is not None
            _require(col, "action", f"Action '{target.action}' is not supported on {col.what}")
            action = coerce("Action", _parse(request, body, "action"))
            ctx.flag("async")
            if self.jobs is not None and _operation(method, target) in col.self_managed and _asynchronous(ctx, action):
                return self._start_job(ctx, request, target, action)
            result = col.action(ctx, target.parents, target.entity_id, target.action, action)
            return 200, "action", None, result
        if target.entity_id is None:
            if method == "GET":
                _check_list_query(ctx, col)
                follow = self.follower.wanted(ctx, col)
                listed = col.list_(ctx, target.parents)
                self.follower.apply(ctx, col, target.parents, listed, follow)
                return 200, tdef.tag, tdef.plural, listed
            if method == "POST":
                _require(col, "add", f"Adding is not supported on this {col.what} collection")
                entity = coerce(col.type_name, _parse(request, body, tdef.tag))
                return 201, tdef.tag, None, col.add(ctx, target.parents, entity)
            raise MethodNotAllowed(f"{method} is not allowed on a collection")
        if method == "GET":
            follow = self.follower.wanted(ctx, col)
            entity = col.get(ctx, target.parents, target.entity_id)
            self.follower.apply(ctx, col, target.parents, [entity], follow)
            return 200, tdef.tag, None, entity
        if method == "PUT":
            _require(col, "update", f"Updating a {col.what} is not supported")
            entity = coerce(col.type_name, _parse(request, body, tdef.tag))
            return 200, tdef.tag, None, col.update(ctx, target.parents, target.entity_id, entity)
        if method == "DELETE":
            ctx.flag("force")  # checked even where the removal does not read it
            col.remove(ctx, target.parents, target.entity_id)
            return 200, "", None, None
        raise MethodNotAllowed(f"{method} is not allowed on an entity")

    # --- async actions -----------------------------------------------------------------------------------------

    def _start_job(self, ctx: Ctx, request: Request, target: Target, action: Entity) -> Reply:
        """Run a self-managed action in the background: the answer is the action ``pending`` and its job."""
        assert self.jobs is not None and target.entity_id is not None and target.action is not None
        col, name, parents, entity_id = target.collection, target.action, target.parents, target.entity_id
        correlation_id = _correlation_id(request)
        entity = self._read(ctx, col, parents, entity_id)  # a target that does not exist is a 404 now, not a job
        description = f"Executing action {name} on {col.what} '{_label(entity, entity_id)}'"
        if target.ancestors:  # "... on vNIC 'nic1' of VM 'vm1'"
            parent = target.ancestors[-1]
            outer = self._read(ctx, parent, parents[:-1], parents[-1])
            description += f" of {parent.what} '{_label(outer, parents[-1])}'"
        job_id = start_job(self.db, description, ctx.principal, name, target.path, str(entity.get("id") or entity_id),
                           correlation_id)  # fmt: skip
        principal, query = ctx.principal, ctx.query

        def work() -> None:
            worker = Ctx(None, principal, query, self.services, self.db)
            col.action(worker, parents, entity_id, name, action)

        try:
            self.jobs.submit(lambda: run_job(self.db, job_id, work), lambda: end_job(self.db, job_id, ABORTED, NOT_RUN))
        except JobsStopped:
            forget_job(self.db, job_id)
            raise Fault("The engine is stopping and takes no new jobs; send the request again once it is back",
                        reason="Service Unavailable", status=503) from None  # fmt: skip
        return 202, "action", None, {"status": "pending", "job": ref("jobs", job_id)}

    def _read(self, ctx: Ctx, col: Collection, parents: list[str], entity_id: str) -> Entity:
        """The entity as ``GET`` renders it, read in a short transaction of its own (or none, if its ``get`` manages
        its own); a 404 fault if it does not exist."""
        if type(col).get is Collection.get:
            return {"id": entity_id}
        if "get" in col.self_managed:
            return col.get(Ctx(None, ctx.principal, ctx.query, self.services, self.db), parents, entity_id)
        with self.db.transaction(write=False) as session:
            return col.get(Ctx(session, ctx.principal, ctx.query, self.services, self.db), parents, entity_id)


def _check_id(col: Collection, entity_id: str) -> None:
    if col.id_kind == "uuid":
        parse_uuid(entity_id, col.what)
    elif not entity_id.isascii() or not entity_id.isdigit():
        raise BadRequest(f"Invalid {col.what} id '{entity_id}': it must be a whole number")


def _segments(request: Request) -> list[str]:
    segments = [s for s in request.path_params.get("path", "").split("/") if s]
    if segments[:1] == ["v4"]:  # /ovirt-engine/api/v4/... is the same API, pinned to version 4
        segments = segments[1:]
    return segments


def _operation(method: str, target: Target) -> str:
    """The name of the collection operation a request runs (as listed in ``Collection.self_managed``)."""
    if target.action is not None:
        return f"action:{target.action}"
    if target.entity_id is None:
        return {"GET": "list_", "POST": "add"}.get(method, "")
    return {"GET": "get", "PUT": "update", "DELETE": "remove"}.get(method, "")


def _asynchronous(ctx: Ctx, action: Entity) -> bool:
    """The client asks for the action to run in the background: ``<async>true</async>`` or ``?async=true``."""
    return action.get("async") is True or ctx.flag("async")


def _correlation_id(request: Request) -> str | None:
    """The client's correlation id (``?correlation_id=`` or the ``Correlation-Id`` header), kept with the job."""
    value = request.query_params.get("correlation_id") or request.headers.get("correlation-id")
    if not value:
        return None
    if not _CORRELATION_ID.fullmatch(value):
        raise BadRequest("The correlation id must be 1 to 64 letters, digits, '.', '_', ':' or '-'")
    return value


def _label(entity: Entity, fallback: str) -> str:
    """How a job's description names an object: its name, else its description (snapshots), else its id."""
    return str(entity.get("name") or entity.get("description") or fallback)


def _require(col: Collection, method: str, message: str) -> None:
    """Refuse a method the collection does not implement before its body is even parsed."""
    if getattr(type(col), method) is getattr(Collection, method):
        raise MethodNotAllowed(message)


def _check_list_query(ctx: Ctx, col: Collection) -> None:
    # Checked here, not left to each collection: a search that a collection ignored would match everything
    search = ctx.query.get("search")
    if search and search.strip() and col.search_fields is None:
        raise BadRequest(f"The {col.what} collection does not support search")
    ctx.max_results()
    ctx.flag("case_sensitive", True)


def _parse(request: Request, body: bytes, tag: str) -> Any:
    if not body.strip():
        return {}
    if _body_format(request) == "json":
        return codec.parse_json(body, tag)
    return codec.parse_xml(body, tag)


def _body_format(request: Request) -> str:
    """``xml`` or ``json``, from the Content-Type (XML when there is none, as oVirt assumes); 415 for anything else."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    found = BODY_TYPES.get(media_type or "application/xml")
    if found is None:
        accepted = ", ".join(BODY_TYPES)
        raise UnsupportedMediaType(f"The request body's Content-Type '{media_type}' is not supported; send one of: "
                                   f"{accepted}")  # fmt: skip
    return found


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    if "json" in accept and "xml" not in accept:
        return True
    if "xml" in accept:
        return False
    return "json" in request.headers.get("content-type", "").lower()


def _render(status: int, tag: str, plural: str | None, payload: Any, wants_json: bool) -> Response:
    if payload is None:
        return Response(b"", status_code=status, media_type=JSON if wants_json else XML)
    if wants_json:
        body = codec.render_json_collection(tag, payload) if plural else codec.render_json(payload)
        return Response(body, status_code=status, media_type=JSON)
    body = codec.render_xml_collection(plural, tag, payload) if plural else codec.render_xml(tag, payload)
    return Response(body, status_code=status, media_type=XML)


def _fault_response(fault: Fault, wants_json: bool, headers: dict[str, str] | None = None) -> Response:
    payload = {"reason": fault.reason, "detail": fault.detail}
    if fault.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="extnet"'}
    if isinstance(fault, TooManyRequests):
        headers = {"Retry-After": str(fault.retry_after)}
    if wants_json:
        return Response(codec.render_json(payload), status_code=fault.status, media_type=JSON, headers=headers)
    return Response(codec.render_xml("fault", payload), status_code=fault.status, media_type=XML, headers=headers)


def _sso_error(code: str, description: str, status: int = 400, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    if status == 405:
        headers = {"Allow": "POST"}
    return JSONResponse({"error": code, "error_description": description}, status_code=status, headers=headers)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value else None


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("Malformed HTTP Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthError("Malformed HTTP Basic credentials")
    return username, password


__all__ = ["ApiDispatcher", "TYPES"]
