"""The Identity API (Keystone) subset real clients need: v3 password/token auth with a service catalog, token
validation and revocation, the v2.0 token call, version discovery, and projects/users/roles for an admin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from extnet.provider.identity.assignments import AssignmentQuery
from extnet.provider.identity.bodies import read_body
from extnet.provider.identity.errors import DEFAULT_DOMAIN, IdentityError, unauthorized
from extnet.provider.identity.service import Identity, Principal
from extnet.provider.settings import ProviderSettings

Handler = Callable[[Request], Awaitable[Response]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def _error(err: IdentityError) -> Response:
    headers = {"WWW-Authenticate": 'Keystone uri=""'} if err.code == 401 else None
    return _json({"error": {"code": err.code, "title": err.title, "message": err.message}}, err.code, headers)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class Keystone:
    def __init__(self, identity: Identity, settings: ProviderSettings) -> None:
        self.identity = identity
        self.settings = settings
        self.network_url = settings.network_url()
        self.identity_url = settings.identity_url()

    def app(self) -> Starlette:
        r = self._route
        routes = [
            Route("/", r(self.versions), methods=["GET"]),
            Route("/v3", r(self.v3_version), methods=["GET"]),
            Route("/v3/", r(self.v3_version), methods=["GET"]),
            Route("/v2.0", r(self.v2_version), methods=["GET"]),
            Route("/v2.0/", r(self.v2_version), methods=["GET"]),
            Route("/v3/auth/tokens", r(self.tokens), methods=["POST", "GET", "HEAD", "DELETE"]),
            Route("/v3/auth/catalog", r(self.auth_catalog), methods=["GET"]),
            Route("/v3/auth/projects", r(self.auth_projects), methods=["GET"]),
            Route("/v2.0/tokens", r(self.v2_tokens), methods=["POST"]),
            Route("/v2.0/tenants", r(self.v2_tenants), methods=["GET"]),
            Route("/v3/domains", r(self.domains), methods=["GET"]),
            Route("/v3/domains/{domain_id}", r(self.domain), methods=["GET"]),
            Route("/v3/projects", r(self.projects), methods=["GET", "POST"]),
            Route("/v3/projects/{project_id}", r(self.project), methods=["GET", "PATCH", "DELETE"]),
            Route("/v3/users", r(self.users), methods=["GET", "POST"]),
            Route("/v3/users/{user_id}", r(self.user), methods=["GET", "PATCH", "DELETE"]),
            Route("/v3/users/{user_id}/projects", r(self.user_projects), methods=["GET"]),
            Route("/v3/roles", r(self.roles), methods=["GET"]),
            Route("/v3/roles/{role_id}", r(self.role), methods=["GET"]),
            Route("/v3/projects/{project_id}/users/{user_id}/roles", r(self.assignments), methods=["GET"]),
            Route(
                "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
                r(self.assignment),
                methods=["PUT", "HEAD", "DELETE"],
            ),
            Route("/v3/role_assignments", r(self.role_assignments), methods=["GET"]),
            Route("/v3/services", r(self.services), methods=["GET"]),
            Route("/v3/endpoints", r(self.endpoints), methods=["GET"]),
        ]
        return Starlette(routes=routes)

    def _route(self, handler: Handler) -> Handler:
        limit = self.settings.keystone_max_body_bytes

        async def wrapped(request: Request) -> Response:
            request.state.max_body_bytes = limit
            try:
                return await handler(request)
            except IdentityError as err:
                return _error(err)

        return wrapped

    # --- discovery ---------------------------------------------------------------------------------------------

    def _v3_doc(self) -> dict[str, Any]:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.identity_url}/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        }

    def _v2_doc(self) -> dict[str, Any]:
        return {
            "id": "v2.0",
            "status": "deprecated",
            "updated": "2016-08-04T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.identity_url}/v2.0/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json"}],
        }

    async def versions(self, request: Request) -> Response:
        return _json({"versions": {"values": [self._v3_doc(), self._v2_doc()]}}, 300)

    async def v3_version(self, request: Request) -> Response:
        return _json({"version": self._v3_doc()})

    async def v2_version(self, request: Request) -> Response:
        return _json({"version": self._v2_doc()})

    # --- v3 tokens ---------------------------------------------------------------------------------------------

    async def tokens(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._issue_v3(request)
        caller = await self._caller(request)
        subject = request.headers.get("x-subject-token", "")
        if not subject:
            raise IdentityError(400, "The X-Subject-Token header is required.")
        try:
            principal = await run_in_threadpool(self.identity.validate, subject)
        except IdentityError:
            raise IdentityError(404, f"Could not find token: {subject}.") from None
        if principal.user_id != caller.user_id and not caller.is_admin:
            raise IdentityError(403, "You are not authorized to perform the requested action: identity:validate_token.")
        if request.method == "DELETE":
            await run_in_threadpool(self.identity.revoke, subject)
            return Response(status_code=204)
        if request.method == "HEAD":
            return Response(status_code=200, headers={"X-Subject-Token": subject})
        nocatalog = "nocatalog" in request.query_params
        return _json(self._v3_token(principal, not nocatalog), headers={"X-Subject-Token": subject})

    async def _issue_v3(self, request: Request) -> Response:
        body = await read_body(request)
        auth = _dict(_dict(body, "auth"), "identity")
        methods = auth.get("methods")
        if not isinstance(methods, list) or not methods:
            raise IdentityError(400, "Expecting to find methods in identity.")
        scope = _v3_scope(_dict(body, "auth").get("scope"))
        if "password" in methods:
            password = _dict(auth, "password")
            user = _dict(password, "user")
            secret = user.get("password")
            if not isinstance(secret, str):
                raise IdentityError(400, "Expecting to find password in user.")
            token, principal = await run_in_threadpool(self.identity.authenticate, user, secret, scope, methods,
                                                       _client(request))  # fmt: skip
        elif "token" in methods:
            old = _dict(auth, "token").get("id")
            if not isinstance(old, str):
                raise IdentityError(400, "Expecting to find id in token.")
            token, principal = await run_in_threadpool(self.identity.rescope, old, scope)
        else:
            raise IdentityError(401, f"Unsupported authentication method: {methods}")
        nocatalog = "nocatalog" in request.query_params
        return _json(self._v3_token(principal, not nocatalog), 201, {"X-Subject-Token": token})

    def _v3_token(self, p: Principal, with_catalog: bool) -> dict[str, Any]:
        token: dict[str, Any] = {
            "methods": list(p.methods),
            "user": {"id": p.user_id, "name": p.user_name, "domain": DEFAULT_DOMAIN, "password_expires_at": None},
            "audit_ids": [p.audit_id],
            "issued_at": _iso(p.issued_at),
            "expires_at": _iso(p.expires_at),
        }
        if p.project_id:
            token["project"] = {"id": p.project_id, "name": p.project_name, "domain": DEFAULT_DOMAIN}
            token["is_domain"] = False
            token["roles"] = [{"id": rid, "name": name} for rid, name in p.roles]
            if with_catalog:
                token["catalog"] = self._v3_catalog()
        return {"token": token}

    def _v3_catalog(self) -> list[dict[str, Any]]:
        region = self.settings.region
        services = [
            ("identity", "keystone", f"{self.identity_url}/v3", "ks"),
            ("network", "neutron", self.network_url, "nw"),
        ]
        return [
            {
                "id": f"{short}-service",
                "type": kind,
                "name": name,
                "endpoints": [
                    {"id": f"{short}-{iface}", "interface": iface, "region_id": region, "region": region, "url": url}
                    for iface in ("public", "internal", "admin")
                ],
            }
            for kind, name, url, short in services
        ]

    async def auth_catalog(self, request: Request) -> Response:
        await self._caller(request)
        return _json({"catalog": self._v3_catalog(), "links": {"self": f"{self.identity_url}/v3/auth/catalog"}})

    async def auth_projects(self, request: Request) -> Response:
        caller = await self._caller(request)
        projects = await run_in_threadpool(self.identity.projects_of, caller.user_id)
        return _json({"projects": projects, "links": {"self": f"{self.identity_url}/v3/auth/projects"}})

    # --- v2.0 --------------------------------------------------------------------------------------------------

    async def v2_tokens(self, request: Request) -> Response:
        auth = _dict(await read_body(request), "auth")
        scope: dict[str, Any] | None = None
        if auth.get("tenantId"):
            scope = {"id": str(auth["tenantId"])}
        elif auth.get("tenantName"):
            scope = {"name": str(auth["tenantName"]), "domain": {"id": "default"}}
        if "passwordCredentials" in auth:
            creds = _dict(auth, "passwordCredentials")
            user = (
                {"id": creds["userId"]}
                if creds.get("userId")
                else {"name": creds.get("username"), "domain": {"id": "default"}}
            )
            password = creds.get("password")
            if not isinstance(password, str):
                raise IdentityError(400, "Expecting to find password in passwordCredentials.")
            token, principal = await run_in_threadpool(self.identity.authenticate, user, password, scope,
                                                       ("password",), _client(request))  # fmt: skip
        elif "token" in auth:
            old = _dict(auth, "token").get("id")
            if not isinstance(old, str):
                raise IdentityError(400, "Expecting to find id in token.")
            token, principal = await run_in_threadpool(self.identity.rescope, old, scope)
        else:
            raise IdentityError(400, "Expecting passwordCredentials or token in auth.")
        return _json(self._v2_access(token, principal))

    def _v2_access(self, token: str, p: Principal) -> dict[str, Any]:
        region = self.settings.region
        token_doc: dict[str, Any] = {
            "id": token,
            "issued_at": _iso(p.issued_at),
            "expires": p.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "audit_ids": [p.audit_id],
        }
        access: dict[str, Any] = {
            "token": token_doc,
            "user": {
                "id": p.user_id,
                "name": p.user_name,
                "username": p.user_name,
                "roles_links": [],
                "roles": [{"name": name} for _, name in p.roles],
            },
            "metadata": {"is_admin": 0, "roles": [rid for rid, _ in p.roles]},
            "serviceCatalog": [],
        }
        if p.project_id:
            token_doc["tenant"] = {"id": p.project_id, "name": p.project_name, "description": "", "enabled": True}
            access["serviceCatalog"] = [
                {
                    "type": kind,
                    "name": name,
                    "endpoints_links": [],
                    "endpoints": [
                        {"id": f"{short}-v2", "region": region, "publicURL": url, "internalURL": url, "adminURL": url}
                    ],
                }
                for kind, name, url, short in (
                    ("identity", "keystone", f"{self.identity_url}/v2.0", "ks"),
                    ("network", "neutron", self.network_url, "nw"),
                )
            ]
        return {"access": access}

    async def v2_tenants(self, request: Request) -> Response:
        caller = await self._caller(request)
        projects = await run_in_threadpool(self.identity.projects_of, caller.user_id)
        tenants = [
            {"id": p["id"], "name": p["name"], "description": p["description"], "enabled": p["enabled"]}
            for p in projects
        ]
        return _json({"tenants": tenants, "tenants_links": []})

    # --- registry ----------------------------------------------------------------------------------------------

    async def domains(self, request: Request) -> Response:
        await self._caller(request)
        domain = self._domain_doc()
        name = request.query_params.get("name")
        return _json({"domains": [domain] if name in (None, domain["name"]) else [], "links": {}})

    async def domain(self, request: Request) -> Response:
        await self._caller(request)
        if request.path_params["domain_id"] != "default":
            raise IdentityError(404, f"Could not find domain: {request.path_params['domain_id']}.")
        return _json({"domain": self._domain_doc()})

    def _domain_doc(self) -> dict[str, Any]:
        return {
            **DEFAULT_DOMAIN,
            "description": "The default domain",
            "enabled": True,
            "tags": [],
            "options": {},
            "links": {"self": f"{self.identity_url}/v3/domains/default"},
        }

    async def projects(self, request: Request) -> Response:
        caller = await self._caller(request)
        if request.method == "POST":
            _require_admin(caller, "identity:create_project")
            body = _dict(await read_body(request), "project")
            _check_domain(body)
            return _json({"project": await run_in_threadpool(self.identity.create_project, body)}, 201)
        _require_admin(caller, "identity:list_projects")
        name = request.query_params.get("name")
        return _json({"projects": await run_in_threadpool(self.identity.list_projects, name), "links": {}})

    async def project(self, request: Request) -> Response:
        caller = await self._caller(request)
        project_id = request.path_params["project_id"]
        if request.method == "GET":
            if caller.project_id != project_id:
                _require_admin(caller, "identity:get_project")
            return _json({"project": await run_in_threadpool(self.identity.get_project, project_id)})
        if request.method == "PATCH":
            _require_admin(caller, "identity:update_project")
            body = _dict(await read_body(request), "project")
            return _json({"project": await run_in_threadpool(self.identity.update_project, project_id, body)})
        _require_admin(caller, "identity:delete_project")
        await run_in_threadpool(self.identity.delete_project, project_id)
        return Response(status_code=204)

    async def users(self, request: Request) -> Response:
        caller = await self._caller(request)
        if request.method == "POST":
            _require_admin(caller, "identity:create_user")
            body = _dict(await read_body(request), "user")
            _check_domain(body)
            return _json({"user": await run_in_threadpool(self.identity.create_user, body)}, 201)
        _require_admin(caller, "identity:list_users")
        name = request.query_params.get("name")
        return _json({"users": await run_in_threadpool(self.identity.list_users, name), "links": {}})

    async def user(self, request: Request) -> Response:
        caller = await self._caller(request)
        user_id = request.path_params["user_id"]
        if request.method == "GET":
            if caller.user_id != user_id:
                _require_admin(caller, "identity:get_user")
            return _json({"user": await run_in_threadpool(self.identity.get_user, user_id)})
        if request.method == "PATCH":
            _require_admin(caller, "identity:update_user")
            body = _dict(await read_body(request), "user")
            return _json({"user": await run_in_threadpool(self.identity.update_user, user_id, body)})
        _require_admin(caller, "identity:delete_user")
        await run_in_threadpool(self.identity.delete_user, user_id)
        return Response(status_code=204)

    async def user_projects(self, request: Request) -> Response:
        caller = await self._caller(request)
        user_id = request.path_params["user_id"]
        if caller.user_id != user_id:
            _require_admin(caller, "identity:list_user_projects")
        return _json({"projects": await run_in_threadpool(self.identity.projects_of, user_id), "links": {}})

    async def roles(self, request: Request) -> Response:
        await self._caller(request)
        name = request.query_params.get("name")
        return _json({"roles": await run_in_threadpool(self.identity.list_roles, name), "links": {}})

    async def role(self, request: Request) -> Response:
        await self._caller(request)
        return _json({"role": await run_in_threadpool(self.identity.get_role, request.path_params["role_id"])})

    async def assignments(self, request: Request) -> Response:
        caller = await self._caller(request)
        _require_admin(caller, "identity:list_grants")
        p = request.path_params
        roles = await run_in_threadpool(self.identity.assigned_roles, p["project_id"], p["user_id"])
        return _json({"roles": roles, "links": {}})

    async def assignment(self, request: Request) -> Response:
        caller = await self._caller(request)
        p = request.path_params
        args = (p["project_id"], p["user_id"], p["role_id"])
        if request.method == "HEAD":
            _require_admin(caller, "identity:check_grant")
            found = await run_in_threadpool(self.identity.has_assignment, *args)
            return Response(status_code=204 if found else 404)
        _require_admin(caller, "identity:create_grant" if request.method == "PUT" else "identity:revoke_grant")
        if request.method == "PUT":
            await run_in_threadpool(self.identity.assign, *args)
        else:
            await run_in_threadpool(self.identity.unassign, *args)
        return Response(status_code=204)

    async def role_assignments(self, request: Request) -> Response:
        caller = await self._caller(request)
        query = AssignmentQuery.parse(request.query_params.multi_items())
        if query.include_subtree:
            project_id = query.value("scope.project.id")
            if project_id:  # Keystone looks the project up before its policy check
                await run_in_threadpool(self.identity.get_project, project_id)
            _require_admin(caller, "identity:list_role_assignments_for_tree")
        else:
            _require_admin(caller, "identity:list_role_assignments")
        query.check_combinations()
        base = f"{self.identity_url}/v3"
        found = await run_in_threadpool(self.identity.role_assignments, query, base)
        own = f"{base}/role_assignments" + (f"?{request.url.query}" if request.url.query else "")
        return _json({"role_assignments": found, "links": {"self": own, "previous": None, "next": None}})

    async def services(self, request: Request) -> Response:
        await self._caller(request)
        kind = request.query_params.get("type")
        services = [
            {"id": s["id"], "type": s["type"], "name": s["name"], "enabled": True}
            for s in self._v3_catalog()
            if kind in (None, s["type"])
        ]
        return _json({"services": services, "links": {}})

    async def endpoints(self, request: Request) -> Response:
        await self._caller(request)
        endpoints = [{**e, "service_id": s["id"], "enabled": True} for s in self._v3_catalog() for e in s["endpoints"]]
        return _json({"endpoints": endpoints, "links": {}})

    async def _caller(self, request: Request) -> Principal:
        token = request.headers.get("x-auth-token")
        if not token:
            raise unauthorized()
        return await run_in_threadpool(self.identity.validate, token)


def _require_admin(caller: Principal, action: str) -> None:
    if not caller.is_admin:
        raise IdentityError(403, f"You are not authorized to perform the requested action: {action}.")


def _check_domain(body: dict[str, Any]) -> None:
    if body.get("domain_id") not in (None, "default"):
        raise IdentityError(400, f"Could not find domain: {body['domain_id']}.")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise IdentityError(400, f"Expecting to find {key} in request.")
    return value


def _v3_scope(scope: Any) -> dict[str, Any] | None:
    if scope is None:
        return None
    if not isinstance(scope, dict):
        raise IdentityError(400, "Expecting scope to be an object.")
    if "project" in scope:
        return _dict(scope, "project")
    raise IdentityError(401, "Only project-scoped tokens are supported; scope the request to a project.")
