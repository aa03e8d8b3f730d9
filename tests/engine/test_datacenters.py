"""Data centers through the real ovirtsdk4 (XML) and through JSON."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest


def test_default_inventory_exists(system: sdk.services.SystemService) -> None:
    dcs = system.data_centers_service().list(search="name=Default")
    assert [dc.name for dc in dcs] == ["Default"]
    networks = system.data_centers_service().data_center_service(dcs[0].id).networks_service().list()
    assert "ovirtmgmt" in [n.name for n in networks]


def test_crud(system: sdk.services.SystemService, unique: Callable[[str], str]) -> None:
    dcs = system.data_centers_service()
    name = unique("dc")
    dc = dcs.add(t.DataCenter(name=name, description="first", local=False,
                              version=t.Version(major=4, minor=6)))  # fmt: skip
    assert dc.id and dc.name == name and dc.description == "first"
    assert dc.href == f"/ovirt-engine/api/datacenters/{dc.id}"
    assert dc.version.major == 4 and dc.version.minor == 6
    assert dc.status == t.DataCenterStatus.UNINITIALIZED

    service = dcs.data_center_service(dc.id)
    assert service.get().name == name
    updated = service.update(t.DataCenter(description="second"))
    assert updated.description == "second" and updated.name == name
    assert service.get().description == "second"

    # a new data center gets its management network
    networks = service.networks_service().list()
    assert [n.name for n in networks] == ["ovirtmgmt"]
    assert networks[0].data_center.id == dc.id

    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_follow_link(connection: sdk.Connection, system: sdk.services.SystemService) -> None:
    dc = system.data_centers_service().list(search="name=Default")[0]
    clusters = connection.follow_link(dc.clusters)
    assert "Default" in [c.name for c in clusters]
    networks = connection.follow_link(dc.networks)
    assert "ovirtmgmt" in [n.name for n in networks]


def test_duplicate_name_is_a_conflict(system: sdk.services.SystemService, unique: Callable[[str], str]) -> None:
    dcs = system.data_centers_service()
    name = unique("dc")
    dc = dcs.add(t.DataCenter(name=name))
    with pytest.raises(sdk.Error) as err:
        dcs.add(t.DataCenter(name=name))
    assert err.value.code == 409
    assert f"'{name}' is already in use" in str(err.value)
    dcs.data_center_service(dc.id).remove()


def test_invalid_input_faults(system: sdk.services.SystemService) -> None:
    dcs = system.data_centers_service()
    with pytest.raises(sdk.Error) as err:
        dcs.add(t.DataCenter(name="bad name!"))
    assert err.value.code == 400 and "may contain only" in str(err.value)
    with pytest.raises(sdk.Error) as err:
        dcs.add(t.DataCenter(name="v", version=t.Version(major=3, minor=6)))
    assert err.value.code == 400 and "3.6 is not supported" in str(err.value)
    with pytest.raises(sdk.NotFoundError):
        dcs.data_center_service("6c6d3e2a-0000-4000-8000-000000000000").get()
    with pytest.raises(sdk.Error) as err:
        dcs.data_center_service("not-a-uuid").get()
    assert err.value.code == 400


def test_remove_with_clusters_needs_force(system: sdk.services.SystemService, unique: Callable[[str], str]) -> None:
    dc = system.data_centers_service().add(t.DataCenter(name=unique("dc")))
    cluster = system.clusters_service().add(
        t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=dc.id), cpu=t.Cpu(type="Intel Nehalem Family"))
    )
    service = system.data_centers_service().data_center_service(dc.id)
    with pytest.raises(sdk.Error) as err:
        service.remove()
    assert err.value.code == 409 and cluster.name in str(err.value) and "force" in str(err.value)
    service.remove(force=True)
    with pytest.raises(sdk.NotFoundError):
        system.clusters_service().cluster_service(cluster.id).get()


def test_search(system: sdk.services.SystemService, unique: Callable[[str], str]) -> None:
    dcs = system.data_centers_service()
    prefix = unique("srch")
    made = [dcs.add(t.DataCenter(name=f"{prefix}-{i}", description=f"desc {i}")) for i in range(3)]
    assert sorted(dc.name for dc in dcs.list(search=f"name={prefix}-*")) == [dc.name for dc in made]
    assert [dc.name for dc in dcs.list(search=f'name="{prefix}-1"')] == [f"{prefix}-1"]
    assert [dc.name for dc in dcs.list(search=f'name={prefix}-* and description="desc 2"')] == [f"{prefix}-2"]
    assert len(dcs.list(search=f"name={prefix}-*", max=2)) == 2
    assert [dc.name for dc in dcs.list(search="Clusters.name=Default")] == ["Default"]
    with pytest.raises(sdk.Error) as err:
        dcs.list(search="colour=red")
    assert err.value.code == 400 and "Unknown search field 'colour'" in str(err.value)
    for dc in made:
        dcs.data_center_service(dc.id).remove()


def test_json_crud(rest: httpx.Client, unique: Callable[[str], str]) -> None:
    name = unique("jdc")
    created = rest.post("datacenters", json={"name": name, "local": "false"})
    assert created.status_code == 201, created.text
    dc = created.json()
    assert dc["name"] == name and dc["local"] == "false" and dc["href"].endswith(dc["id"])
    listed = rest.get("datacenters", params={"search": f"name={name}"}).json()
    assert [d["id"] for d in listed["data_center"]] == [dc["id"]]
    updated = rest.put(f"datacenters/{dc['id']}", json={"description": "via json"})
    assert updated.status_code == 200 and updated.json()["description"] == "via json"
    removed = rest.delete(f"datacenters/{dc['id']}")
    assert removed.status_code == 200
    missing = rest.get(f"datacenters/{dc['id']}")
    assert missing.status_code == 404 and missing.json()["reason"] == "Not Found"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"name": ', "Malformed JSON"),
        ('{"name": "x", "colour": "red"}', "Unknown field 'colour'"),
        ('{"name": "x", "local": "maybe"}', "Invalid boolean"),
        ('{"name": "x", "version": {"major": "four"}}', "Invalid integer"),
        ('["a"]', "Expected a JSON object"),
    ],
)
def test_json_bad_input(rest: httpx.Client, body: str, fragment: str) -> None:
    response = rest.post("datacenters", content=body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["detail"]
