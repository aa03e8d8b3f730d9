"""``GET /v2.0/floatingip_pools`` (``floatingip-pools``): the IPv4 subnets of the external networks the caller sees,
where floating IPs come from; ``fields``, and no filters (as Neutron 29 answers them)."""

from __future__ import annotations

from extnet.provider.api.wire import Request, Response, Runner, field_names, not_allowed, not_found, ok, only_fields
from extnet.provider.errors import bad_request
from extnet.provider.identity.service import Principal
from extnet.provider.service import floatingips

PATH = "floatingip_pools"


def route(api: Runner, request: Request, principal: Principal, rest: list[str]) -> Response:
    if rest:
        raise not_found()
    if request.method != "GET":
        raise not_allowed()
    for key, _value in request.params:
        if key != "fields":
            raise bad_request(f"['{key}'] is invalid attribute for filtering")
    found = api.run(False, principal, floatingips.pools)
    fields = field_names(request.params)
    return ok({PATH: [only_fields(pool, fields) for pool in found]})

