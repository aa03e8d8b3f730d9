"""Throttling wrong passwords, per user and client address (as Keystone's lockout, but without locking the account
for everyone: only the address that keeps guessing waits).

After ``max_failures`` wrong passwords for one user from one address within ``window`` seconds, that address is
refused for that user for a cool-down, which doubles with each lockout that follows (up to ``max_cooldown``) until a
right password or a quiet day resets it. While refused, no password is checked at all, the right one included.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from extnet.common.security import hash_password, verify_password

MAX_FAILURES = 5
WINDOW = 300.0
COOLDOWN = 60.0
MAX_COOLDOWN = 3600.0
FORGET_AFTER = 86400.0  # a key quiet this long starts afresh
MAX_KEYS = 100_000  # beyond this, keys with nothing pending are dropped


class LoginThrottled(Exception):
    def __init__(self, user: str, address: str, retry_after: float) -> None:
        self.retry_after = max(1, round(retry_after + 0.5))
        super().__init__(f"Too many wrong passwords for user {user} from {address}: logins of this user from this "
                         f"address are refused for {self.retry_after} s more")  # fmt: skip


@dataclass(frozen=True)
class Lockout:
    """A lockout that a wrong password just started (to record as an event or log)."""

    user: str
    address: str
    failures: int
    cooldown: float

    def describe(self) -> str:
        return (f"{self.failures} wrong passwords for user {self.user} from {self.address} within "
                f"{WINDOW / 60:g} minutes: logins of this user from this address are refused for "
                f"{self.cooldown:g} s")  # fmt: skip


@dataclass
class _State:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    lockouts: int = 0
    last_seen: float = 0.0


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW, cooldown: float = COOLDOWN,
                 max_cooldown: float = MAX_COOLDOWN, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.max_failures = max_failures
        self.window = window
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._clock = clock
        self._states: dict[tuple[str, str], _State] = {}
        self._lock = threading.Lock()

    def check(self, user: str, address: str) -> None:
        """Raise LoginThrottled while ``address`` waits out a cool-down for ``user``."""
        now = self._clock()
        with self._lock:
            state = self._states.get((user.lower(), address))
            if state is not None and state.locked_until > now:
                raise LoginThrottled(user, address, state.locked_until - now)

    def failed(self, user: str, address: str) -> Lockout | None:
        """Count a wrong password; the lockout it starts, if it starts one."""
        now = self._clock()
        with self._lock:
            self._prune(now)
            state = self._states.setdefault((user.lower(), address), _State())
            if now - state.last_seen > FORGET_AFTER:
                state.lockouts = 0
            state.last_seen = now
            while state.failures and now - state.failures[0] > self.window:
                state.failures.popleft()
            state.failures.append(now)
            if len(state.failures) < self.max_failures:
                return None
            cooldown = min(self.cooldown * 2**state.lockouts, self.max_cooldown)
            state.lockouts += 1
            state.locked_until = now + cooldown
            failures = len(state.failures)
            state.failures.clear()
            return Lockout(user, address, failures, cooldown)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._states.pop((user.lower(), address), None)

    def _prune(self, now: float) -> None:
        if len(self._states) < MAX_KEYS:
            return
        for key, state in list(self._states.items()):
            if state.locked_until <= now and now - state.last_seen > self.window:
                del self._states[key]


_DECOY = hash_password(hashlib.sha256(b"extnet decoy").hexdigest())


def verify_or_decoy(password: str, stored: str | None) -> bool:
    """``verify_password``, costing the same scrypt work when there is no stored hash (an unknown user), so that
    the answer's timing does not tell which user names exist."""
    if stored is None:
        verify_password(password, _DECOY)
        return False
    return verify_password(password, stored)
