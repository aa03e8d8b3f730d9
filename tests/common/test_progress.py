"""The progress reporter of long commands (``extnet engine reconcile``, ``extnet provider sync-ovn``): what it writes
to a log (a pipe, CI) and to a terminal, how often, and its final line."""

from __future__ import annotations

import io
import time

import pytest

from extnet.common.progress import LOG_INTERVAL, Progress, elapsed_text


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_quick_work_writes_only_its_final_line_to_a_log() -> None:
    log, clock = io.StringIO(), Clock()
    with Progress("reconcile", log, clock=clock, ticking=False) as progress:
        for done in range(1, 1001):
            progress("provider p: checking running VMs", done, 1000)
        clock.now += 1.25
    assert lines(log) == ["reconcile: provider p: checking running VMs 1000/1000 (100%), done in 1.2 s"]


def test_a_log_gets_one_line_an_interval_however_often_it_is_called() -> None:
    log, clock = io.StringIO(), Clock()
    with Progress("sync-ovn", log, clock=clock, ticking=False) as progress:
        for done in range(1, 30_001):  # 30 s of work, a call every millisecond
            clock.now = 1000.0 + done / 1000
            progress("comparing with OVN Northbound", done, 30_000)
    written = lines(log)
    assert LOG_INTERVAL == 5.0
    assert len(written) == 7, written  # one every 5 s, and the final line
    assert written[0] == "sync-ovn: comparing with OVN Northbound 5000/30000 (16%), 5.0 s"
    assert written[1] == "sync-ovn: comparing with OVN Northbound 10000/30000 (33%), 10 s"
    assert written[-1] == "sync-ovn: comparing with OVN Northbound 30000/30000 (100%), done in 30 s"


def test_phases_without_a_total_or_a_count() -> None:
    log, clock = io.StringIO(), Clock()
    with Progress("sync-ovn", log, clock=clock, ticking=False) as progress:
        progress("reading OVN Northbound", 0, 0)
        clock.now += 6
        progress("provider p: listing ports", 1500, 0)
    assert lines(log) == ["sync-ovn: provider p: listing ports 1500, 6.0 s",
                          "sync-ovn: provider p: listing ports 1500, done in 6.0 s"]  # fmt: skip


def test_the_final_line_says_the_work_stopped_when_it_failed() -> None:
    log, clock = io.StringIO(), Clock()
    with pytest.raises(KeyboardInterrupt), Progress("reconcile", log, clock=clock, ticking=False) as progress:
        clock.now += 70
        progress("recovering cut-short operations", 3, 40)
        clock.now += 5
        raise KeyboardInterrupt
    assert lines(log) == ["reconcile: recovering cut-short operations 3/40 (7%), 1 min 10 s",
                          "reconcile: recovering cut-short operations 3/40 (7%), stopped after 1 min 15 s"]  # fmt: skip


def test_work_failing_before_any_line_was_shown_leaves_the_error_alone() -> None:
    log, clock = io.StringIO(), Clock()
    with pytest.raises(ConnectionRefusedError), Progress("sync-ovn", log, clock=clock, ticking=False) as progress:
        progress("reading OVN Northbound", 0, 0)
        raise ConnectionRefusedError
    assert log.getvalue() == ""


def test_nothing_reported_writes_nothing() -> None:
    log = io.StringIO()
    with Progress("reconcile", log, ticking=False):
        pass
    assert log.getvalue() == ""


def test_a_terminal_gets_one_line_redrawn_in_place_then_ended() -> None:
    terminal, clock = Terminal(), Clock()
    with Progress("reconcile", terminal, clock=clock, ticking=False) as progress:
        for done in range(1, 101):
            clock.now = 1000.0 + done / 100  # 1 s in all: a redraw every 0.1 s at most
            progress("provider p: removing orphan ports", done, 100)
    text = terminal.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1  # one line, ended once the work is done
    draws = text.rstrip("\n").split("\r")[1:]
    assert 2 <= len(draws) <= 12, draws  # the first report at once, then every 0.1 s, then the final one
    assert draws[0].rstrip() == "reconcile: provider p: removing orphan ports 1/100 (1%), 0.0 s"
    assert draws[-1].rstrip() == "reconcile: provider p: removing orphan ports 100/100 (100%), done in 1.0 s"
    assert {len(draw) for draw in draws} == {99}  # padded: a shorter line wipes out a longer one


def test_a_long_step_without_reports_still_shows_time_going_on() -> None:
    log = io.StringIO()
    with Progress("sync-ovn", log, interval=0.05) as progress:
        progress("reading OVN Northbound", 0, 0)
        deadline = time.monotonic() + 10
        while len(lines(log)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the step that takes long: no report meanwhile
    written = lines(log)
    assert len(written) >= 3, written  # at least two while waiting, then the final line
    assert all(line.startswith("sync-ovn: reading OVN Northbound, ") for line in written)
    assert "done in" in written[-1]


@pytest.mark.parametrize(("seconds", "shown"), [(0.04, "0.0 s"), (9.96, "10 s"), (42.4, "42 s"), (59.7, "1 min 00 s"),
                                                (61, "1 min 01 s"), (3725, "1 h 02 min")])  # fmt: skip
def test_elapsed_time(seconds: float, shown: str) -> None:
    assert elapsed_text(seconds) == shown
