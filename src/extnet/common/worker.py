"""A background worker: a thread that runs rounds, one after the other, until it is stopped.

Each round says how long to wait before the next one (a fixed interval, or one of its own choosing), or that there
is no next one (the thread ends). ``wake`` runs the next round now: a wake during a round makes the next round
start as soon as this one ends. A round that raises is logged with its exception, never ends the thread: the next
round comes after the worker's ``backoff`` for the number of failures in a row (``Backoff``: exponential, capped).
``start`` and ``stop`` may be called any number of times; ``stop`` waits for the round under way at most its
``join_timeout`` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

Delay = float | None  # seconds until the next round; None: no next round (the thread ends)
Round = Callable[[], Delay]


@dataclass(frozen=True)
class Backoff:
    """``first`` seconds after the first failure in a row, doubling with each failure that follows, at most
    ``cap`` (``first == cap``: always the same delay)."""

    first: float
    cap: float

    def __call__(self, failures: int) -> float:
        return float(min(self.first * 2 ** min(max(failures - 1, 0), 30), self.cap))


class Worker:
    """Runs ``run_round`` on a thread named ``name``: at once when started, or ``first_delay()`` seconds later."""

    def __init__(self, name: str, run_round: Round, *, log: logging.Logger, failure: str,
                 backoff: Callable[[int], Delay], join_timeout: Callable[[], float],
                 first_delay: Callable[[], float] | None = None) -> None:  # fmt: skip
        self.name = name
        self._round = run_round
        self._log = log
        self._failure = failure  # logged with the exception of a failed round
        self._backoff = backoff
        self._join_timeout = join_timeout
        self._first_delay = first_delay
        self._wake = threading.Event()
        self._stopping = threading.Event()  # each run has its own: a thread that outlived its stop stays stopped
        self._thread: threading.Thread | None = None
        self._failures = 0

    @property
    def stopping(self) -> bool:
        """Whether the worker was told to stop (and not started again since)."""
        return self._stopping.is_set()

    @property
    def failures(self) -> int:
        """The rounds that failed in a row, up to the last one."""
        return self._failures

    @property
    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the thread, unless it was started (and not stopped) already."""
        if self._thread is not None:
            return
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(self._stopping,), name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the next round now (or right after the one under way)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Tell the thread to stop after the round under way; returns at once."""
        self._stopping.set()
        self._wake.set()

    def stop(self) -> None:
        """Tell the thread to stop, and wait for it at most ``join_timeout`` seconds."""
        self.request_stop()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self._join_timeout())

    def _loop(self, stopping: threading.Event) -> None:
        first = self._first_delay() if self._first_delay is not None else 0.0
        if first > 0 and self._pause(stopping, first):
            return
        while not stopping.is_set():
            self._wake.clear()
            delay = self._run_round()
            if delay is None or self._pause(stopping, delay):
                return

    def _pause(self, stopping: threading.Event, delay: float) -> bool:
        """Wait ``delay`` seconds, or less when woken; whether the worker is stopping."""
        self._wake.wait(delay)
        return stopping.is_set()

    def _run_round(self) -> Delay:
        try:
            delay = self._round()
        except Exception:  # noqa: BLE001 - a worker outlives any one failure (e.g. the database restarting)
            self._failures += 1
            self._log.exception(self._failure)
            return self._backoff(self._failures)
        self._failures = 0
        return delay
