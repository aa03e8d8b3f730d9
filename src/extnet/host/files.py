"""Small files in the agent's data dir: written atomically, readable by the owner only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from extnet.common import files


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a crash leaves the old or the new file, never half of one)."""
    files.write_private(path, text.encode())


def write_json(path: Path, data: Any) -> None:
    write_private(path, json.dumps(data, indent=1, sort_keys=True))


def read_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise ValueError(f"{path} is not valid JSON; fix or remove it") from None
