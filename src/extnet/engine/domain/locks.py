"""Locks the engine's threads share, kept in ``EngineServices``."""

from __future__ import annotations

import threading


class ProviderLocks:
    """One lock per provider: its synchronizations take turns within the engine."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def of(self, provider_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(provider_id, threading.Lock())
