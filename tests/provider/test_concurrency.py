"""Many clients at once: distinct addresses and MACs until the subnet is full, then 409s; never a duplicate,
never a 5xx (SQLite serializes writers; PostgreSQL locks the subnet row)."""

from __future__ import annotations

import ipaddress
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from openstack.connection import Connection

from tests.provider.process import ProviderProcess

CLIENTS = 16


def _client(provider: ProviderProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{provider.network_url}/v2.0", headers={"X-Auth-Token": token}, timeout=120)


def _network(admin: Connection, cidr: str) -> tuple[Any, Any]:
    network = admin.network.create_network(name=f"conc-{uuid.uuid4().hex[:8]}")
    subnet = admin.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4)
    return network, subnet


def _cleanup(admin: Connection, network: Any) -> None:
    for port in admin.network.ports(network_id=network.id):
        admin.network.delete_port(port)
    admin.network.delete_network(network)


def test_many_clients_fill_one_small_subnet(provider: ProviderProcess, admin: Connection, admin_token: str) -> None:
    network, subnet = _network(admin, "10.150.0.0/27")  # pool .2 - .30: 29 addresses
    start = threading.Barrier(CLIENTS)

    def allocate(_: int) -> list[httpx.Response]:
        responses = []
        with _client(provider, admin_token) as client:
            start.wait()
            while True:
                response = client.post("/ports", json={"port": {"network_id": network.id}})
                responses.append(response)
                if response.status_code != 201:
                    return responses

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for batch in pool.map(allocate, range(CLIENTS)) for r in batch]

    statuses = Counter(r.status_code for r in results)
    assert statuses == {201: 29, 409: CLIENTS}, statuses
    for failure in (r for r in results if r.status_code == 409):
        assert failure.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    ports = [r.json()["port"] for r in results if r.status_code == 201]
    addresses = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert sorted(addresses, key=ipaddress.ip_address) == [f"10.150.0.{n}" for n in range(2, 31)]
    assert all(p["fixed_ips"][0]["subnet_id"] == subnet.id for p in ports)
    assert len({p["mac_address"] for p in ports}) == 29
    stored = list(admin.network.ports(network_id=network.id))
    assert sorted(p.fixed_ips[0]["ip_address"] for p in stored) == sorted(addresses)
    _cleanup(admin, network)


def test_concurrent_bulk_requests_are_all_or_nothing(
    provider: ProviderProcess, admin: Connection, admin_token: str
) -> None:
    network, _ = _network(admin, "10.151.0.0/26")  # 61 addresses
    start = threading.Barrier(8)

    def bulk(_: int) -> list[int]:
        statuses = []
        with _client(provider, admin_token) as client:
            start.wait()
            for _ in range(3):
                body = {"ports": [{"network_id": network.id} for _ in range(5)]}
                statuses.append(client.post("/ports", json=body).status_code)
        return statuses

    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(s for batch in pool.map(bulk, range(8)) for s in batch)
    assert set(statuses) <= {201, 409} and statuses[201] == 12, statuses  # 12 x 5 = 60 of 61 addresses
    stored = list(admin.network.ports(network_id=network.id))
    assert len(stored) == 60
    assert len({p.fixed_ips[0]["ip_address"] for p in stored}) == 60
    assert len({p.mac_address for p in stored}) == 60
    _cleanup(admin, network)


def test_same_mac_or_address_wins_once(provider: ProviderProcess, admin: Connection, admin_token: str) -> None:
    network, subnet = _network(admin, "10.152.0.0/24")
    start = threading.Barrier(CLIENTS)

    def claim(i: int) -> httpx.Response:
        port = (
            {"network_id": network.id, "mac_address": "fa:16:3e:12:34:56"}
            if i % 2
            else {"network_id": network.id, "fixed_ips": [{"ip_address": "10.152.0.100"}]}
        )
        with _client(provider, admin_token) as client:
            start.wait()
            return client.post("/ports", json={"port": port})

    with ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(claim, range(CLIENTS)))
    types = Counter(r.json()["NeutronError"]["type"] if r.status_code != 201 else "created" for r in responses)
    # a port may get both the contended MAC and the contended address, so one or two are created
    assert types["created"] in (1, 2) and set(types) <= {"created", "MacAddressInUse", "IpAddressAlreadyAllocated"}
    assert all(r.status_code in (201, 409) for r in responses)
    stored = list(admin.network.ports(network_id=network.id))
    assert sum(p.mac_address == "fa:16:3e:12:34:56" for p in stored) == 1
    assert sum(ip["ip_address"] == "10.152.0.100" for p in stored for ip in p.fixed_ips) == 1
    _cleanup(admin, network)


def test_one_default_group_per_project(provider: ProviderProcess, admin: Connection) -> None:
    name = f"conc-{uuid.uuid4().hex[:8]}"
    project = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(name=name, password="pw", domain_id="default")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    shared = admin.network.create_network(name=name, is_shared=True)
    admin.network.create_subnet(network_id=shared.id, cidr="10.153.0.0/24", ip_version=4)
    token = provider.token(name, "pw", name)
    start = threading.Barrier(8)

    def create(_: int) -> str:
        with _client(provider, token) as client:
            start.wait()
            response = client.post("/ports", json={"port": {"network_id": shared.id}})
            assert response.status_code == 201, response.text
            [group] = response.json()["port"]["security_groups"]
            return str(group)

    with ThreadPoolExecutor(8) as pool:
        used = set(pool.map(create, range(8)))
    with _client(provider, token) as client:
        groups = client.get("/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"] and used == {groups[0]["id"]}
    _cleanup(admin, shared)
