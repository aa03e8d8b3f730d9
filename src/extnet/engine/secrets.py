"""Encryption at rest of provider passwords, with a key kept in the data dir (mode 0600)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


CACHED = 256  # decrypted secrets kept in memory (hosts' and providers' are decrypted at every VM operation)


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._plain: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SecretBox:
        """Load the engine's key, creating it (readable by the owner only) on first use."""
        path = data_dir / KEY_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        with self._lock:
            plain = self._plain.get(token)
        if plain is not None:
            return plain
        try:
            plain = self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("the stored secret cannot be decrypted with this engine's key") from None
        with self._lock:
            if len(self._plain) >= CACHED:
                self._plain.pop(next(iter(self._plain)))
            self._plain[token] = plain
        return plain

    def __repr__(self) -> str:
        return "SecretBox(<hidden>)"
