"""MAC addresses as the engine handles them: ``aa:bb:cc:dd:ee:ff`` text, integers, ranges (pure, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterator

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
MAC_MAX = (1 << 48) - 1
_MULTICAST_BIT = 1 << 40  # the least significant bit of the first octet


def is_mac(text: str) -> bool:
    return bool(_MAC_RE.match(text))


def mac_to_int(text: str) -> int:
    """``"00:1a:4a:16:01:51"`` -> 0x001a4a160151; ValueError when ``text`` is not a MAC address."""
    if not is_mac(text):
        raise ValueError(f"'{text}' is not a MAC address")
    return int(text.replace(":", ""), 16)


def int_to_mac(value: int) -> str:
    if not 0 <= value <= MAC_MAX:
        raise ValueError(f"{value} is out of the MAC address range")
    digits = f"{value:012x}"
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def normalize(text: str) -> str:
    """The stored form: lower case with colons."""
    return int_to_mac(mac_to_int(text))


def is_unicast(value: int) -> bool:
    return not value & _MULTICAST_BIT


def mac_problem(text: str | None, what: str = "MAC address") -> str | None:
    """Why ``text`` cannot be a vNIC's MAC address, or None."""
    if not text:
        return f"The {what} is empty"
    if not is_mac(text):
        return f"The {what} '{text}' is not valid; use six hex octets separated by colons, e.g. 00:1a:4a:16:01:51"
    value = mac_to_int(text)
    if value == 0:
        return f"The {what} '{text}' is all zeros"
    if not is_unicast(value):
        return f"The {what} '{text}' is a multicast address; only unicast addresses can be used"
    return None


def range_problems(start: str | None, end: str | None) -> list[str]:
    """Every reason why ``start``-``end`` is not a usable MAC range (both ends included)."""
    problems = [p for p in (_end_problem(start, "start"), _end_problem(end, "end")) if p]
    if problems or start is None or end is None:
        return problems
    low, high = mac_to_int(start), mac_to_int(end)
    if low > high:
        return [f"The MAC range {start}-{end} starts after it ends"]
    multicast = _first_multicast_octet(low, high)
    if multicast is not None:
        return [f"The MAC range {start}-{end} includes multicast addresses (first octet {multicast:02x})"]
    return []


def _end_problem(text: str | None, end: str) -> str | None:
    if not text:
        return f"A MAC range needs a '{'from' if end == 'start' else 'to'}' address"
    if not is_mac(text):
        return f"The MAC range {end} '{text}' is not a valid MAC address"
    return None


def _first_multicast_octet(low: int, high: int) -> int | None:
    for octet in range(low >> 40, (high >> 40) + 1):
        if octet & 1:
            return octet
    return None


def range_size(start: str, end: str) -> int:
    return mac_to_int(end) - mac_to_int(start) + 1


def iterate(start: str, end: str) -> Iterator[str]:
    """Every address from ``start`` to ``end``, both included, in order."""
    for value in range(mac_to_int(start), mac_to_int(end) + 1):
        yield int_to_mac(value)


def first_free(ranges: list[tuple[str, str]], used: set[str]) -> str | None:
    """The lowest address of the first range that has one not in ``used`` (normalized forms), or None."""
    for start, end in ranges:
        low, high = mac_to_int(start), mac_to_int(end)
        taken = sorted(v for v in (mac_to_int(m) for m in used) if low <= v <= high)
        candidate = low
        for value in taken:
            if value > candidate:
                break
            if value == candidate:
                candidate += 1
        if candidate <= high:
            return int_to_mac(candidate)
    return None
