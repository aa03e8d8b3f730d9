"""Pairing with the engine: the pairing password (kept as a scrypt hash) and the per-host secret (kept as a SHA-256
digest), both in ``pairing.json`` in the data dir (mode 0600).

The engine proves it knows the pairing password (it is the host's ``root_password`` in the API) and gets a fresh
random secret; every later call must carry that secret. Pairing again, which needs the password again, replaces the
secret. Wrong passwords are throttled: after ``MAX_FAILURES`` within ``FAILURE_WINDOW`` seconds, pairing is refused
until the window has passed.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from extnet.common.security import generate_password, hash_password, new_token, token_digest, verify_password
from extnet.host.files import read_json, write_json

FILE = "pairing.json"
MAX_FAILURES = 5
FAILURE_WINDOW = 60.0


class PairingRefused(Exception):
    pass


class PairingThrottled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many wrong pairing passwords; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class Pairing:
    def __init__(self, data_dir: Path, password: str | None) -> None:
        """Load the pairing state; ``password`` (EXTNET_HOST_PAIRING_PASSWORD) replaces the stored one when given,
        and one is generated (``generated_password``, to show once) when there is none at all."""
        self._path = data_dir / FILE
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        state = read_json(self._path) or {}
        self.generated_password: str | None = None
        if password:
            if not state.get("password") or not verify_password(password, state["password"]):
                state["password"] = hash_password(password)
        elif not state.get("password"):
            self.generated_password = generate_password()
            state["password"] = hash_password(self.generated_password)
        self._state: dict[str, str | None] = state
        write_json(self._path, state)

    @property
    def paired(self) -> bool:
        return bool(self._state.get("secret_sha256"))

    def check_password(self, password: str) -> None:
        """Raise PairingThrottled or PairingRefused unless ``password`` is the pairing password."""
        with self._lock:
            now = time.monotonic()
            while self._failures and now - self._failures[0] > FAILURE_WINDOW:
                self._failures.popleft()
            if len(self._failures) >= MAX_FAILURES:
                raise PairingThrottled(FAILURE_WINDOW - (now - self._failures[0]))
        stored = self._state.get("password") or ""
        if not isinstance(password, str) or not verify_password(password, stored):
            with self._lock:
                self._failures.append(time.monotonic())
            raise PairingRefused("the pairing password is wrong")

    def pair(self, password: str) -> str:
        """A new per-host secret, replacing any previous one, for a caller that knows the pairing password."""
        self.check_password(password)
        secret = new_token()
        with self._lock:
            self._state = {**self._state, "secret_sha256": token_digest(secret),
                           "paired_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
            write_json(self._path, self._state)
        return secret

    def unpair(self) -> None:
        with self._lock:
            self._state = {**self._state, "secret_sha256": None, "paired_at": None}
            write_json(self._path, self._state)

    def authenticates(self, secret: str) -> bool:
        expected = self._state.get("secret_sha256")
        return bool(expected) and hmac.compare_digest(token_digest(secret), str(expected))
