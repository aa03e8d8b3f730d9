"""Input converters: each takes (attribute name, value) and returns the converted value or raises the
NeutronError Neutron raises for that attribute (same types and messages)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from extnet.provider.errors import invalid_attribute, invalid_input

Converter = Callable[[str, Any], Any]
MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def string(max_len: int = 255) -> Converter:
    def convert(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise invalid_attribute(name, f"'{value}' is not a valid string.")
        if len(value) > max_len:
            raise invalid_attribute(name, f"'{value}' exceeds maximum length of {max_len}.")
        return value

    return convert


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise invalid_input(f"'{value}' cannot be converted to boolean.")


def integer(low: int | None = None, high: int | None = None, nullable: bool = False) -> Converter:
    def convert(name: str, value: Any) -> int | None:
        if value is None and nullable:
            return None
        if isinstance(value, bool):
            raise invalid_input(f"'{value}' is not an integer.")
        try:
            number = int(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
        except (TypeError, ValueError):
            raise invalid_input(f"'{value}' is not an integer.") from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise invalid_attribute(name, f"'{number}' is not in range {low} through {high}.")
        return number

    return convert


def one_of(values: Sequence[Any], nullable: bool = False) -> Converter:
    def convert(name: str, value: Any) -> Any:
        if value is None and nullable:
            return None
        if value not in values or isinstance(value, bool) and True not in values:
            raise invalid_attribute(name, f"{value} is not in valid_values.")
        return value

    return convert


def ip_version(name: str, value: Any) -> int:
    number = integer()(name, value)
    if number not in (4, 6):
        raise invalid_attribute(name, f"{number} is not in valid_values.")
    return int(number)


def uuid_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            uuid.UUID(value)
            return value
        except ValueError:
            pass
    raise invalid_attribute(name, f"'{value}' is not a valid UUID.")


def uuid_or_none(name: str, value: Any) -> str | None:
    return None if value is None else uuid_str(name, value)


def mac(name: str, value: Any) -> str:
    if not isinstance(value, str) or not MAC.match(value):
        raise invalid_attribute(name, f"'{value}' is not a valid MAC address.")
    normalized = value.lower().replace("-", ":")
    if normalized in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        raise invalid_attribute(name, f"'{value}' is not a valid MAC address.")
    return normalized


def ip_address(name: str, value: Any) -> str:
    if isinstance(value, str) and "/" not in value:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    raise invalid_attribute(name, f"'{value}' is not a valid IP address.")


def ip_or_none(name: str, value: Any) -> str | None:
    return None if value is None else ip_address(name, value)


def cidr(name: str, value: Any) -> str:
    """A subnet in CIDR notation; host bits are dropped (Neutron accepts ``10.0.0.5/24`` as ``10.0.0.0/24``)."""
    if isinstance(value, str) and "/" in value:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            pass
    raise invalid_attribute(name, f"'{value}' is not a valid IP subnet.")


def ip_or_cidr(name: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            if "/" in value:
                ipaddress.ip_network(value, strict=False)
                return value
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    raise invalid_attribute(name, f"'{value}' is neither a valid IP address, nor is it a valid IP subnet.")


def dictionary(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_attribute(name, f"'{value}' is not a dictionary.")
    return value


def optional(inner: Converter) -> Converter:
    """``inner``, or None for a null (the service then applies the default)."""

    def convert(name: str, value: Any) -> Any:
        return None if value is None else inner(name, value)

    return convert


def list_of(item: Converter, unique: bool = False, max_items: int | None = None) -> Converter:
    def convert(name: str, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise invalid_attribute(name, f"'{value}' is not a list.")
        items = [item(name, element) for element in value]
        if unique:
            seen: set[Any] = set()
            for element in items:
                key = repr(element)
                if key in seen:
                    raise invalid_attribute(name, f"Duplicate items in the list: '{element}'")
                seen.add(key)
        if max_items is not None and len(items) > max_items:
            raise invalid_attribute(name, f"The list has more than {max_items} items.")
        return items

    return convert


def record(required: Sequence[str], optional: Sequence[str], fields: dict[str, Converter]) -> Converter:
    """A dict with exactly these keys (``required`` must be present)."""

    def convert(name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise invalid_attribute(name, f"'{value}' is not a dictionary.")
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            raise invalid_attribute(name, f"Unrecognized attribute(s) '{', '.join(unknown)}' in {name}.")
        missing = [key for key in required if key not in value]
        if missing:
            raise invalid_attribute(name, f"Key(s) '{', '.join(missing)}' missing in {name}.")
        return {key: fields[key](name, element) if key in fields else element for key, element in value.items()}

    return convert


def tag(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid_input(f"'{value}' is not a valid string.")
    if len(value) > 255:
        raise invalid_input(f"'{value}' exceeds maximum length of 255.")
    return value


def tags(name: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise invalid_input(f"'{value}' is not a list.")
    result: list[str] = []
    for element in value:
        converted = tag(name, element)
        if converted in result:
            raise invalid_input(f"Duplicate items in the list: '{converted}'.")
        result.append(converted)
    return result


def anything(name: str, value: Any) -> Any:
    return value
