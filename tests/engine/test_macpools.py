"""MAC pools through the real ovirtsdk4 (XML) and through JSON, and the pure MAC helpers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from extnet.engine.domain import mac

Unique = Callable[[str], str]


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def ranges_of(pool: t.MacPool) -> list[tuple[str, str]]:
    return [(r.from_, r.to) for r in pool.ranges]


def test_default_pool(system: sdk.services.SystemService) -> None:
    pools = {pool.name: pool for pool in system.mac_pools_service().list()}
    default = pools["Default"]
    assert default.default_pool is True and default.allow_duplicates is False
    assert ranges_of(default) == [("56:6f:00:00:00:00", "56:6f:00:ff:ff:ff")]
    err = fault(system.mac_pools_service().mac_pool_service(default.id).remove)
    assert err.code == 409 and "Cannot remove MAC Pool." in str(err)
    assert "MAC pool 'Default' is the default pool and cannot be removed" in str(err)


def test_crud(system: sdk.services.SystemService, unique: Unique) -> None:
    pools = system.mac_pools_service()
    pool = pools.add(
        t.MacPool(name=unique("pool"), description="first", allow_duplicates=False,
                  ranges=[t.Range(from_="02:00:00:00:00:00", to="02:00:00:00:00:FF"),
                          t.Range(from_="02:00:00:01:00:00", to="02:00:00:01:00:00")])
    )  # fmt: skip
    assert pool.default_pool is False and pool.description == "first"
    assert ranges_of(pool) == [("02:00:00:00:00:00", "02:00:00:00:00:ff"), ("02:00:00:01:00:00", "02:00:00:01:00:00")]
    service = pools.mac_pool_service(pool.id)
    assert service.get().name == pool.name
    new_name = unique("renamed")
    wider = [t.Range(from_="06:00:00:00:00:00", to="06:00:00:00:ff:ff")]
    updated = service.update(t.MacPool(name=new_name, description="second", ranges=wider))
    assert (updated.name, updated.description) == (new_name, "second")
    assert ranges_of(service.get()) == [("06:00:00:00:00:00", "06:00:00:00:ff:ff")]
    err = fault(lambda: service.update(t.MacPool(ranges=[t.Range(from_="06:00:00:00:00:09", to="06:00:00:00:00:00")])))
    assert err.code == 400 and "Cannot edit MAC Pool." in str(err) and "starts after it ends" in str(err)
    err = fault(lambda: service.update(t.MacPool(name="Default")))
    assert err.code == 409 and "The MAC pool name 'Default' is already in use" in str(err)
    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_default_flag_cannot_move(system: sdk.services.SystemService) -> None:
    default = next(pool for pool in system.mac_pools_service().list() if pool.default_pool)
    err = fault(lambda: system.mac_pools_service().mac_pool_service(default.id).update(t.MacPool(default_pool=False)))
    assert err.code == 400 and "Whether MAC pool 'Default' is the default pool cannot be changed" in str(err)


@pytest.mark.parametrize(
    ("ranges", "fragment"),
    [
        ([], "needs at least one MAC range"),
        ([("02:00:00:00:00", "02:00:00:00:00:ff")], "The MAC range start '02:00:00:00:00' is not a valid MAC"),
        ([("02:00:00:00:00:00", "zz:00:00:00:00:ff")], "The MAC range end 'zz:00:00:00:00:ff' is not a valid MAC"),
        ([("02:00:00:00:01:00", "02:00:00:00:00:ff")], "starts after it ends"),
        ([("01:00:00:00:00:00", "01:00:00:00:00:ff")], "includes multicast addresses (first octet 01)"),
        ([("00:ff:00:00:00:00", "02:00:00:00:00:00")], "includes multicast addresses (first octet 01)"),
    ],
)
def test_invalid_ranges(
    system: sdk.services.SystemService, unique: Unique, ranges: list[tuple[str, str]], fragment: str
) -> None:
    pool = t.MacPool(name=unique("pool"), ranges=[t.Range(from_=a, to=b) for a, b in ranges])
    err = fault(lambda: system.mac_pools_service().add(pool))
    assert err.code == 400 and "Cannot add MAC Pool." in str(err) and fragment in str(err), str(err)


def test_missing_range_end(rest: httpx.Client, unique: Unique) -> None:
    body = {"name": unique("pool"), "ranges": {"range": [{"from": "02:00:00:00:00:00"}]}}
    response = rest.post("macpools", json=body)
    assert response.status_code == 400 and "A MAC range needs a 'to' address" in response.json()["detail"]


def test_flags(system: sdk.services.SystemService, unique: Unique) -> None:
    one = [t.Range(from_="02:00:00:00:00:00", to="02:00:00:00:00:0f")]
    err = fault(lambda: system.mac_pools_service().add(t.MacPool(name=unique("p"), allow_duplicates=True, ranges=one)))
    assert err.code == 400 and "only allow_duplicates=false is supported" in str(err)
    err = fault(lambda: system.mac_pools_service().add(t.MacPool(name=unique("p"), default_pool=True, ranges=one)))
    assert err.code == 400 and "is the default pool cannot be changed" in str(err)
    pool = system.mac_pools_service().add(t.MacPool(name=unique("p"), ranges=one))
    service = system.mac_pools_service().mac_pool_service(pool.id)
    err = fault(lambda: service.update(t.MacPool(allow_duplicates=True)))
    assert err.code == 400 and "Cannot edit MAC Pool." in str(err)
    service.remove()


def test_unique_name(system: sdk.services.SystemService, unique: Unique) -> None:
    one = [t.Range(from_="02:00:00:00:00:00", to="02:00:00:00:00:0f")]
    pool = system.mac_pools_service().add(t.MacPool(name=unique("p"), ranges=one))
    err = fault(lambda: system.mac_pools_service().add(t.MacPool(name=pool.name, ranges=one)))
    assert err.code == 409 and f"The MAC pool name '{pool.name}' is already in use" in str(err)
    system.mac_pools_service().mac_pool_service(pool.id).remove()


def test_pool_of_a_cluster_cannot_be_removed(system: sdk.services.SystemService, unique: Unique) -> None:
    pool = system.mac_pools_service().add(
        t.MacPool(name=unique("p"), ranges=[t.Range(from_="02:00:00:00:00:00", to="02:00:00:00:00:0f")])
    )
    dc = system.data_centers_service().add(t.DataCenter(name=unique("mdc")))
    cluster = system.clusters_service().add(
        t.Cluster(name=unique("mcl"), data_center=t.DataCenter(id=dc.id), cpu=t.Cpu(type="Intel Nehalem Family"),
                  mac_pool=t.MacPool(id=pool.id))
    )  # fmt: skip
    service = system.mac_pools_service().mac_pool_service(pool.id)
    err = fault(service.remove)
    assert err.code == 409 and f"MAC pool '{pool.name}' is used by clusters {cluster.name}" in str(err)
    system.data_centers_service().data_center_service(dc.id).remove(force=True)
    service.remove()


def test_json_flow(rest: httpx.Client, unique: Unique) -> None:
    body = {"name": unique("jpool"), "ranges": {"range": [{"from": "0a:00:00:00:00:00", "to": "0a:00:00:00:00:ff"}]}}
    created = rest.post("macpools", json=body)
    assert created.status_code == 201, created.text
    pool = created.json()
    assert pool["ranges"]["range"] == [{"from": "0a:00:00:00:00:00", "to": "0a:00:00:00:00:ff"}]
    assert pool["allow_duplicates"] == "false" and pool["default_pool"] == "false"
    assert pool["id"] in [p["id"] for p in rest.get("macpools").json()["mac_pool"]]
    refused = rest.get("macpools", params={"search": "name=x"})
    assert refused.status_code == 400 and "does not support search" in refused.json()["detail"]
    assert rest.delete(f"macpools/{pool['id']}").status_code == 200
    assert rest.get(f"macpools/{pool['id']}").status_code == 404


# --- the pure helpers ---------------------------------------------------------------------------------------


def test_mac_conversions() -> None:
    assert mac.mac_to_int("00:1A:4a:16:01:51") == 0x001A4A160151
    assert mac.int_to_mac(0x001A4A160151) == "00:1a:4a:16:01:51"
    assert mac.normalize("AA:BB:CC:DD:EE:FF") == "aa:bb:cc:dd:ee:ff"
    with pytest.raises(ValueError):
        mac.mac_to_int("00-1a-4a-16-01-51")
    with pytest.raises(ValueError):
        mac.int_to_mac(1 << 48)
    assert list(mac.iterate("02:00:00:00:00:fe", "02:00:00:00:01:00")) == [
        "02:00:00:00:00:fe", "02:00:00:00:00:ff", "02:00:00:00:01:00",
    ]  # fmt: skip
    assert mac.range_size("02:00:00:00:00:00", "02:00:00:00:00:ff") == 256


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is empty"),
        ("00:1a:4a:16:01", "is not valid"),
        ("00:1a:4a:16:01:5g", "is not valid"),
        ("00:00:00:00:00:00", "all zeros"),
        ("01:00:5e:00:00:01", "multicast"),
        ("ff:ff:ff:ff:ff:ff", "multicast"),
    ],
)
def test_mac_problems(text: str, fragment: str) -> None:
    problem = mac.mac_problem(text)
    assert problem is not None and fragment in problem


def test_first_free() -> None:
    ranges = [("02:00:00:00:00:00", "02:00:00:00:00:02"), ("06:00:00:00:00:00", "06:00:00:00:00:01")]
    assert mac.first_free(ranges, set()) == "02:00:00:00:00:00"
    assert mac.first_free(ranges, {"02:00:00:00:00:00", "02:00:00:00:00:02"}) == "02:00:00:00:00:01"
    taken = {"02:00:00:00:00:00", "02:00:00:00:00:01", "02:00:00:00:00:02"}
    assert mac.first_free(ranges, taken) == "06:00:00:00:00:00"
    assert mac.first_free(ranges, taken | {"06:00:00:00:00:00", "06:00:00:00:00:01"}) is None
    assert mac.first_free(ranges, {"ff:00:00:00:00:00"}) == "02:00:00:00:00:00"  # outside every range
