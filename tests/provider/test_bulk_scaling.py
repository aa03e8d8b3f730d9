"""Bulk creation stays linear: a bulk request reads as many rows and runs as many statements with 20 or with 400
networks (ports, subnets) already there. Counted, not timed: the provider runs in this process on real sockets and
every statement of its store goes through a counter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from extnet.provider.app import bind_sockets, build_provider, uvicorn_config
from extnet.provider.service import ports as ports_service
from extnet.provider.settings import ProviderSettings
from extnet.provider.store.sql import SqlTx
from tests.polling import until
from tests.provider.process import ADMIN_PASSWORD, issue_token
from tests.servers import free_port, scratch_database

BULK = 20
GROWN = 400
ROW_SLACK = 10  # rows a request may read beyond the first measurement (e.g. an IPAM window that moved)


@dataclass
class Reads:
    statements: int = 0
    rows: int = 0


class CountingTx:
    """Wraps ``SqlTx._execute``: counts statements and the rows they returned (the result is buffered and handed
    on unchanged)."""

    def __init__(self) -> None:
        self.reads = Reads()
        self.original = SqlTx._execute

    def __call__(self, tx: SqlTx, stmt: Any, params: Any = None) -> Any:
        result = self.original(tx, stmt, params)
        self.reads.statements += 1
        if not result.returns_rows:
            return result
        frozen = result.freeze()
        self.reads.rows += len(frozen.data)
        return frozen()


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory, provider_database: str | None) -> Iterator[tuple[Any, Any]]:
    """(an admin HTTP client of an in-process provider on a database of its own, the counter)."""
    counter = CountingTx()
    patch = pytest.MonkeyPatch()
    patch.setattr(SqlTx, "_execute", lambda tx, stmt, params=None: counter(tx, stmt, params))
    server_url = None if provider_database is None else provider_database.rsplit("/", 1)[0] + "/postgres"
    with scratch_database(server_url) as url:
        yield from _serve(tmp_path_factory.mktemp("bulk"), url, counter)
    patch.undo()


def _serve(data_dir: Path, url: str | None, counter: CountingTx) -> Iterator[tuple[Any, Any]]:
    settings = ProviderSettings(
        listen=f"127.0.0.1:{free_port()}",
        keystone_listen=f"127.0.0.1:{free_port()}",
        data_dir=data_dir,
        database_url=url,
        log_level="warning",
        EXTNET_PROVIDER_ADMIN_PASSWORD=ADMIN_PASSWORD,  # the field's name is not one of its aliases
    )
    provider = build_provider(settings)
    server = uvicorn.Server(uvicorn_config(settings, provider.app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": bind_sockets(settings)}, daemon=True)
    thread.start()
    try:
        until(lambda: server.started, "the in-process provider serves")
        token = issue_token(f"{settings.identity_url()}/v3", "admin", ADMIN_PASSWORD, "admin")
        headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
        with httpx.Client(base_url=f"{settings.network_url()}/v2.0", headers=headers, timeout=120) as api:
            yield api, counter
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        provider.dispose()


def _create(api: httpx.Client, plural: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = api.post(f"/{plural}", json={plural: items})
    assert response.status_code == 201, response.text
    created: list[dict[str, Any]] = response.json()[plural]
    assert len(created) == len(items)
    return created


def _measured(api: httpx.Client, counter: CountingTx, plural: str, items: list[dict[str, Any]]) -> Reads:
    counter.reads = reads = Reads()
    _create(api, plural, items)
    counter.reads = Reads()
    return reads


def _assert_flat(before: Reads, after: Reads) -> None:
    assert after.statements == before.statements, (before, after)
    assert after.rows <= before.rows + ROW_SLACK, (before, after)


def test_bulk_networks_read_the_same_however_many_exist(counted: tuple[httpx.Client, CountingTx]) -> None:
    api, counter = counted
    _create(api, "networks", [{"name": "warm"} for _ in range(BULK)])
    before = _measured(api, counter, "networks", [{"name": "small"} for _ in range(BULK)])
    for _ in range(GROWN // 100):
        _create(api, "networks", [{"name": "grow"} for _ in range(100)])
    after = _measured(api, counter, "networks", [{"name": "large"} for _ in range(BULK)])
    _assert_flat(before, after)
    vlans = _create(api, "networks", [{"provider:network_type": "vlan"} for _ in range(3)])
    assert [n["provider:segmentation_id"] for n in vlans] == [100, 101, 102]


def test_bulk_ports_read_the_same_however_many_exist(counted: tuple[httpx.Client, CountingTx]) -> None:
    api, counter = counted
    network = _create(api, "networks", [{"name": "ports"}])[0]
    _create(api, "subnets", [{"network_id": network["id"], "ip_version": 4, "cidr": "10.9.0.0/16"}])
    port = {"network_id": network["id"]}
    _create(api, "ports", [port] * BULK)
    before = _measured(api, counter, "ports", [port] * BULK)
    for _ in range(GROWN // 100):
        _create(api, "ports", [port] * 100)
    after = _measured(api, counter, "ports", [port] * BULK)
    _assert_flat(before, after)
    listed = api.get("/ports", params={"network_id": network["id"]}).json()["ports"]
    addresses = [ip["ip_address"] for p in listed for ip in p["fixed_ips"]]
    assert len(listed) == 3 * BULK + GROWN and len(set(addresses)) == len(addresses)


def test_bulk_subnets_read_the_same_however_many_exist(counted: tuple[httpx.Client, CountingTx]) -> None:
    api, counter = counted

    def subnets(prefix: int, count: int) -> list[dict[str, Any]]:
        nets = _create(api, "networks", [{"name": "subnets"} for _ in range(count)])
        return [{"network_id": n["id"], "ip_version": 4, "cidr": f"10.{prefix}.{i}.0/24"} for i, n in enumerate(nets)]

    _create(api, "subnets", subnets(100, BULK))
    before = _measured(api, counter, "subnets", subnets(101, BULK))
    for prefix in range(102, 102 + GROWN // 100):
        _create(api, "subnets", subnets(prefix, 100))
    after = _measured(api, counter, "subnets", subnets(110, BULK))
    _assert_flat(before, after)


def test_allocation_goes_on_after_the_highest_id(counted: tuple[httpx.Client, CountingTx]) -> None:
    api, _ = counted
    geneve = {"provider:network_type": "geneve"}
    first = _create(api, "networks", [geneve] * 4)
    assert [n["provider:segmentation_id"] for n in first] == [1, 2, 3, 4]
    assert api.delete(f"/networks/{first[1]['id']}").status_code == 204
    mixed = _create(api, "networks", [{**geneve, "provider:segmentation_id": 5}, geneve, geneve])
    assert [n["provider:segmentation_id"] for n in mixed] == [5, 6, 7]
    taken = api.post("/networks", json={"network": {**geneve, "provider:segmentation_id": 6}})
    assert taken.status_code == 409 and taken.json()["NeutronError"]["type"] == "TunnelIdInUse"


def test_a_full_range_hands_out_the_ids_freed_below(counted: tuple[httpx.Client, CountingTx]) -> None:
    """physnet1's tenant VLANs are 100-200: once 200 is taken, allocation takes the lowest free id, also in the
    middle of a bulk request; with none left, Neutron's 503."""
    api, _ = counted
    vlan = {"provider:network_type": "vlan"}
    listed = api.get("/networks", params={"provider:physical_network": "physnet1"}).json()["networks"]
    filled = _create(api, "networks", [vlan] * (101 - len(listed) - 1))
    assert max(n["provider:segmentation_id"] for n in filled) == 199
    hole = filled[len(filled) // 2]
    assert api.delete(f"/networks/{hole['id']}").status_code == 204
    last = _create(api, "networks", [vlan, vlan])
    assert [n["provider:segmentation_id"] for n in last] == [200, hole["provider:segmentation_id"]]
    full = api.post("/networks", json={"network": vlan})
    assert full.status_code == 503 and full.json()["NeutronError"]["type"] == "NoNetworkAvailable"


def test_drawn_macs_in_use_are_drawn_again_not_the_request(
    counted: tuple[httpx.Client, CountingTx], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A random MAC already on the network is replaced before anything is written: at 100,000 ports on a network a
    draw meets a used address every few hundred ports, and retrying a bulk request whole for it failed (409 after
    every attempt) when the fleet simulator seeded 300,000 ports. The draws are the one thing faked here: a random
    collision cannot be made to happen for real on demand."""
    api, _ = counted
    network = _create(api, "networks", [{"name": "macs"}])[0]
    used = [f"fa:16:3e:00:00:{i:02x}" for i in range(5)]
    _create(api, "ports", [{"network_id": network["id"], "mac_address": mac} for mac in used])
    fresh = [f"fa:16:3e:00:01:{i:02x}" for i in range(20)]
    draws = iter([used[0], fresh[0], used[1], fresh[1], used[2], used[3], fresh[2], used[4], *fresh[3:]])
    drawn: list[str] = []

    def draw() -> str:
        drawn.append(next(draws))
        return drawn[-1]

    monkeypatch.setattr(ports_service, "_new_mac", draw)
    made = _create(api, "ports", [{"network_id": network["id"]} for _ in range(5)])
    # a request retried whole would have drawn again from the start and ended with other addresses
    assert {port["mac_address"] for port in made} == set(fresh[:5])
    assert len(drawn) == 10  # 5 in use, 5 fresh: each drawn once
