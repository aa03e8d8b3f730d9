"""Small files in the agent's data dir: written atomically, readable by the owner only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a crash leaves the old or the new file, never half of one)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def write_json(path: Path, data: Any) -> None:
    write_private(path, json.dumps(data, indent=1, sort_keys=True))


def read_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise ValueError(f"{path} is not valid JSON; fix or remove it") from None
