"""The background worker (extnet.common.worker) on its real thread: rounds, wake, stop, failures and backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from extnet.common.worker import Backoff, Delay, Worker
from tests.polling import until

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

NAME = "test-worker"
HOUR = 3600.0  # a delay no test waits out: a round within a test's deadline came from a wake
log = logging.getLogger("tests.worker")


class Rounds:
    """A round that counts itself, notes when it ran, raises while told to, and holds while ``hold`` is clear."""

    def __init__(self, delay: Delay = HOUR) -> None:
        self.delay = delay
        self.failing = 0  # how many of the next rounds raise
        self.hold = threading.Event()
        self.hold.set()
        self.inside = threading.Event()  # set while a round runs
        self.times: list[float] = []
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.times)

    def __call__(self) -> Delay:
        self.inside.set()
        try:
            self.hold.wait()
        finally:
            self.inside.clear()
        with self._lock:
            self.times.append(time.monotonic())
            if self.failing:
                self.failing -= 1
                raise RuntimeError(f"round {len(self.times)} broke")
        return self.delay


def worker_of(rounds: Rounds, backoff: Callable[[int], Delay] = Backoff(HOUR, HOUR), join_timeout: float = 10.0,
              first_delay: Callable[[], float] | None = None) -> Worker:  # fmt: skip
    return Worker(NAME, rounds, log=log, failure="test round failed", backoff=backoff,
                  join_timeout=lambda: join_timeout, first_delay=first_delay)  # fmt: skip


def threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == NAME]


@pytest.fixture
def rounds() -> Iterator[Rounds]:
    rounds = Rounds()
    yield rounds
    rounds.hold.set()  # no test leaves a thread held
    until(lambda: not threads(), "the test's worker threads ended", deadline_s=10)


def test_a_started_worker_runs_a_round_at_once_and_another_when_woken(rounds: Rounds) -> None:
    worker = worker_of(rounds)
    worker.start()
    try:
        until(lambda: rounds.count == 1, "the first round, at start")
        worker.wake()
        until(lambda: rounds.count == 2, "a round right after the wake (the interval is an hour)", deadline_s=5)
        worker.wake()
        until(lambda: rounds.count == 3, "a round after each wake", deadline_s=5)
    finally:
        worker.stop()
    assert not worker.alive and not threads()


def test_a_wake_during_a_round_brings_the_next_one_right_after_it(rounds: Rounds) -> None:
    worker = worker_of(rounds)
    rounds.hold.clear()
    worker.start()
    try:
        until(rounds.inside.is_set, "the first round under way")
        worker.wake()
        rounds.hold.set()
        until(lambda: rounds.count == 2, "a second round, for the wake that came during the first", deadline_s=5)
    finally:
        worker.stop()


def test_start_and_stop_may_be_repeated(rounds: Rounds) -> None:
    worker = worker_of(rounds)
    worker.stop()  # never started: nothing to stop
    assert not worker.alive
    worker.start()
    worker.start()
    until(lambda: rounds.count == 1, "the first round")
    assert len(threads()) == 1 and worker.alive and not worker.stopping
    worker.stop()
    worker.stop()
    assert worker.stopping and not worker.alive and not threads()
    worker.start()  # again after a stop: a new thread, a round at once
    try:
        until(lambda: rounds.count == 2, "a round of the worker started again")
        assert not worker.stopping and len(threads()) == 1
    finally:
        worker.stop()


def test_stop_waits_for_a_round_under_way_at_most_its_join_timeout(rounds: Rounds) -> None:
    worker = worker_of(rounds, join_timeout=0.1)
    rounds.hold.clear()
    worker.start()
    until(rounds.inside.is_set, "a round under way")
    stopped = threading.Event()

    def stop() -> None:
        worker.stop()
        stopped.set()

    threading.Thread(target=stop, daemon=True).start()
    until(stopped.is_set, "stop returned while the round still runs", deadline_s=5)
    assert worker.stopping and rounds.inside.is_set() and len(threads()) == 1
    rounds.hold.set()
    until(lambda: not threads(), "the thread ended after its round, without another", deadline_s=5)
    assert rounds.count == 1


def test_a_failing_round_is_logged_backed_off_and_the_worker_goes_on(
    rounds: Rounds, caplog: pytest.LogCaptureFixture
) -> None:
    asked: list[int] = []

    def backoff(failures: int) -> float:
        asked.append(failures)
        return 0.2

    caplog.set_level(logging.ERROR, logger=log.name)
    rounds.failing = 2
    worker = worker_of(rounds, backoff)
    worker.start()
    try:
        until(lambda: rounds.count == 3, "rounds after two failed ones", deadline_s=5)
        assert asked == [1, 2]  # the failures in a row, each time
        assert worker.failures == 0  # the third round went through
        first, second, third = rounds.times
        assert second - first >= 0.2 and third - second >= 0.2  # each failure waited its backoff
        failed = [r for r in caplog.records if r.getMessage() == "test round failed"]
        assert [str(r.exc_info[1]) for r in failed if r.exc_info] == ["round 1 broke", "round 2 broke"]
        rounds.failing = 1
        worker.wake()
        until(lambda: len(asked) == 3, "the backoff asked after a new failure", deadline_s=5)
        assert asked[2] == 1 and worker.failures == 1 and worker.alive  # a success started the count afresh
    finally:
        worker.stop()


def test_a_round_that_returns_no_delay_ends_the_thread() -> None:
    rounds = Rounds(delay=None)
    worker = worker_of(rounds)
    worker.start()
    until(lambda: rounds.count == 1 and not threads(), "the thread ended after its only round", deadline_s=5)
    worker.wake()
    worker.start()  # started already: it does not run again until stopped
    assert not threads() and rounds.count == 1
    worker.stop()


def test_the_first_round_waits_the_first_delay(rounds: Rounds) -> None:
    worker = worker_of(rounds, first_delay=lambda: 0.3)
    started = time.monotonic()
    worker.start()
    try:
        until(lambda: rounds.count == 1, "the first round, after the first delay", deadline_s=5)
        assert rounds.times[0] - started >= 0.3
    finally:
        worker.stop()


def test_a_stop_during_the_first_delay_ends_the_thread_without_a_round(rounds: Rounds) -> None:
    asked = threading.Event()

    def first_delay() -> float:
        asked.set()
        return HOUR

    worker = worker_of(rounds, first_delay=first_delay)
    worker.start()
    until(asked.is_set, "the worker waiting its first delay")
    worker.stop()
    assert not threads() and rounds.count == 0


@pytest.mark.parametrize(("failures", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (500, 60.0)])
def test_backoff_doubles_with_each_failure_up_to_its_cap(failures: int, delay: float) -> None:
    assert Backoff(1.0, 60.0)(failures) == delay
    assert Backoff(1.0, 1.0)(failures) == 1.0
