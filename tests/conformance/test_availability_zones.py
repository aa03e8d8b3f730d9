"""Availability zones (``availability_zone``, ``availability_zone_filter``, ``network_availability_zone``,
``router_availability_zone``): the zones of the DHCP and L3 agents, and hints on new networks and routers."""

from __future__ import annotations

from typing import Any

import httpx
from openstack.connection import Connection

from tests.conformance.conftest import AZ, Lab, Target, neutron_error


def test_the_zones_of_the_agents(raw: httpx.Client, target: Target) -> None:
    zones = raw.get("/availability_zones").json()["availability_zones"]
    assert {"name": AZ, "resource": "network", "state": "available"} in zones
    assert {"name": AZ, "resource": "router", "state": "available"} in zones
    routers = raw.get(f"/availability_zones?resource=router&name={AZ}").json()["availability_zones"]
    assert routers == [{"name": AZ, "resource": "router", "state": "available"}]
    assert raw.get("/availability_zones?state=unavailable&name=" + AZ).json() == {"availability_zones": []}
    bogus = raw.get("/availability_zones?bogus=1")
    assert neutron_error(bogus, 400, "HTTPBadRequest") == "['bogus'] is invalid attribute for filtering"
    member, _project = target.member("az")
    seen = {(zone.name, zone.resource) for zone in member.network.availability_zones()}
    assert seen >= {(AZ, "network"), (AZ, "router")}


def test_hints_on_new_networks_and_routers(admin: Connection, lab: Lab, raw: httpx.Client, name: Any) -> None:
    network = lab.network(availability_zone_hints=[AZ])
    assert network.availability_zone_hints == [AZ] and network.availability_zones == []
    router = lab.router(availability_zone_hints=[AZ])
    assert admin.network.get_router(router.id).availability_zone_hints == [AZ]
    assert lab.network().availability_zone_hints == []

    for path, body in (("networks", {"network": {"name": name("az")}}), ("routers", {"router": {"name": name("az")}})):
        singular = next(iter(body))
        unknown = raw.post(f"/{path}", json={singular: {**body[singular], "availability_zone_hints": ["nowhere"]}})
        assert neutron_error(unknown, 404, "AvailabilityZoneNotFound") == (
            "AvailabilityZone nowhere could not be found."
        )
        not_a_list = raw.post(f"/{path}", json={singular: {**body[singular], "availability_zone_hints": AZ}})
        assert neutron_error(not_a_list, 400, "HTTPBadRequest") == (
            f"Invalid input for availability_zone_hints. Reason: '{AZ}' is not a list."
        )
    read_only = raw.put(f"/networks/{network.id}", json={"network": {"availability_zone_hints": []}})
    assert neutron_error(read_only, 400, "HTTPBadRequest") == (
        "Cannot update read-only attribute availability_zone_hints"
    )
    filtered = raw.get("/networks?availability_zone_hints=" + AZ)
    assert neutron_error(filtered, 400, "HTTPBadRequest") == (
        "['availability_zone_hints'] is invalid attribute for filtering"
    )
