"""Reading a request body within a size limit: refused as soon as it declares (Content-Length) or sends more."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body is larger than the limit; each caller answers it its own way."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the request body is larger than {limit} bytes")


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body; raises BodyTooLarge past ``limit`` bytes, declared or sent (reading no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
