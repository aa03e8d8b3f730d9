"""JSON-RPC 2.0 framing: requests (single or batch) in, responses out; verbs are plain functions of their params."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from extnet.common import hostrpc
from extnet.common.hostrpc import ErrorCode
from extnet.host.service import AgentError

log = logging.getLogger("extnet.host.rpc")
Verb = Callable[[dict[str, Any]], Any]
MAX_BATCH = 100


def error(request_id: Any, code: ErrorCode, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": int(code), "message": message,
                            "data": {"kind": hostrpc.KINDS[code], **(data or {})}}  # fmt: skip
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def parse(body: bytes) -> Any:
    """The decoded request, or raises ValueError."""
    return orjson.loads(body)


def pairing_only(payload: Any) -> bool:
    """Whether ``payload`` is one request for a method served without the per-host secret."""
    return isinstance(payload, dict) and payload.get("method") in hostrpc.UNAUTHENTICATED


def handle(payload: Any, verbs: dict[str, Verb]) -> Any:
    """The response document for a decoded request (None when nothing is to be answered: only notifications)."""
    if isinstance(payload, list):
        if not payload:
            return error(None, ErrorCode.INVALID_REQUEST, "an empty batch is not a request")
        if len(payload) > MAX_BATCH:
            return error(None, ErrorCode.INVALID_REQUEST, f"a batch holds at most {MAX_BATCH} requests")
        answers = [answer for answer in (_one(item, verbs) for item in payload) if answer is not None]
        return answers or None
    return _one(payload, verbs)


def _one(request: Any, verbs: dict[str, Verb]) -> dict[str, Any] | None:
    if not isinstance(request, dict):
        return error(None, ErrorCode.INVALID_REQUEST, "a request is a JSON object")
    request_id = request.get("id")
    if request.get("jsonrpc") != "2.0":
        return error(request_id, ErrorCode.INVALID_REQUEST, "'jsonrpc' must be \"2.0\"")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, str | int)):
        return error(None, ErrorCode.INVALID_REQUEST, "'id' must be a string or a number")
    method = request.get("method")
    if not isinstance(method, str):
        return error(request_id, ErrorCode.INVALID_REQUEST, "'method' must be a string")
    verb = verbs.get(method)
    if verb is None:
        return error(request_id, ErrorCode.METHOD_NOT_FOUND, f"unknown method '{method[:80]}'; this agent serves "
                     f"{', '.join(sorted(verbs))}")  # fmt: skip
    params = request.get("params", {})
    if not isinstance(params, dict):
        return error(request_id, ErrorCode.INVALID_PARAMS, "'params' must be an object (named parameters)")
    try:
        result = verb(params)
    except AgentError as err:
        answer = error(request_id, err.code, err.message, err.data)
    except Exception:  # noqa: BLE001 - a bug in one verb answers an error, never a dropped connection
        log.exception("%s failed", method)
        answer = error(request_id, ErrorCode.INTERNAL_ERROR, f"{method} failed on the host; see the agent's log")
    else:
        answer = {"jsonrpc": "2.0", "id": request_id, "result": result}
    return answer if "id" in request else None
