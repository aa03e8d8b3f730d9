"""The Networking API v2.0 over HTTP: a plain ASGI application (routing by path segments), authentication by
``X-Auth-Token``, one backend transaction per request (retried when the store reports a concurrent conflict), and
Neutron's JSON documents and errors."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool

from extnet.provider.api import query as query_parser
from extnet.provider.api import tags_api
from extnet.provider.api.extensions import EXTENSIONS
from extnet.provider.api.host_access import host_agent_access, is_host_agent
from extnet.provider.api.routes import EXTRA_ROUTES
from extnet.provider.api.spec import MAPPERS, RESOURCES, Mapper
from extnet.provider.api.wire import JSON, Request, Response, field_names, not_allowed, not_found, ok
from extnet.provider.drivers.base import Changes, MechanismDriver, RecordingTx
from extnet.provider.drivers.ovs_agent import OvsAgentDriver
from extnet.provider.errors import NeutronError, bad_request
from extnet.provider.identity.errors import IdentityError
from extnet.provider.identity.service import Identity, Principal
from extnet.provider.service import agents, floatingips, networks, ports, rbac, routers, security_groups, subnets
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.service.config import NetConfig
from extnet.provider.settings import ProviderSettings
from extnet.provider.store.backend import Backend, Page, Record, StoreBusy, StoreConflict

log = logging.getLogger("extnet.provider.api")
T = TypeVar("T")
ATTEMPTS = 12
MAX_LIMIT = 2**31 - 2


@dataclass(frozen=True)
class Handlers:
    """What the service layer offers for one collection."""

    get: Callable[[Ctx, str, frozenset[str] | None], Record]
    listing: Callable[[Ctx, ListRequest, frozenset[str] | None], Page]
    create: Callable[[Ctx, list[dict[str, Any]]], list[Record]] | None
    update: Callable[[Ctx, str, dict[str, Any], int | None], Record] | None
    delete: Callable[[Ctx, str, int | None], None] | None


HANDLERS: dict[str, Handlers] = {
    "networks": Handlers(networks.get, networks.listing, networks.create, networks.update, networks.delete),
    "subnets": Handlers(subnets.get, subnets.listing, subnets.create, subnets.update, subnets.delete),
    "ports": Handlers(ports.get, ports.listing, ports.create, ports.update, ports.delete),
    "security-groups": Handlers(
        security_groups.get,
        security_groups.listing,
        security_groups.create,
        security_groups.update,
        security_groups.delete,
    ),
    "security-group-rules": Handlers(
        security_groups.get_rule,
        security_groups.list_rules,
        security_groups.create_rules,
        security_groups.update_rule,
        security_groups.delete_rule,
    ),
    "routers": Handlers(routers.get, routers.listing, routers.create, routers.update, routers.delete),
    "agents": Handlers(agents.get, agents.listing, None, agents.update, agents.delete),
    "rbac-policies": Handlers(rbac.get, rbac.listing, rbac.create, rbac.update, rbac.delete),
    "floatingips": Handlers(
        floatingips.get, floatingips.listing, floatingips.create, floatingips.update, floatingips.delete
    ),
}


class NeutronApi:
    def __init__(
        self, backend: Backend, identity: Identity, settings: ProviderSettings, driver: MechanismDriver | None = None
    ) -> None:
        self.backend = backend
        self.driver: MechanismDriver = driver or OvsAgentDriver()
        self.identity = identity
        self.settings = settings
        self.config = NetConfig.from_settings(settings)
        self.auth_none = settings.auth == "none"
        self.noauth_principal = identity.service_principal() if self.auth_none else None
        self.www_authenticate = f'Keystone uri="{settings.identity_url()}"'.encode()
        # SQLite lets one transaction write at a time, and the GIL lets one thread run Python: handing requests to
        # worker threads then only adds latency. PostgreSQL gains from overlapping its round trips.
        self.inline = not getattr(backend, "postgres", False)

    # --- ASGI --------------------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        status, body, extra = await self._respond(scope, receive, headers)
        request_id = b"req-" + str(uuid.uuid4()).encode()
        out = [*extra, (b"content-length", str(len(body)).encode()), (b"x-openstack-request-id", request_id)]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})

    async def _respond(self, scope: dict[str, Any], receive: Any, headers: dict[bytes, bytes]) -> Response:
        try:
            body = await self._read_body(receive, headers)
            path = scope["path"]
            if path.endswith(".json"):
                path = path[:-5]
            parts = [part for part in path.split("/") if part]
            if "\x00" in path:
                raise bad_request("The path contains invalid characters")
            query = scope.get("query_string", b"").decode("utf-8", "replace")
            params = parse_qsl(query, keep_blank_values=True)
            if "\x00" in query or any("\x00" in key or "\x00" in value for key, value in params):
                raise bad_request("The query string contains invalid characters")
            host = headers.get(b"host", b"localhost").decode("latin-1")
            base = f"{scope.get('scheme', 'http')}://{host}"
            request = Request(scope["method"], parts, params, headers, body, base)
            if not parts:
                return self._versions(request)
            principal = self._principal(headers)
            if principal is None:
                principal = await run_in_threadpool(self._principal_slow, headers)
            if self.inline:
                return self._dispatch(request, principal)
            return await run_in_threadpool(self._dispatch, request, principal)
        except NeutronError as err:
            return _error(err)
        except IdentityError as err:
            return self._unauthorized(err)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            return _error(
                NeutronError(
                    500,
                    "HTTPInternalServerError",
                    "Request Failed: internal server error while processing your request.",
                )
            )

    async def _read_body(self, receive: Any, headers: dict[bytes, bytes]) -> bytes:
        limit = self.settings.max_body_bytes
        length = headers.get(b"content-length")
        if length and length.isdigit() and int(length) > limit:
            raise NeutronError(413, "HTTPRequestEntityTooLarge", f"Request is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise NeutronError(413, "HTTPRequestEntityTooLarge", f"Request is larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    # --- authentication ----------------------------------------------------------------------------------------

    def _principal(self, headers: dict[bytes, bytes]) -> Principal | None:
        if self.noauth_principal is not None:
            return self.noauth_principal
        token = headers.get(b"x-auth-token")
        if not token:
            raise IdentityError(401, "The request you have made requires authentication.")
        return _scoped(self.identity.cached(token.decode("latin-1")))

    def _principal_slow(self, headers: dict[bytes, bytes]) -> Principal:
        principal = _scoped(self.identity.validate(headers[b"x-auth-token"].decode("latin-1")))
        assert principal is not None
        return principal

    def _unauthorized(self, err: IdentityError) -> Response:
        body = {
            "error": {
                "code": 401,
                "title": "Unauthorized",
                "message": "The request you have made requires authentication.",
            }
        }
        return 401, orjson.dumps(body), [*JSON, (b"www-authenticate", self.www_authenticate)]

    # --- routing -----------------------------------------------------------------------------------------------

    def _versions(self, request: Request) -> Response:
        if request.method != "GET":
            raise NeutronError(405, "HTTPMethodNotAllowed", "The method is not allowed for this resource.")
        doc = {
            "versions": [
                {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": f"{request.base}/v2.0/"}]}
            ]
        }
        return 200, orjson.dumps(doc), JSON

    def _dispatch(self, request: Request, principal: Principal) -> Response:
        parts = request.parts
        if parts[0] != "v2.0":
            raise not_found()
        rest = parts[1:]
        if is_host_agent(principal):
            principal = host_agent_access(request.method, rest, principal)
        if not rest:
            return self._resources(request)
        collection = rest[0]
        if collection == "extensions":
            return self._extensions(request, rest[1:])
        if collection in EXTRA_ROUTES:
            return EXTRA_ROUTES[collection](self, request, principal, rest[1:])
        if collection not in HANDLERS:
            raise not_found()
        mapper, handlers = MAPPERS[collection], HANDLERS[collection]
        if len(rest) == 1:
            if request.method == "GET":
                return self._list(request, principal, mapper, handlers)
            if request.method == "POST" and handlers.create is not None:
                return self._create(request, principal, mapper, handlers)
            raise not_allowed()
        if collection == "agents" and rest[1] == "heartbeat" and len(rest) == 2 and request.method == "POST":
            return self._heartbeat(request, principal)
        id_ = rest[1]
        if len(rest) == 2:
            return self._member(request, principal, mapper, handlers, id_)
        if (
            collection == "routers"
            and len(rest) == 3
            and rest[2] in ("add_router_interface", "remove_router_interface")
        ):
            return self._interface(request, principal, id_, rest[2])
        if rest[2] == "tags" and mapper.spec.taggable and len(rest) in (3, 4):
            return tags_api.handle(self, request, principal, mapper.spec, id_, rest[3] if len(rest) == 4 else None)
        raise not_found()

    def _member(self, request: Request, principal: Principal, mapper: Mapper, handlers: Handlers, id_: str) -> Response:
        admin = principal.is_admin
        if request.method == "GET":
            fields = field_names(request.params)
            record = self.run(False, principal, lambda ctx: handlers.get(ctx, id_, mapper.record_fields(fields)))
            return ok({mapper.spec.singular: mapper.render(record, admin, fields)})
        if request.method == "PUT" and handlers.update is not None:
            values = mapper.update(request.json(), admin)
            if_match = _if_match(request.headers)
            update = handlers.update
            record = self.run(True, principal, lambda ctx: update(ctx, id_, dict(values), if_match))
            return ok({mapper.spec.singular: mapper.render(record, admin, field_names(request.params))})
        if request.method == "DELETE" and handlers.delete is not None:
            if_match = _if_match(request.headers)
            delete = handlers.delete
            self.run(True, principal, lambda ctx: delete(ctx, id_, if_match))
            return 204, b"", []
        raise not_allowed()

    # --- collections -------------------------------------------------------------------------------------------

    def _list(self, request: Request, principal: Principal, mapper: Mapper, handlers: Handlers) -> Response:
        spec = mapper.spec
        parsed = query_parser.parse(spec, request.params)
        if parsed.limit is not None:
            parsed.limit = min(parsed.limit, MAX_LIMIT)
        want = mapper.record_fields(parsed.fields)
        if spec.path == "security-groups" and principal.project_id:
            self._ensure_default_group(principal)
        page = self.run(False, principal, lambda ctx: handlers.listing(ctx, parsed, want))
        admin = principal.is_admin
        fields = parsed.fields
        render = mapper.render
        doc: dict[str, Any] = {spec.plural: [render(record, admin, fields) for record in page.records]}
        if parsed.limit is not None:
            doc[f"{spec.plural}_links"] = query_parser.links(request.base, spec.path, parsed, page)
        return ok(doc)

    def _ensure_default_group(self, principal: Principal) -> None:
        project = principal.project_id or ""
        if not self.run(False, principal, lambda ctx: security_groups.has_default(ctx, project)):
            self.run(True, principal, lambda ctx: security_groups.ensure_default(ctx, project))

    def _create(self, request: Request, principal: Principal, mapper: Mapper, handlers: Handlers) -> Response:
        admin = principal.is_admin
        items, bulk = mapper.items(request.json())
        values = [mapper.create(item, admin) for item in items]
        create = handlers.create
        assert create is not None
        records = self.run(True, principal, lambda ctx: create(ctx, [dict(v) for v in values]))
        rendered = [mapper.render(record, admin) for record in records]
        doc = {mapper.spec.plural: rendered} if bulk else {mapper.spec.singular: rendered[0]}
        return 201, orjson.dumps(doc), JSON

    def _resources(self, request: Request) -> Response:
        resources = [
            {
                "name": spec.singular,
                "collection": spec.plural,
                "links": [{"rel": "self", "href": f"{request.base}/v2.0/{spec.path}"}],
            }
            for spec in RESOURCES.values()
        ]
        return ok({"resources": resources})

    def _extensions(self, request: Request, rest: list[str]) -> Response:
        if request.method != "GET" or len(rest) > 1:
            raise not_allowed() if len(rest) <= 1 else not_found()
        if not rest:
            return ok({"extensions": EXTENSIONS})
        for extension in EXTENSIONS:
            if extension["alias"] == rest[0]:
                return ok({"extension": extension})
        raise NeutronError(404, "HTTPNotFound", f"Extension with alias {rest[0]} does not exist")

    # --- special members ---------------------------------------------------------------------------------------

    def _heartbeat(self, request: Request, principal: Principal) -> Response:
        body = request.json()
        beat = self.run(True, principal, lambda ctx: agents.heartbeat(ctx, body))
        answer: dict[str, Any] = {"agent": MAPPERS["agents"].render(beat.agent, True)}
        followed = beat.followed
        if beat.resync is None:  # an agent without digests: every port that followed, by name
            answer["device_status"] = followed.statuses()
        else:  # only what is not ACTIVE: a full report of a healthy host answers in a few bytes, not a list of all
            answer |= {"device_status": dict.fromkeys(followed.down, "DOWN"), "device_status_omits_active": True,
                       "devices_not_bound": sorted(followed.ignored), "devices_resync": beat.resync}  # fmt: skip
        return (201 if beat.created else 200), orjson.dumps(answer), JSON

    def _interface(self, request: Request, principal: Principal, router_id: str, action: str) -> Response:
        if request.method != "PUT":
            raise not_allowed()
        body = request.json()
        act = routers.add_interface if action == "add_router_interface" else routers.remove_interface
        return ok(self.run(True, principal, lambda ctx: act(ctx, router_id, body)))

    # --- transactions ------------------------------------------------------------------------------------------

    def run(self, write: bool, principal: Principal, work: Callable[[Ctx], T]) -> T:
        """``work`` in one backend transaction; retried when the store reports a conflict with a concurrent
        request (the retry then sees what the other request did and reports it properly)."""
        for attempt in range(ATTEMPTS):
            try:
                changes = Changes()
                with self.backend.transaction(write) as tx:
                    result = work(Ctx(RecordingTx(tx, changes) if write else tx, principal, self.config))
                if changes:
                    self.driver.after_commit(changes)
                return result
            except (StoreConflict, StoreBusy) as err:
                if attempt == ATTEMPTS - 1:
                    log.warning("giving up after %d attempts: %s", ATTEMPTS, err)
                    raise NeutronError(
                        409,
                        "Conflict",
                        "The request conflicts with concurrent changes to the same resources; retry it.",
                    ) from err
                time.sleep(random.uniform(0, 0.002 * (2 ** min(attempt, 6))))
        raise AssertionError("unreachable")


def _scoped(principal: Principal | None) -> Principal | None:
    """Networking calls need a project-scoped token."""
    if principal is not None and principal.project_id is None:
        raise IdentityError(401, "The token is not scoped to a project.")
    return principal


def _if_match(headers: dict[bytes, bytes]) -> int | None:
    """``If-Match: revision_number=N`` (anything else is ignored, as Neutron does)."""
    value = headers.get(b"if-match")
    if not value:
        return None
    for part in value.decode("latin-1").split(","):
        name, _, number = part.strip().partition("=")
        if name == "revision_number" and number.strip().isdigit():
            return int(number)
    return None


def _error(err: NeutronError) -> Response:
    body = {"NeutronError": {"type": err.type, "message": err.message, "detail": ""}}
    return err.status, orjson.dumps(body), JSON


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
