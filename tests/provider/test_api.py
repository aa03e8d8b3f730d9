"""The provider's HTTP behaviour beyond what the conformance suite checks against Neutron: exact pagination links,
hostile input, ``--auth none``, large collections, and the response headers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import openstack
from openstack.connection import Connection

from tests.provider.process import ProviderProcess, run_provider


def _network_with_ports(admin: Connection, count: int, cidr: str) -> tuple[Any, list[str]]:
    network = admin.network.create_network(name=f"api-{uuid.uuid4().hex[:8]}")
    admin.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4)
    ports = admin.network.create_ports([{"network_id": network.id, "name": f"p{i:03d}"} for i in range(count)])
    return network, sorted(p.id for p in ports)


def _delete(admin: Connection, network: Any) -> None:
    for port in admin.network.ports(network_id=network.id):
        admin.network.delete_port(port)
    admin.network.delete_network(network)


def test_pagination_links_only_where_there_is_more(admin: Connection, api: httpx.Client) -> None:
    network, ids = _network_with_ports(admin, 6, "10.180.0.0/24")
    base = f"/ports?network_id={network.id}&fields=id&limit=3"
    first = api.get(base).json()
    assert [link["rel"] for link in first["ports_links"]] == ["next"]  # Neutron also sends "previous" here
    second = api.get(f"{base}&marker={ids[2]}").json()
    assert [p["id"] for p in second["ports"]] == ids[3:]
    assert [link["rel"] for link in second["ports_links"]] == ["previous"]  # full page, but nothing after it
    previous = second["ports_links"][0]["href"]
    assert f"marker={ids[3]}" in previous and "page_reverse=True" in previous
    back = api.get(previous.split("/v2.0", 1)[1]).json()
    assert [p["id"] for p in back["ports"]] == ids[:3] and back["ports_links"][0]["rel"] == "next"
    everything = api.get(f"/ports?network_id={network.id}&fields=id&limit=0").json()
    assert [p["id"] for p in everything["ports"]] == ids and "ports_links" not in everything
    huge = api.get(f"/ports?network_id={network.id}&fields=id&limit=99999999999").json()
    assert len(huge["ports"]) == 6 and huge["ports_links"] == []
    _delete(admin, network)


def test_sorting_keeps_pages_stable_with_equal_and_null_keys(admin: Connection, api: httpx.Client) -> None:
    network = admin.network.create_network(name=f"api-{uuid.uuid4().hex[:8]}")
    subnets = [
        admin.network.create_subnet(
            network_id=network.id, cidr=f"10.181.{i}.0/24", ip_version=4, gateway_ip=None if i % 2 else f"10.181.{i}.1"
        )
        for i in range(7)
    ]
    query = f"/subnets?network_id={network.id}&fields=id&fields=gateway_ip&sort_key=gateway_ip&sort_dir=desc&limit=2"
    seen: list[str] = []
    marker = ""
    while True:
        page = api.get(query + marker).json()
        seen += [s["id"] for s in page["subnets"]]
        following = [link["href"] for link in page["subnets_links"] if link["rel"] == "next"]
        if not following:
            break
        marker = "&marker=" + following[0].split("marker=")[1].split("&")[0]
    assert sorted(seen) == sorted(s.id for s in subnets) and len(seen) == 7
    admin.network.delete_network(network)


def test_hostile_input(api: httpx.Client, provider: ProviderProcess, admin_token: str) -> None:
    assert api.post("/networks", json={"network": {"name": "a\u0000b"}}).status_code == 400
    assert api.get("/networks", params={"name": "a\u0000b"}).status_code == 400
    assert api.get("/networks/a%00b").status_code == 400
    assert api.get("/networks?mtu=99999999999999999999999").status_code == 400
    deep = b'{"network": {"name": "x", "description": ' + b"[" * 3000 + b"]" * 3000 + b"}}"
    assert api.post("/networks", content=deep).status_code == 400
    nested = b'{"network": {"name": "x", "description": ' + b"[" * 900 + b"]" * 900 + b"}}"
    assert api.post("/networks", content=nested).status_code == 400
    big = httpx.post(
        f"{provider.network_url}/v2.0/networks",
        content=b"x" * (9 * 1024 * 1024),
        headers={"X-Auth-Token": admin_token, "Content-Type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"
    long_id = api.get(f"/ports/{'x' * 5000}")
    assert long_id.status_code == 404
    assert api.get("/networks.json").status_code == 200


def test_headers(api: httpx.Client) -> None:
    response = api.get("/networks?limit=1")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-openstack-request-id"].startswith("req-")
    assert int(response.headers["content-length"]) == len(response.content)


def test_unauthenticated(provider: ProviderProcess) -> None:
    response = httpx.get(f"{provider.network_url}/v2.0/networks")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Keystone uri="{provider.identity_url}"'
    assert httpx.get(f"{provider.network_url}/").status_code == 200  # version discovery needs no token


def test_auth_none(tmp_path: Path) -> None:
    with run_provider(tmp_path / "p", extra_args=["--auth", "none"]) as process:
        conn = openstack.connect(auth_type="none", network_endpoint_override=process.network_url)
        network = conn.network.create_network(name="open")
        subnet = conn.network.create_subnet(network_id=network.id, cidr="10.182.0.0/24", ip_version=4)
        port = conn.network.create_port(network_id=network.id)
        assert port.fixed_ips[0]["subnet_id"] == subnet.id
        assert port.binding_vif_type == "unbound"  # binding attributes are visible: the caller is the admin
        admin_project = process.connect().current_project_id
        assert network.project_id == admin_project
        assert [n.id for n in conn.network.networks(name="open")] == [network.id]
        conn.network.delete_port(port)
        conn.network.delete_network(network)


def test_large_listing_with_device_id_filter(admin: Connection, api: httpx.Client) -> None:
    network, ids = _network_with_ports(admin, 300, "10.183.0.0/22")
    target = ids[150]
    admin.network.update_port(target, device_id="the-vm")
    found = api.get("/ports", params={"device_id": "the-vm"}).json()["ports"]
    assert [p["id"] for p in found] == [target]
    listed = list(admin.network.ports(network_id=network.id, limit=64))
    assert sorted(p.id for p in listed) == ids
    assert len({p.fixed_ips[0]["ip_address"] for p in listed}) == 300
    _delete(admin, network)
