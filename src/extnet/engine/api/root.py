"""The API root ``<api>`` and the registry of top-level collections."""

from __future__ import annotations

from datetime import UTC, datetime

from extnet.engine.api.hrefs import API, href
from extnet.engine.api.resources import (
    clusters,
    datacenters,
    events,
    hosts,
    jobs,
    macpools,
    networks,
    providers,
    schedulingpolicies,
    templates,
    vms,
    vnicprofiles,
)
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.store.queries import Entity

BLANK_TEMPLATE_ID = "00000000-0000-0000-0000-000000000000"
PRODUCT = {"major": 4, "minor": 5, "build": 0, "revision": 0, "full_version": "4.5.0-extnet"}

ROOTS: dict[str, type[Collection]] = {
    "datacenters": datacenters.DataCenters,
    "clusters": clusters.Clusters,
    "hosts": hosts.Hosts,
    "networks": networks.Networks,
    "vnicprofiles": vnicprofiles.VnicProfiles,
    "vms": vms.Vms,
    "macpools": macpools.MacPools,
    "templates": templates.Templates,
    "schedulingpolicies": schedulingpolicies.SchedulingPolicies,
    "openstacknetworkproviders": providers.OpenStackNetworkProviders,
    "events": events.Events,
    "jobs": jobs.Jobs,
}


def root_entity(ctx: Ctx) -> Entity:
    return {
        "href": API,
        "link": [{"href": href(name), "rel": name} for name in sorted(ROOTS)],
        "product_info": {"name": "extnet", "vendor": "extnet", "version": PRODUCT},
        "special_objects": {"blank_template": {"href": href("templates", BLANK_TEMPLATE_ID), "id": BLANK_TEMPLATE_ID}},
        "time": datetime.now(UTC),
        "authenticated_user": {"user_name": ctx.principal.name.split("@")[0], "domain": "internal",
                               "principal": ctx.principal.name, "id": ctx.principal.user_id},
    }  # fmt: skip
