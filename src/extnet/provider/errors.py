"""Neutron's error vocabulary: every failure the API reports is a NeutronError with Neutron's type and message."""

from __future__ import annotations


class NeutronError(Exception):
    """Rendered as ``{"NeutronError": {"type", "message", "detail": ""}}`` with ``status``."""

    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message


def bad_request(message: str) -> NeutronError:
    return NeutronError(400, "HTTPBadRequest", message)


def invalid_input(message: str) -> NeutronError:
    return NeutronError(400, "InvalidInput", f"Invalid input for operation: {message}")


def invalid_attribute(name: str, reason: str) -> NeutronError:
    return NeutronError(400, "HTTPBadRequest", f"Invalid input for {name}. Reason: {reason}")


def bad_router_request(message: str) -> NeutronError:
    return NeutronError(400, "BadRequest", f"Bad router request: {message}")


def not_found(type_: str, message: str) -> NeutronError:
    return NeutronError(404, type_, message)


def conflict(type_: str, message: str) -> NeutronError:
    return NeutronError(409, type_, message)


def forbidden(message: str) -> NeutronError:
    return NeutronError(403, "PolicyNotAuthorized", message)


def policy(action: str, attribute: str | None = None) -> NeutronError:
    if attribute is None:
        return forbidden(f"rule:{action} is disallowed by policy")
    return forbidden(f"(rule:{action} and rule:{action}:{attribute}) is disallowed by policy")
