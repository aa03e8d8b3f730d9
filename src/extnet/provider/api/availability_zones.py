"""``GET /v2.0/availability_zones`` (``availability_zone``, ``availability_zone_filter``): filters ``name``,
``resource`` and ``state`` (repeatable); ``fields`` is taken and ignored, as Neutron 29 does."""

from __future__ import annotations

from extnet.provider.api.wire import Request, Response, Runner, not_allowed, not_found, ok
from extnet.provider.errors import bad_request
from extnet.provider.identity.service import Principal
from extnet.provider.service import availability_zones

PATH = "availability_zones"
FILTERS = ("name", "resource", "state")


def route(api: Runner, request: Request, principal: Principal, rest: list[str]) -> Response:
    if rest:
        raise not_found()
    if request.method != "GET":
        raise not_allowed()
    wanted: dict[str, set[str]] = {}
    for key, value in request.params:
        if key in FILTERS:
            wanted.setdefault(key, set()).add(value)
        elif key != "fields":
            raise bad_request(f"['{key}'] is invalid attribute for filtering")
    found = api.run(False, principal, availability_zones.zones)
    chosen = [zone for zone in found if all(zone[key] in values for key, values in wanted.items())]
    return ok({PATH: chosen})
