"""Collections outside the declared resources of ``spec.py`` (quotas, IP availability, availability zones...):
each answers every path under ``/v2.0/<collection>``, given what follows the collection's name."""

from __future__ import annotations

from collections.abc import Callable

from extnet.provider.api import availability_zones, floatingip_pools, ip_availability, quotas
from extnet.provider.api.wire import Request, Response, Runner
from extnet.provider.identity.service import Principal

Route = Callable[[Runner, Request, Principal, list[str]], Response]

EXTRA_ROUTES: dict[str, Route] = {
    ip_availability.PATH: ip_availability.route,
    quotas.PATH: quotas.route,
    floatingip_pools.PATH: floatingip_pools.route,
    availability_zones.PATH: availability_zones.route,
}
