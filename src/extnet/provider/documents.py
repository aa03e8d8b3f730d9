"""Checks on JSON request documents that no layer below should have to worry about."""

from __future__ import annotations

from typing import Any


def acceptable(value: Any, max_depth: int = 32) -> bool:
    """No string contains NUL (no database column takes it) and nothing nests deeper than ``max_depth``."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return False
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                return False
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            if set(map(type, children)) <= {str}:  # e.g. a host's thousands of port ids: checked at once
                if "\x00" in "".join(children):
                    return False
                continue
            pending.extend((child, depth + 1) for child in children)
    return True
