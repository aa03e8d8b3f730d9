"""Request bodies as Keystone reads them: JSON objects only, within its size limit (413 past it)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from extnet.common.bodies import BodyTooLarge, read_limited
from extnet.provider.documents import acceptable
from extnet.provider.identity.errors import IdentityError


async def read_body(request: Request) -> dict[str, Any]:
    raw = await limited(request, request.state.max_body_bytes)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if raw and media_type not in ("", "application/json") and not media_type.endswith("+json"):
        raise IdentityError(400, "Expecting to find application/json in Content-Type header. The server could not "
                            "comply with the request since it is either malformed or otherwise incorrect. The client "
                            "is assumed to be in error.")  # fmt: skip
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise IdentityError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict) or not acceptable(body):
        raise IdentityError(400, "The request body must be a JSON object (no NUL characters, at most 32 levels).")
    return body


async def limited(request: Request, limit: int) -> bytes:
    """The body, refused (413, as Keystone's size limit answers) past ``limit`` bytes, declared or sent."""
    try:
        return await read_limited(request, limit)
    except BodyTooLarge:
        raise IdentityError(413, "Request is too large.") from None
