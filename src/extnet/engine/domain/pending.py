"""Starts in flight, by host (oVirt's pending resources).

The scheduler puts the hosts with the fewest VMs first, counting from the database, where a VM shows on its host only
once its start records it there. Starts under way at the same time would all see the same counts and choose the same
host; counting the starts in flight too spreads them as the policy intends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

H = TypeVar("H")
Key = Callable[[H], tuple[str, int, str]]  # a host's id, its VMs in the database, its name


class PendingStarts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_host: dict[str, int] = {}

    def count(self, host_id: str) -> int:
        with self._lock:
            return self._by_host.get(host_id, 0)

    @contextmanager
    def starting(self, hosts: Sequence[H], key: Key[H]) -> Iterator[Start[H]]:
        """A start in flight until the block ends (the start recorded its VM on a host, or failed): ``hosts`` by
        their VMs plus the starts in flight on them, then by name, and the first of them held at once, in one step,
        so that two starts never read the same counts. ``Start.hold`` moves it to the host the start chose."""
        start = Start(self, key)
        with self._lock:
            start.order = sorted(hosts, key=lambda host: self._load(key(host)))
            if start.order:
                start.held = key(start.order[0])[0]
                self._add(start.held, 1)
        try:
            yield start
        finally:
            start.hold(None)

    def _load(self, key: tuple[str, int, str]) -> tuple[int, str]:
        host_id, vms, name = key
        return vms + self._by_host.get(host_id, 0), name

    def move(self, old: str | None, new: str | None) -> None:
        """A start counted on ``old`` now counts on ``new`` (None: on no host)."""
        with self._lock:
            if old is not None:
                self._add(old, -1)
            if new is not None:
                self._add(new, 1)

    def _add(self, host_id: str, delta: int) -> None:
        left = self._by_host.get(host_id, 0) + delta
        if left:
            self._by_host[host_id] = left
        else:
            self._by_host.pop(host_id, None)


class Start(Generic[H]):
    def __init__(self, pending: PendingStarts, key: Key[H]) -> None:
        self._pending = pending
        self._key = key
        self.order: list[H] = []
        self.held: str | None = None

    def hold(self, host_id: str | None) -> None:
        """Count this start on ``host_id`` (None: on none) instead of the host it was counted on."""
        if host_id != self.held:
            self._pending.move(self.held, host_id)
            self.held = host_id
