"""Collection query strings as Neutron reads them: attribute filters (repeatable), ``fields``, ``sort_key`` /
``sort_dir``, ``limit`` / ``marker`` / ``page_reverse`` and the tag filters."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlencode

from extnet.provider.api import convert as cv
from extnet.provider.api.spec import ResourceSpec
from extnet.provider.errors import NeutronError, bad_request, invalid_input
from extnet.provider.service.common import ListRequest
from extnet.provider.store.backend import AllOf, Cond, Contains, In, Not, Page

PAGING = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}
TAG_FILTERS = {"tags", "tags-any", "not-tags", "not-tags-any"}


def parse(spec: ResourceSpec, params: list[tuple[str, str]]) -> ListRequest:
    request = ListRequest(params=params)
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    invalid = [key for key in grouped if key not in PAGING and key not in TAG_FILTERS and not _filterable(spec, key)]
    if invalid:
        raise bad_request(f"{invalid} is invalid attribute for filtering")
    for key, values in grouped.items():
        if key in PAGING:
            continue
        if key in TAG_FILTERS:
            if not spec.taggable:
                raise bad_request(f"['{key}'] is invalid attribute for filtering")
            request.where.append(_tags(key, values))
        else:
            request.where.append(_filter(spec, key, values))
    request.fields = [name for value in grouped.get("fields", []) for name in value.split(",") if name]
    request.sort = _sort(spec, grouped.get("sort_key", []), grouped.get("sort_dir", []))
    request.limit = _limit(grouped.get("limit"))
    if request.limit is not None:
        request.marker = grouped.get("marker", [None])[-1] or None
        request.reverse = cv.boolean("page_reverse", grouped.get("page_reverse", ["false"])[-1])
    return request


def _filterable(spec: ResourceSpec, key: str) -> bool:
    attr = spec.by_wire.get(key)
    return attr is not None and attr.filter is not None


def _filter(spec: ResourceSpec, key: str, values: list[str]) -> Cond:
    attr = spec.by_wire[key]
    kind = attr.filter
    if kind == "fixed_ips":
        return _fixed_ips(values)
    converted: list[Any]
    if kind == "bool":
        converted = [cv.boolean(key, value) for value in values]
    elif kind == "int":
        converted = [_int(value) for value in values]
    elif kind == "cidr":
        converted = [_cidr(value) for value in values]
    else:
        converted = values
    return In(attr.field, tuple(converted))


def _int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise invalid_input(f"'{value}' is not an integer.") from None
    if not -(2**31) <= number < 2**31:  # no stored integer is larger
        raise invalid_input(f"'{value}' is out of range.")
    return number


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise invalid_input(f"{value} is not in a CIDR format.") from None


def _fixed_ips(values: list[str]) -> Cond:
    """``fixed_ips=ip_address=10.0.0.5``, ``fixed_ips=subnet_id=...``, ``fixed_ips=ip_address_substr=10.0``."""
    by_key: dict[str, list[str]] = {}
    for value in values:
        name, sep, wanted = value.partition("=")
        if not sep or name not in ("ip_address", "subnet_id", "ip_address_substr"):
            raise bad_request(f"Invalid fixed_ips filter '{value}': use ip_address=, subnet_id= or ip_address_substr=")
        by_key.setdefault(name, []).append(wanted)
    conds: list[Cond] = []
    if "ip_address" in by_key:
        conds.append(In("fixed_ips.ip_address", tuple(by_key["ip_address"])))
    if "subnet_id" in by_key:
        conds.append(In("fixed_ips.subnet_id", tuple(by_key["subnet_id"])))
    for text in by_key.get("ip_address_substr", []):
        conds.append(Contains("fixed_ips.ip_address", text))
    return AllOf(tuple(conds))


def _tags(key: str, values: list[str]) -> Cond:
    names = tuple(name for value in values for name in value.split(",") if name)
    if not names:
        raise bad_request(f"The {key} filter needs at least one tag")
    if key == "tags":
        return AllOf(tuple(In("tags", (name,)) for name in names))
    if key == "tags-any":
        return In("tags", names)
    if key == "not-tags":
        return Not(AllOf(tuple(In("tags", (name,)) for name in names)))
    return Not(In("tags", names))


def _sort(spec: ResourceSpec, keys: list[str], dirs: list[str]) -> list[tuple[str, bool]]:
    if len(keys) != len(dirs):
        raise bad_request("The number of sort_keys and sort_dirs must be same")
    invalid = [key for key in keys if key not in spec.by_wire or not spec.by_wire[key].sort]
    if invalid:
        raise bad_request(f"{invalid} is invalid attribute for sort_keys")
    bad_dirs = [value for value in dirs if value not in ("asc", "desc")]
    if bad_dirs:
        raise bad_request(f"{bad_dirs} is invalid value for sort_dirs, valid value is 'asc' and 'desc'")
    result: list[tuple[str, bool]] = []
    for key, direction in zip(keys, dirs, strict=True):
        name = spec.by_wire[key].field
        if all(name != existing for existing, _ in result):
            result.append((name, direction == "asc"))
    return result


def _limit(values: list[str] | None) -> int | None:
    if not values:
        return None
    value = values[-1]
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if limit < 0:
        raise NeutronError(
            400, "BadRequest", f"Bad limit request: Limit must be an integer 0 or greater and not '{value}'."
        )
    return limit or None


def links(base: str, path: str, parsed: ListRequest, page: Page) -> list[dict[str, str]]:
    """``next`` when there are records after the page, ``previous`` when it did not start at the beginning (in
    the direction of ``page_reverse``)."""
    if not page.records:
        return []
    kept = [(k, v) for k, v in parsed.params if k not in ("marker", "page_reverse")]
    href = f"{base}/v2.0/{path}?"
    links: list[dict[str, str]] = []
    more_after = page.more if not parsed.reverse else parsed.marker is not None
    more_before = parsed.marker is not None if not parsed.reverse else page.more
    if more_after:
        links.append({"rel": "next", "href": href + urlencode([*kept, ("marker", page.records[-1]["id"])])})
    if more_before:
        previous = [*kept, ("marker", page.records[0]["id"]), ("page_reverse", "True")]
        links.append({"rel": "previous", "href": href + urlencode(previous)})
    return links
