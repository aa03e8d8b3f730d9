"""What the Networking API's handlers share: the request as they see it, the response triple, and Neutron's
plain answers. Route modules (``routes.py``) build on this without importing the application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import orjson

from extnet.provider.documents import acceptable
from extnet.provider.errors import NeutronError, bad_request
from extnet.provider.identity.service import Principal
from extnet.provider.service.common import Ctx

T = TypeVar("T")
JSON = [(b"content-type", b"application/json")]
Response = tuple[int, bytes, list[tuple[bytes, bytes]]]


class Request:
    """What the handlers need of an HTTP request."""

    __slots__ = ("method", "parts", "params", "headers", "body", "base")

    def __init__(
        self,
        method: str,
        parts: list[str],
        params: list[tuple[str, str]],
        headers: dict[bytes, bytes],
        body: bytes,
        base: str,
    ) -> None:
        self.method = method
        self.parts = parts
        self.params = params
        self.headers = headers
        self.body = body
        self.base = base

    def json(self) -> Any:
        if not self.body:
            return None
        media_type = self.headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if media_type not in (b"", b"application/json") and not media_type.endswith(b"+json"):
            # real Neutron 29 parses any body as JSON; its older WSGI layer answered this, which names the fix
            raise NeutronError(415, "InvalidContentType", f"Invalid content type {media_type.decode('latin-1')}. "
                               "The Networking API accepts application/json.")  # fmt: skip
        try:
            body = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise bad_request("Body contains invalid data") from None
        if not acceptable(body):
            raise bad_request("Body contains invalid data")
        return body


class Runner(Protocol):
    """Runs service work in one backend transaction (retried on conflicts), as the application does."""

    def run(self, write: bool, principal: Principal, work: Callable[[Ctx], T]) -> T: ...


def ok(doc: Any) -> Response:
    return 200, orjson.dumps(doc), JSON


def field_names(params: list[tuple[str, str]]) -> list[str]:
    return [name for key, value in params if key == "fields" for name in value.split(",") if name]


def not_found() -> NeutronError:
    return NeutronError(404, "HTTPNotFound", "The resource could not be found.")


def not_allowed() -> NeutronError:
    return NeutronError(405, "HTTPMethodNotAllowed", "The method is not allowed for this resource.")


def only_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """``item`` cut to the ``fields=`` asked for (all of it when none are)."""
    return {key: value for key, value in item.items() if key in fields} if fields else item
