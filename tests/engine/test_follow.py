"""``?follow=``: the real ovirtsdk4 (XML) and JSON read a VM with its vNICs, their profiles and its cluster in one
request; what cannot be followed is refused with the names that can."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.servers import EngineProcess

Unique = Callable[[str], str]


@pytest.fixture
def vm(system: sdk.services.SystemService, unique: Unique) -> t.Vm:
    """A VM of cluster Default with two vNICs on the ovirtmgmt profile of data center Default."""
    made = system.vms_service().add(t.Vm(name=unique("fvm"), cluster=t.Cluster(name="Default"),
                                         template=t.Template(name="Blank")))  # fmt: skip
    nics = system.vms_service().vm_service(made.id).nics_service()
    default = system.data_centers_service().list(search="name=Default")[0]
    networks = system.data_centers_service().data_center_service(default.id).networks_service().list()
    ovirtmgmt = next(n for n in networks if n.name == "ovirtmgmt")
    profile = next(p for p in system.vnic_profiles_service().list() if p.network.id == ovirtmgmt.id)
    for name in ("nic1", "nic2"):
        nics.add(t.Nic(name=name, vnic_profile=t.VnicProfile(id=profile.id)))
    return made


def test_the_sdk_reads_a_vm_with_its_nics_their_profiles_and_its_cluster(
    system: sdk.services.SystemService, vm: t.Vm
) -> None:
    got = system.vms_service().vm_service(vm.id).get(follow="nics.vnic_profile,cluster")
    assert sorted(nic.name for nic in got.nics) == ["nic1", "nic2"]
    assert {nic.vnic_profile.name for nic in got.nics} == {"ovirtmgmt"}  # the whole profile, not a reference
    assert all(nic.mac.address and nic.vm.id == vm.id for nic in got.nics)
    assert got.cluster.name == "Default" and got.cluster.id == vm.cluster.id
    assert len(got.snapshots) == 0 and got.snapshots.href == f"{vm.href}/snapshots"  # not asked for: a link

    listed = system.vms_service().list(search=f"name={vm.name}", follow="nics")
    assert [sorted(nic.name for nic in one.nics) for one in listed] == [["nic1", "nic2"]]
    assert listed[0].cluster.name is None  # a reference only, as without follow


def test_json_embeds_the_list_in_place_of_its_link(rest: httpx.Client, vm: t.Vm) -> None:
    plain = rest.get(f"vms/{vm.id}").json()
    assert "nics" in {link["rel"] for link in plain["link"]} and "nics" not in plain
    body = rest.get(f"vms/{vm.id}", params={"follow": "nics,snapshots"}).json()
    assert sorted(nic["name"] for nic in body["nics"]["nic"]) == ["nic1", "nic2"]
    assert [s["snapshot_type"] for s in body["snapshots"]["snapshot"]] == ["active"]
    assert not {"nics", "snapshots"} & {link["rel"] for link in body["link"]}
    assert body["nics"]["nic"][0]["vnic_profile"].keys() == {"href", "id"}  # not followed: still a reference


def test_a_nics_profile_and_its_network_in_a_list_of_nics(rest: httpx.Client, vm: t.Vm) -> None:
    nics = rest.get(f"vms/{vm.id}/nics", params={"follow": "vnic_profile.network"}).json()["nic"]
    assert {nic["vnic_profile"]["network"]["name"] for nic in nics} == {"ovirtmgmt"}


@pytest.mark.parametrize(
    ("follow", "detail"),
    [
        ("disks", "'disks' cannot be followed from a vm: it is none of its links; these are: cluster, host, "
                  "nics, original_template, snapshots, template"),
        ("nics.bogus", "'bogus' cannot be followed from a nic"),
        ("cpu", "'cpu' cannot be followed from a vm"),  # a value the VM holds, not a link
        ("nics,", "'follow=nics,' is not a comma-separated list of link names"),
        ("Nics", "'follow=Nics' is not a comma-separated list of link names"),
    ],
)  # fmt: skip
def test_what_cannot_be_followed_is_refused_with_what_can(rest: httpx.Client, vm: t.Vm, follow: str,
                                                          detail: str) -> None:  # fmt: skip
    for path in (f"vms/{vm.id}", "vms"):
        answer = rest.get(path, params={"follow": follow})
        assert answer.status_code == 400, answer.text
        assert answer.json()["reason"] == "Bad Request" and detail in answer.json()["detail"]


def test_the_document_lists_follow_on_reads(rest: httpx.Client, engine: EngineProcess) -> None:
    document = httpx.get(f"{engine.base}/ovirt-engine/api-docs/openapi.json", headers=rest.headers, timeout=30).json()
    vm_get = document["paths"]["/ovirt-engine/api/vms/{vm_id}"]["get"]
    assert "follow" in {p["name"] for p in vm_get["parameters"]}
    assert "follow" in {p["name"] for p in document["paths"]["/ovirt-engine/api/vms"]["get"]["parameters"]}
