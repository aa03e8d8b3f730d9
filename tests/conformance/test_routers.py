"""Routers: external gateway, interfaces by subnet and by port, extra routes, and the in-use rules."""

from __future__ import annotations

from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Lab, neutron_error


def _external(lab: Lab, cidr: str) -> tuple[Any, Any]:
    network = lab.network(is_router_external=True)
    return network, lab.subnet(network, cidr)


def test_crud_cycle_with_gateway(admin: Connection, lab: Lab, name: Any) -> None:
    external, ext_subnet = _external(lab, "172.24.10.0/24")
    router = lab.router(external_gateway_info={"network_id": external.id})
    assert router.status == "ACTIVE" and router.is_admin_state_up is True and router.routes == []
    info = router.external_gateway_info
    assert info["network_id"] == external.id and info["enable_snat"] is True
    [gateway_ip] = info["external_fixed_ips"]
    assert gateway_ip["subnet_id"] == ext_subnet.id
    [gateway_port] = list(admin.network.ports(device_id=router.id, device_owner="network:router_gateway"))
    assert gateway_port.fixed_ips == [gateway_ip] and gateway_port.network_id == external.id

    new_name = name("renamed")
    updated = admin.network.update_router(router, name=new_name, description="d")
    assert (updated.name, updated.description) == (new_name, "d")
    cleared = admin.network.update_router(router, external_gateway_info={})
    assert cleared.external_gateway_info is None
    assert list(admin.network.ports(device_id=router.id)) == []

    admin.network.delete_router(router)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.network.get_router(router.id)


def test_gateway_needs_an_external_network(lab: Lab, raw: httpx.Client, name: Any) -> None:
    internal = lab.network()
    response = raw.post(
        "/routers", json={"router": {"name": name("r"), "external_gateway_info": {"network_id": internal.id}}}
    )
    assert neutron_error(response, 400, "BadRequest") == (
        f"Bad router request: Network {internal.id} is not an external network."
    )


def test_interfaces_and_routes(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    subnet = lab.subnet(network, "10.110.0.0/24")
    router = lab.router()
    added = admin.network.add_interface_to_router(router, subnet_id=subnet.id)
    assert added["id"] == router.id and added["subnet_id"] == subnet.id and added["network_id"] == network.id
    assert added["subnet_ids"] == [subnet.id]
    port = admin.network.get_port(added["port_id"])
    assert (port.device_owner, port.device_id) == ("network:router_interface", router.id)
    assert port.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.110.0.1"}]

    again = raw.put(f"/routers/{router.id}/add_router_interface", json={"subnet_id": subnet.id})
    assert neutron_error(again, 400, "BadRequest") == (
        f"Bad router request: Router already has a port on subnet {subnet.id}."
    )
    neither = raw.put(f"/routers/{router.id}/add_router_interface", json={})
    assert (
        neutron_error(neither, 400, "BadRequest")
        == "Bad router request: Either subnet_id or port_id must be specified."
    )

    bad_route = raw.put(
        f"/routers/{router.id}",
        json={"router": {"routes": [{"destination": "10.111.0.0/24", "nexthop": "10.199.0.5"}]}},
    )
    assert neutron_error(bad_route, 400, "InvalidRoutes").endswith("the nexthop is not connected with router")
    routed = admin.network.update_router(router, routes=[{"destination": "10.111.0.0/24", "nexthop": "10.110.0.5"}])
    assert routed.routes == [{"destination": "10.111.0.0/24", "nexthop": "10.110.0.5"}]

    needed = raw.put(f"/routers/{router.id}/remove_router_interface", json={"subnet_id": subnet.id})
    assert neutron_error(needed, 409, "RouterInterfaceInUseByRoute") == (
        f"Router interface for subnet {subnet.id} on router {router.id} cannot be deleted, as it is required by one "
        "or more routes."
    )
    in_use = raw.delete(f"/routers/{router.id}")
    assert neutron_error(in_use, 409, "RouterInUse") == f"Router {router.id} has ports still attached: {port.id}"
    direct = raw.delete(f"/ports/{port.id}")
    assert neutron_error(direct, 409, "ServicePortInUse") == (
        f"Port {port.id} cannot be deleted directly via the port API: has device owner network:router_interface."
    )
    subnet_in_use = raw.delete(f"/subnets/{subnet.id}")
    neutron_error(subnet_in_use, 409, "SubnetInUse")

    admin.network.update_router(router, routes=[])
    removed = admin.network.remove_interface_from_router(router, subnet_id=subnet.id)
    assert removed["port_id"] == port.id and removed["subnet_id"] == subnet.id
    assert admin.network.find_port(port.id) is None


def test_interface_by_port(admin: Connection, lab: Lab) -> None:
    network = lab.network()
    subnet = lab.subnet(network, "10.112.0.0/24")
    router = lab.router()
    port = lab.port(network, fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.112.0.50"}])
    added = admin.network.add_interface_to_router(router, port_id=port.id)
    assert added["port_id"] == port.id and added["subnet_ids"] == [subnet.id]
    attached = admin.network.get_port(port.id)
    assert (attached.device_owner, attached.device_id) == ("network:router_interface", router.id)
    admin.network.remove_interface_from_router(router, port_id=port.id)
    assert admin.network.find_port(port.id) is None


def test_ha_and_distributed(admin: Connection, lab: Lab, raw: httpx.Client, target: Any) -> None:
    router = lab.router()
    assert (router.is_ha, router.is_distributed) == (False, False)  # l3-ha and dvr, off by default
    modes = lab.router(is_ha=True, is_distributed=True)
    assert (modes.is_ha, modes.is_distributed) == (True, True)
    assert admin.network.update_router(router, is_ha=False, is_distributed=False).is_ha is False  # unchanged: fine

    refusal = "Bad router request: Cannot change {} of active routers. Please set router admin_state_up to False " \
              "prior to upgrade."  # fmt: skip
    active = raw.put(f"/routers/{router.id}", json={"router": {"distributed": True}})
    assert neutron_error(active, 400, "BadRequest") == refusal.format("the 'distributed' attribute")
    at_once = raw.put(f"/routers/{router.id}", json={"router": {"distributed": True, "admin_state_up": False}})
    assert neutron_error(at_once, 400, "BadRequest") == refusal.format("the 'distributed' attribute")  # down first
    active = raw.put(f"/routers/{router.id}", json={"router": {"ha": True}})
    assert neutron_error(active, 400, "BadRequest") == refusal.format("HA attribute")
    at_once = raw.put(f"/routers/{router.id}", json={"router": {"ha": True, "admin_state_up": False}})
    assert at_once.status_code == 200 and at_once.json()["router"]["ha"] is True  # down once the update is done
    changed = admin.network.update_router(router, is_distributed=True)
    assert (changed.is_ha, changed.is_distributed, changed.is_admin_state_up) == (True, True, False)
    assert admin.network.get_router(router.id).is_distributed is True
    assert admin.network.update_router(router, is_ha=False, is_distributed=False).is_distributed is False

    bad = raw.post("/routers", json={"router": {"ha": "maybe"}})
    assert neutron_error(bad, 400, "InvalidInput").endswith("'maybe' cannot be converted to boolean.")
    unset = raw.post("/routers", json={"router": {"name": lab.name("r"), "ha": None}})
    assert unset.status_code == 201 and unset.json()["router"]["ha"] is False
    admin.network.delete_router(unset.json()["router"]["id"])
    filtered = raw.get("/routers?ha=true")
    assert neutron_error(filtered, 400, "HTTPBadRequest") == "['ha'] is invalid attribute for filtering"

    member, _project = target.member("modes")
    own = member.network.create_router(name=lab.name("r"))
    lab.later(lambda: admin.network.delete_router(own.id, ignore_missing=True))
    with target.raw(member.session.get_token()) as client:
        shown = client.get(f"/routers/{own.id}").json()["router"]
        assert "ha" not in shown and "distributed" not in shown  # admin only
        for attribute in ("ha", "distributed"):
            for value in (True, False):  # even the default
                refused = client.post("/routers", json={"router": {"name": "x", attribute: value}})
                assert neutron_error(refused, 403, "PolicyNotAuthorized") == (
                    f"(rule:create_router and rule:create_router:{attribute}) is disallowed by policy"
                )
            refused = client.put(f"/routers/{own.id}", json={"router": {attribute: False}})
            assert neutron_error(refused, 403, "PolicyNotAuthorized").startswith("(rule:update_router and rule:")
