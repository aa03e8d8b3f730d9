"""Keystone's errors, and the one domain there is."""

from __future__ import annotations

from typing import Any

DEFAULT_DOMAIN = {"id": "default", "name": "Default"}


class IdentityError(Exception):
    """Keystone's error document: ``{"error": {"code", "title", "message"}}``."""

    TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
              413: "Request Entity Too Large", 429: "Too Many Requests"}  # fmt: skip

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def title(self) -> str:
        return self.TITLES.get(self.code, "Error")


def unauthorized(message: str = "The request you have made requires authentication.") -> IdentityError:
    return IdentityError(401, message)


def not_found(kind: str, ident: str) -> IdentityError:
    return IdentityError(404, f"Could not find {kind}: {ident}.")


def domain_id(ref: Any) -> str:
    """Only the ``Default`` domain exists: accept it by id or name; anything else matches nothing."""
    if ref is None or not isinstance(ref, dict):
        return "default"
    if ref.get("id") is not None:
        return str(ref["id"])
    if ref.get("name") is not None:
        return "default" if ref["name"] == DEFAULT_DOMAIN["name"] else f"unknown:{ref['name']}"
    return "default"
