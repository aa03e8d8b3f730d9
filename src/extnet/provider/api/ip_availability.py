"""``/v2.0/network-ip-availabilities[/{network_id}]``: read only; filters ``network_id``, ``network_name``,
``project_id``/``tenant_id`` and ``ip_version``, ``fields``, and paging by network (``limit``/``marker``)."""

from __future__ import annotations

import json
from typing import Any

from extnet.provider.api import query
from extnet.provider.api.spec import Attr, ResourceSpec
from extnet.provider.api.wire import JSON, Request, Response, Runner, field_names, not_allowed, not_found, only_fields
from extnet.provider.errors import bad_request
from extnet.provider.identity.service import Principal
from extnet.provider.service import ip_availability
from extnet.provider.store.backend import Kind

PATH = "network-ip-availabilities"
# what the query parser may turn into conditions on networks; ``ip_version`` is taken out before
FILTERS = ResourceSpec(Kind.NETWORK, "network_ip_availability", "network_ip_availabilities", PATH, (
    Attr("network_id", "id", filter="str"), Attr("network_name", "name", filter="str"),
    Attr("project_id", filter="str"), Attr("tenant_id", "project_id", filter="str")), taggable=False)  # fmt: skip


def route(api: Runner, request: Request, principal: Principal, rest: list[str]) -> Response:
    if request.method != "GET":
        raise not_allowed()
    if len(rest) > 1:
        raise not_found()
    if rest:
        found = api.run(False, principal, lambda ctx: ip_availability.get(ctx, rest[0]))
        return _answer({"network_ip_availability": only_fields(found, field_names(request.params))})
    versions = [_version(value) for key, value in request.params if key == "ip_version"]
    parsed = query.parse(FILTERS, [(key, value) for key, value in request.params if key != "ip_version"])
    page, found_all = api.run(False, principal, lambda ctx: ip_availability.listing(ctx, parsed, versions))
    doc: dict[str, Any] = {"network_ip_availabilities": [only_fields(item, parsed.fields) for item in found_all]}
    if parsed.limit is not None:
        doc["network_ip_availabilities_links"] = query.links(request.base, PATH, parsed, page)
    return _answer(doc)


def _version(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"'{value}' is not an integer") from None



def _answer(doc: dict[str, Any]) -> Response:
    # IPv6 subnets hold more addresses than 64 bits count (2**64 in a /64): beyond orjson's integers
    return 200, json.dumps(doc).encode(), JSON
