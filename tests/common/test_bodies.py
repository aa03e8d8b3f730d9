"""The size-limited body reader (extnet.common.bodies): refused past the limit, declared or sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from extnet.common.bodies import BodyTooLarge, read_limited

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml


def request(chunks: list[bytes], declared: int | None = None) -> tuple[Request, list[bytes]]:
    """A request whose body comes in ``chunks``, and the list of those its reader took."""
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    pending, taken = list(chunks), []

    async def receive() -> dict[str, Any]:
        chunk = pending.pop(0) if pending else b""
        taken.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive), taken


def read(req: Request, limit: int) -> bytes:
    return asyncio.run(read_limited(req, limit))


def test_a_body_within_the_limit_is_read_whole() -> None:
    req, _taken = request([b"abc", b"def", b"g"], declared=7)
    assert read(req, 7) == b"abcdefg"
    req, _taken = request([])
    assert read(req, 0) == b""


def test_a_declared_length_past_the_limit_is_refused_before_reading() -> None:
    req, taken = request([b"abc"], declared=11)
    with pytest.raises(BodyTooLarge) as raised:
        read(req, 10)
    assert raised.value.limit == 10 and taken == []


def test_a_body_sent_past_the_limit_is_refused_without_reading_further() -> None:
    req, taken = request([b"12345", b"67890", b"1", b"more"])  # no length declared
    with pytest.raises(BodyTooLarge):
        read(req, 10)
    assert taken == [b"12345", b"67890", b"1"]
