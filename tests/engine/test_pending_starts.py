"""Starts in flight count on the host they chose (oVirt's pending resources): concurrent starts spread over the hosts
instead of all choosing the one the database shows least loaded. Pure: no engine."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from extnet.engine.domain.pending import PendingStarts

Host = tuple[str, int, str]  # id, VMs in the database, name


def key(host: Host) -> Host:
    return host


def test_order_counts_the_database_and_the_starts_in_flight() -> None:
    pending = PendingStarts()
    hosts = [("a", 2, "host-a"), ("b", 0, "host-b"), ("c", 1, "host-c")]
    with pending.starting(hosts, key) as first:
        assert [h[0] for h in first.order] == ["b", "c", "a"]
        assert first.held == "b" and pending.count("b") == 1
        with pending.starting(hosts, key) as second:  # b: 0 + 1 in flight, c: 1, a: 2
            assert [h[0] for h in second.order] == ["b", "c", "a"]  # b and c both at 1; host-b sorts first
            second.hold("c")  # the scheduler chose c (b could not serve the VM's networks, say)
            assert pending.count("b") == 1 and pending.count("c") == 1
            with pending.starting(hosts, key) as third:
                assert [h[0] for h in third.order] == ["b", "a", "c"]  # b 1, a 2, c 2 (host-a before host-c)
    assert [pending.count(h[0]) for h in hosts] == [0, 0, 0]


def test_a_failed_start_counts_no_more() -> None:
    pending = PendingStarts()
    with pytest.raises(RuntimeError), pending.starting([("a", 0, "a")], key):
        assert pending.count("a") == 1
        raise RuntimeError("the host refused the VM")
    assert pending.count("a") == 0


def test_no_host_holds_nothing() -> None:
    pending = PendingStarts()
    with pending.starting([], key) as start:
        assert start.order == [] and start.held is None


def test_concurrent_starts_spread_evenly() -> None:
    """16 starts in flight at once on 4 hosts the database shows empty: 4 on each (without the starts in flight
    every one of them would choose host-0)."""
    pending = PendingStarts()
    hosts = [(f"h{i}", 0, f"host-{i}") for i in range(4)]
    barrier = threading.Barrier(16)
    chosen: list[str] = []
    lock = threading.Lock()

    def start() -> None:
        with pending.starting(hosts, key) as flight:
            host_id = flight.order[0][0]
            flight.hold(host_id)
            with lock:
                chosen.append(host_id)
            barrier.wait(timeout=30)  # every start is in flight before any ends

    threads = [threading.Thread(target=start) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Counter(chosen) == {f"h{i}": 4 for i in range(4)}
    assert all(pending.count(h[0]) == 0 for h in hosts)
