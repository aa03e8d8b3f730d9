"""Waiting in tests without sleeping as synchronization: poll a check until it holds, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(check: Callable[[], T], what: str, deadline_s: float = 30.0, every_s: float = 0.05) -> T:
    """Poll ``check`` until it returns something true; that value. Fails naming ``what`` after the deadline."""
    deadline = time.monotonic() + deadline_s
    value = check()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {deadline_s}s")
        time.sleep(every_s)
        value = check()
    return value
