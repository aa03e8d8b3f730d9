"""The HTTP side: ``POST /jsonrpc``, and nothing at all for a caller without the per-host secret.

A request without ``Authorization: Bearer <secret>`` (or with a wrong one) gets 401 with an empty body, whatever
its path, method or body, except one JSON-RPC request for a pairing method (``Host.pair``, ``Host.identify``),
which authenticates with the pairing password instead.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from extnet.common.bodies import BodyTooLarge, read_limited
from extnet.common.hostrpc import PATH, ErrorCode
from extnet.host.api import rpc
from extnet.host.service import HostAgent

JSON = "application/json"
UNAUTHORIZED = Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})


class JsonRpcApp:
    def __init__(self, agent: HostAgent, max_body_bytes: int) -> None:
        self.agent = agent
        self.max_body_bytes = max_body_bytes

    def _authenticated(self, request: Request) -> bool:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(secret) and self.agent.pairing.authenticates(secret.strip())

    async def __call__(self, request: Request) -> Response:
        authenticated = self._authenticated(request)
        if request.url.path != PATH or request.method != "POST":
            if not authenticated:
                return UNAUTHORIZED
            return _json(rpc.error(None, ErrorCode.INVALID_REQUEST, f"POST JSON-RPC 2.0 requests to {PATH}"), 404)
        body = await _body(request, self.max_body_bytes)
        if body is None:
            return (
                UNAUTHORIZED
                if not authenticated
                else _json(
                    rpc.error(
                        None, ErrorCode.INVALID_REQUEST, f"the request is larger than {self.max_body_bytes} bytes"
                    ),
                    413,
                )
            )
        try:
            payload = rpc.parse(body)
        except ValueError:
            if not authenticated:
                return UNAUTHORIZED
            return _json(rpc.error(None, ErrorCode.PARSE_ERROR, "the body is not JSON"))
        if not authenticated and not rpc.pairing_only(payload):
            return UNAUTHORIZED
        answer = await run_in_threadpool(rpc.handle, payload, self.agent.verbs)
        return Response(status_code=204) if answer is None else _json(answer)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit``."""
    try:
        return await read_limited(request, limit)
    except BodyTooLarge:
        return None


def _json(document: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status_code=status, media_type=JSON)
