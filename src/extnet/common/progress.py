"""Progress of long command-line work on stderr: ``what done/total (percent), elapsed``.

On a terminal one line is redrawn in place (carriage return) at most every ``TTY_INTERVAL`` seconds; elsewhere (CI
logs, pipes) a line is written at most every ``LOG_INTERVAL`` seconds, the first one only after as long: quick work
writes nothing but its final line, written when the ``with`` block ends. The reporter is the callback long loops
take, ``progress(phase, done, total)`` (``total`` 0: not known yet; both 0: a phase without a count): call it as often
as you like, from any thread; it throttles itself, and while one step is long (no call for a while) a thread of its
own keeps the elapsed time going.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from types import TracebackType
from typing import TextIO

ProgressCallback = Callable[[str, int, int], None]  # what is being done, how far, out of how much (0: unknown)

TTY_INTERVAL = 0.1  # seconds between two redraws of the line on a terminal
LOG_INTERVAL = 5.0  # seconds between two lines elsewhere
DEFAULT_WIDTH = 100


def no_progress(_phase: str, _done: int, _total: int) -> None:
    """The callback of a loop nobody watches."""


def elapsed_text(seconds: float) -> str:
    if seconds < 9.95:  # what rounds to 10.0 is shown as 10 s
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """``with Progress("reconcile") as progress: work(progress)``: reports ``progress(phase, done, total)``."""

    def __init__(self, title: str = "", stream: TextIO | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic, ticking: bool = True) -> None:  # fmt: skip
        """``ticking``: a thread shows the elapsed time go on while one step is long (no report for a while)."""
        self.title = title
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream)
        self.interval = interval if interval is not None else TTY_INTERVAL if self.tty else LOG_INTERVAL
        self.clock = clock
        self.started = clock()
        self._shown_at: float | None = None  # when the last line was written
        self._state: tuple[str, int, int] | None = None  # the last (phase, done, total) reported
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True) if ticking else None

    def __enter__(self) -> Progress:
        self.started = self.clock()
        if self._ticker is not None:
            self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, _error: BaseException | None,
                 _tb: TracebackType | None) -> None:  # fmt: skip
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.finish(stopped=kind is not None)

    def __call__(self, phase: str, done: int, total: int = 0) -> None:
        with self._lock:
            self._state = (phase, done, total)
            self._show_if_due()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._state is not None:
                    self._show_if_due()

    def _show_if_due(self) -> None:
        now = self.clock()
        if self._due(now):
            self._show(self._line(now), now)

    def finish(self, stopped: bool = False) -> None:
        """The final line: where the work ended and how long it took. Nothing if nothing was reported, or if the work
        stopped (an error, Ctrl-C) before any line was shown: the error says enough then."""
        with self._lock:
            if self._state is None or (stopped and self._shown_at is None):
                return
            now = self.clock()
            verb = "stopped after" if stopped else "done in"
            self._show(self._line(now, verb), now)
            if self.tty:
                with suppress(OSError, ValueError):
                    self.stream.write("\n")
                    self.stream.flush()
            self._state = None

    def _due(self, now: float) -> bool:
        """A terminal shows the first report at once; a log waits an interval: quick work writes only its final
        line there."""
        if self._shown_at is None:
            return self.tty or now - self.started >= self.interval
        return now - self._shown_at >= self.interval

    def _line(self, now: float, verb: str = "") -> str:
        assert self._state is not None
        phase, done, total = self._state
        count = f" {done}/{total} ({100 * done // total}%)" if total > 0 else f" {done}" if done else ""
        elapsed = elapsed_text(now - self.started)
        prefix = f"{self.title}: " if self.title else ""
        return f"{prefix}{phase}{count}, {verb + ' ' if verb else ''}{elapsed}"

    def _show(self, line: str, now: float) -> None:
        self._shown_at = now
        if self.tty:
            width = _width(self.stream) - 1  # the last column would wrap the line and break the carriage return
            line = "\r" + line[:width].ljust(width)
        else:
            line += "\n"
        with suppress(OSError, ValueError):  # a closed stderr must not stop the work it reports on
            self.stream.write(line)
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or DEFAULT_WIDTH
    except (AttributeError, ValueError, OSError):  # not a real terminal (a test's stream)
        return DEFAULT_WIDTH
