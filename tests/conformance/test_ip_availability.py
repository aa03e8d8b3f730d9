"""Network IP availability (``network-ip-availability`` and ``-details``): what the pools hold and the ports use,
per network and subnet; filters, fields, paging; admin only."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
from openstack.connection import Connection

from tests.conformance.conftest import Lab, Target, neutron_error


def _pool_size(subnet: Any) -> int:
    return sum(int(ipaddress.ip_address(pool["end"])) - int(ipaddress.ip_address(pool["start"])) + 1
               for pool in subnet.allocation_pools)  # fmt: skip


def test_what_the_pools_hold_and_the_ports_use(admin: Connection, lab: Lab, raw: httpx.Client) -> None:
    network = lab.network()
    v4 = lab.subnet(network, cidr="10.77.0.0/24", allocation_pools=[{"start": "10.77.0.10", "end": "10.77.0.19"}])
    v6 = lab.subnet(network, cidr="fd00:77::/64")
    v6 = admin.network.get_subnet(v6.id)
    lab.port(network)  # an address from each subnet's pool
    lab.port(network, fixed_ips=[{"subnet_id": v4.id, "ip_address": "10.77.0.50"}])  # outside the pool

    found = admin.network.get_network_ip_availability(network.id)
    assert (found.network_id, found.network_name, found.project_id) == (network.id, network.name, network.project_id)
    body = raw.get(f"/network-ip-availabilities/{network.id}").json()["network_ip_availability"]
    assert body["tenant_id"] == network.project_id
    subnets = {subnet["subnet_id"]: subnet for subnet in body["subnet_ip_availability"]}
    assert subnets[v4.id] == {
        "subnet_id": v4.id, "subnet_name": v4.name, "cidr": "10.77.0.0/24", "ip_version": 4, "used_ips": 2,
        "total_ips": 10, "ip_availability_details": {"total_ips_in_subnet": 254, "total_ips_in_allocation_pool": 10,
                                                     "used_ips_in_subnet": 2, "used_ips_in_allocation_pool": 1},
    }  # fmt: skip
    in_pool = _pool_size(v6)
    assert subnets[v6.id]["used_ips"] == 1 and subnets[v6.id]["total_ips"] == in_pool
    assert subnets[v6.id]["ip_availability_details"] == {
        "total_ips_in_subnet": 2**64, "total_ips_in_allocation_pool": in_pool,
        "used_ips_in_subnet": 1, "used_ips_in_allocation_pool": 1,
    }  # fmt: skip
    assert (body["used_ips"], body["total_ips"]) == (3, 10 + in_pool)
    assert body["ip_availability_details"] == {"total_ips_in_subnet": 254 + 2**64,
                                               "total_ips_in_allocation_pool": 10 + in_pool,
                                               "used_ips_in_subnet": 3, "used_ips_in_allocation_pool": 2}  # fmt: skip


def test_filters_fields_and_paging(admin: Connection, lab: Lab, raw: httpx.Client, name: Any) -> None:
    label = name("ipa")
    bare, with_v4, with_v6 = (lab.network(name=label) for _ in range(3))
    lab.subnet(with_v4, cidr="10.78.0.0/24")
    lab.subnet(with_v6, cidr="fd00:78::/64")

    def listed(query: str) -> set[str]:
        answer = raw.get(f"/network-ip-availabilities?{query}")
        assert answer.status_code == 200, answer.text
        return {item["network_id"] for item in answer.json()["network_ip_availabilities"]}

    assert listed(f"network_name={label}") == {bare.id, with_v4.id, with_v6.id}
    assert listed(f"network_id={bare.id}&network_id={with_v6.id}") == {bare.id, with_v6.id}
    assert listed(f"network_name={label}&ip_version=6") == {with_v6.id}  # only networks with such a subnet
    assert listed(f"network_name={label}&project_id={admin.current_project_id}") == {bare.id, with_v4.id, with_v6.id}
    assert listed(f"network_name={label}&tenant_id=no-such-project") == set()
    v6_only = raw.get(f"/network-ip-availabilities?network_id={with_v6.id}&ip_version=6").json()
    assert [s["ip_version"] for s in v6_only["network_ip_availabilities"][0]["subnet_ip_availability"]] == [6]
    assert {n.network_id for n in admin.network.network_ip_availabilities(network_name=label)} == listed(
        f"network_name={label}")  # fmt: skip

    narrow = raw.get(f"/network-ip-availabilities?network_id={with_v4.id}&fields=network_id&fields=used_ips")
    assert narrow.json() == {"network_ip_availabilities": [{"network_id": with_v4.id, "used_ips": 0}]}

    first = raw.get(f"/network-ip-availabilities?network_name={label}&limit=2").json()
    assert len(first["network_ip_availabilities"]) == 2
    following = next(link["href"] for link in first["network_ip_availabilities_links"] if link["rel"] == "next")
    rest = httpx.get(following, headers=raw.headers, timeout=60).json()["network_ip_availabilities"]
    seen = [item["network_id"] for item in first["network_ip_availabilities"] + rest]
    assert sorted(seen) == sorted([bare.id, with_v4.id, with_v6.id])

    bogus = raw.get("/network-ip-availabilities?subnet_id=x")
    assert neutron_error(bogus, 400, "HTTPBadRequest") == "['subnet_id'] is invalid attribute for filtering"
    missing = raw.get("/network-ip-availabilities/00000000-0000-0000-0000-000000000000")
    assert neutron_error(missing, 404, "NetworkNotFound") == (
        "Network 00000000-0000-0000-0000-000000000000 could not be found."
    )


def test_only_an_admin_sees_it(lab: Lab, raw: httpx.Client, target: Target) -> None:
    member, _project = target.member("ipa")
    own = member.network.create_network(name="ipa-own")
    lab.later(lambda: lab.admin.network.delete_network(own.id, ignore_missing=True))
    with target.raw(member.session.get_token()) as client:
        assert client.get("/network-ip-availabilities").json() == {"network_ip_availabilities": []}
        hidden = client.get(f"/network-ip-availabilities/{own.id}")
        assert neutron_error(hidden, 404, "HTTPNotFound") == "The resource could not be found."
    if target.is_extnet:  # read only; Neutron 29 answers DELETE with a 500
        for method in ("POST", "PUT", "DELETE"):
            refused = raw.request(method, f"/network-ip-availabilities/{own.id}", json={})
            assert neutron_error(refused, 405, "HTTPMethodNotAllowed")
