"""Floating IPs (``router``'s floatingips, ``fip-port-details``, ``floatingip-pools``): addresses of an external
network, associated with a port a router connects to it; the interlocks with routers and ports; quota; policy."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error


def _topology(lab: Lab, external_cidr: str, inner_cidr: str, conn: Connection | None = None) -> dict[str, Any]:
    """An external network, an inner network with a port, and a router between them (gateway and interface)."""
    external = lab.network(is_router_external=True)
    external_subnet = lab.subnet(external, cidr=external_cidr)
    inner = lab.network(conn=conn)
    inner_subnet = lab.subnet(inner, cidr=inner_cidr, conn=conn)
    port = lab.port(inner, conn=conn, name=lab.name("vm"))
    router = lab.router(conn=conn, external_gateway_info={"network_id": external.id})
    (conn or lab.admin).network.add_interface_to_router(router, subnet_id=inner_subnet.id)
    lab.later(lambda: lab.admin.network.remove_interface_from_router(router, subnet_id=inner_subnet.id))
    return {"external": external, "external_subnet": external_subnet, "inner": inner, "inner_subnet": inner_subnet,
            "port": port, "router": router}  # fmt: skip


def _fip(raw: httpx.Client, lab: Lab, **body: Any) -> dict[str, Any]:
    created = raw.post("/floatingips", json={"floatingip": body})
    assert created.status_code == 201, created.text
    fip: dict[str, Any] = created.json()["floatingip"]
    lab.later(lambda: lab.admin.network.delete_ip(fip["id"], ignore_missing=True))
    return fip


def test_create_associate_disassociate(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    external = lab.network(is_router_external=True)
    external_subnet = lab.subnet(external, cidr="172.31.10.0/24")
    inner = lab.network()
    inner_subnet = lab.subnet(inner, cidr="10.31.10.0/24")
    port = lab.port(inner, name=lab.name("vm"))

    fip = _fip(raw, lab, floating_network_id=external.id)
    assert {k: fip[k] for k in ("router_id", "port_id", "fixed_ip_address", "status", "port_details")} == {
        "router_id": None, "port_id": None, "fixed_ip_address": None, "status": "DOWN", "port_details": None}
    assert ipaddress.ip_address(fip["floating_ip_address"]) in ipaddress.ip_network("172.31.10.0/24")
    assert fip["project_id"] == fip["tenant_id"] == admin.current_project_id and fip["tags"] == []
    [held] = list(admin.network.ports(device_id=fip["id"]))
    assert held.device_owner == "network:floatingip" and held.network_id == external.id
    assert held.fixed_ips == [{"subnet_id": external_subnet.id, "ip_address": fip["floating_ip_address"]}]
    direct = raw.delete(f"/ports/{held.id}")
    assert neutron_error(direct, 409, "ServicePortInUse").endswith("has device owner network:floatingip.")

    unreachable = raw.put(f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": port.id}})
    assert neutron_error(unreachable, 404, "ExternalGatewayForFloatingIPNotFound") == (
        f"External network {external.id} is not reachable from subnet {inner_subnet.id}.  Therefore, cannot "
        f"associate Port {port.id} with a Floating IP."
    )
    router = lab.router(external_gateway_info={"network_id": external.id})
    admin.network.add_interface_to_router(router, subnet_id=inner_subnet.id)
    associated = raw.put(f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": port.id}}).json()["floatingip"]
    assert (associated["router_id"], associated["port_id"]) == (router.id, port.id)
    assert associated["fixed_ip_address"] == port.fixed_ips[0]["ip_address"]
    assert associated["port_details"] == {"name": port.name, "network_id": inner.id, "mac_address": port.mac_address,
                                          "admin_state_up": True, "status": port.status, "device_id": "",
                                          "device_owner": ""}  # fmt: skip

    second = raw.post("/floatingips", json={"floatingip": {"floating_network_id": external.id,
                                                           "floating_ip_address": "172.31.10.99",
                                                           "port_id": port.id}})  # fmt: skip
    assert neutron_error(second, 409, "FloatingIPPortAlreadyAssociated").endswith(
        f"with port {port.id} using fixed IP {associated['fixed_ip_address']}, as that fixed IP already has a floating "
        f"IP on external network {external.id}.")  # fmt: skip
    assert list(admin.network.ips(floating_ip_address="172.31.10.99")) == []  # refused: nothing made
    fixed = _fip(raw, lab, floating_network_id=external.id, floating_ip_address="172.31.10.99")
    assert fixed["floating_ip_address"] == "172.31.10.99"

    in_use = raw.put(f"/routers/{router.id}/remove_router_interface", json={"subnet_id": inner_subnet.id})
    assert neutron_error(in_use, 409, "RouterInterfaceInUseByFloatingIP") == (
        f"Router interface for subnet {inner_subnet.id} on router {router.id} cannot be deleted, as it is required by "
        "one or more floating IPs."
    )
    gateway = raw.put(f"/routers/{router.id}", json={"router": {"external_gateway_info": {}}})
    assert neutron_error(gateway, 409, "RouterExternalGatewayInUseByFloatingIp") == (
        f"Gateway cannot be updated for router {router.id}, since a gateway to external network {external.id} is "
        "required by one or more floating IPs."
    )

    def ids(query: str) -> set[str]:
        found = raw.get(f"/floatingips?floating_network_id={external.id}&{query}").json()["floatingips"]
        return {f["id"] for f in found}

    assert ids(f"port_id={port.id}") == ids(f"router_id={router.id}") == {fip["id"]}
    assert ids("status=DOWN") == {fip["id"], fixed["id"]}
    assert ids("floating_ip_address=172.31.10.99") == {fixed["id"]}
    assert {ip.id for ip in admin.network.ips(port_id=port.id)} == {fip["id"]}

    cleared = raw.put(f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": None}}).json()["floatingip"]
    assert (cleared["router_id"], cleared["port_id"], cleared["fixed_ip_address"], cleared["port_details"]) == (
        None, None, None, None)  # fmt: skip
    admin.network.update_ip(fip["id"], port_id=port.id)
    admin.network.delete_port(port)  # the floating IP stays, associated with nothing
    assert admin.network.get_ip(fip["id"]).port_id is None
    admin.network.remove_interface_from_router(router, subnet_id=inner_subnet.id)  # no longer in use


def test_pools_errors_and_tags(admin: Connection, lab: Lab, raw: httpx.Client, name: Any) -> None:
    external = lab.network(is_router_external=True)
    subnet = lab.subnet(external, cidr="172.31.11.0/24", name=name("pool"))
    pools = [p for p in raw.get("/floatingip_pools").json()["floatingip_pools"] if p["network_id"] == external.id]
    assert pools == [{"subnet_id": subnet.id, "subnet_name": subnet.name, "project_id": admin.current_project_id,
                      "tenant_id": admin.current_project_id, "network_id": external.id, "cidr": "172.31.11.0/24"}]
    filtered = raw.get(f"/floatingip_pools?network_id={external.id}")
    assert neutron_error(filtered, 400, "HTTPBadRequest") == "['network_id'] is invalid attribute for filtering"
    inner = lab.network()
    not_external = raw.post("/floatingips", json={"floatingip": {"floating_network_id": inner.id}})
    assert neutron_error(not_external, 400, "BadRequest") == (
        f"Bad floatingip request: Network {inner.id} is not a valid external network."
    )
    missing = "00000000-0000-0000-0000-0000000000ab"
    absent = raw.post("/floatingips", json={"floatingip": {"floating_network_id": missing}})
    assert neutron_error(absent, 404, "NetworkNotFound") == f"Network {missing} could not be found."
    fip = _fip(raw, lab, floating_network_id=external.id, description="tagged")
    admin.network.set_tags(admin.network.get_ip(fip["id"]), ["blue"])
    assert admin.network.get_ip(fip["id"]).tags == ["blue"]
    assert {ip.id for ip in admin.network.ips(tags="blue")} == {fip["id"]}


def test_a_project_s_floating_ips_and_quota(lab: Lab, raw: httpx.Client, target: Target) -> None:
    member, project = target.member("fip")
    parts = _topology(lab, "172.31.12.0/24", "10.31.12.0/24", conn=member)
    external, port = parts["external"], parts["port"]
    mine = member.network.create_ip(floating_network_id=external.id, port_id=port.id)
    lab.later(lambda: lab.admin.network.delete_ip(mine.id, ignore_missing=True))
    assert (mine.project_id, mine.router_id, mine.port_id) == (project, parts["router"].id, port.id)
    theirs = _fip(raw, lab, floating_network_id=external.id)
    with target.raw(member.session.get_token()) as client:
        seen = {f["id"] for f in client.get(f"/floatingips?floating_network_id={external.id}").json()["floatingips"]}
        assert seen == {mine.id}  # not the admin's
        hidden = client.get(f"/floatingips/{theirs['id']}")
        assert neutron_error(hidden, 404, "FloatingIPNotFound").startswith(f"Floating IP {theirs['id']} could not")
    raw.put(f"/quotas/{project}", json={"quota": {"floatingip": 1}})
    with target.raw(member.session.get_token()) as client:
        refused = client.post("/floatingips", json={"floatingip": {"floating_network_id": external.id}})
        assert neutron_error(refused, 409, "OverQuota") == "Quota exceeded for resources: ['floatingip']."
    raw.delete(f"/quotas/{project}")
    member.network.update_ip(mine, port_id=None)
