"""Faults: every error the API answers, as oVirt's ``<fault><reason/><detail/></fault>``."""

from __future__ import annotations


class Fault(Exception):
    status = 400
    reason = "Operation Failed"

    def __init__(self, detail: str, reason: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason
        if status is not None:
            self.status = status


class BadRequest(Fault):
    status = 400
    reason = "Bad Request"


class Unauthorized(Fault):
    status = 401
    reason = "Unauthorized"


class TooManyRequests(Fault):
    status = 429
    reason = "Too Many Requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Forbidden(Fault):
    status = 403
    reason = "Forbidden"


class NotFound(Fault):
    status = 404
    reason = "Not Found"


class Conflict(Fault):
    """A validation rule failed (oVirt's "Operation Failed" with the rule's message)."""

    status = 409
    reason = "Operation Failed"


class MethodNotAllowed(Fault):
    status = 405
    reason = "Method Not Allowed"


class UnsupportedMediaType(Fault):
    status = 415
    reason = "Unsupported Media Type"
