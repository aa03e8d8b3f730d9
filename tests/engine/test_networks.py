"""Logical networks (/networks, /datacenters/{id}/networks) through the real ovirtsdk4 (XML) and through JSON."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from extnet.engine.store.db import Database
from extnet.engine.store.models import NetworkCluster, Vm, VmNic
from tests.engine.ansible_helpers import changed, requires_ansible, run_playbook
from tests.servers import ADMIN_PASSWORD, EngineProcess

Names = Callable[[str], str]


@pytest.fixture
def dc(system: sdk.services.SystemService, unique: Names) -> t.DataCenter:
    return system.data_centers_service().add(t.DataCenter(name=unique("ndc")))


def add_vm(store: Database, cluster_id: str, profile_id: str, name: str) -> None:
    """A VM with one vNIC on the profile, written straight to the database (VMs are not this test's subject)."""
    mac = "56:6f:ee:" + ":".join(uuid.uuid4().hex[i : i + 2] for i in (0, 2, 4))
    with store.transaction() as session:
        vm = Vm(name=name, cluster_id=cluster_id)
        session.add(vm)
        session.flush()
        session.add(VmNic(vm_id=vm.id, name="nic1", mac_address=mac, vnic_profile_id=profile_id))


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def profiles_of(system: sdk.services.SystemService, network_id: str) -> list[str]:
    service = system.networks_service().network_service(network_id).vnic_profiles_service()
    return [p.name for p in service.list()]


def test_crud(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    networks = system.networks_service()
    name = unique("net")
    net = networks.add(
        t.Network(
            name=name,
            description="first",
            comment="c",
            data_center=t.DataCenter(id=dc.id),
            vlan=t.Vlan(id=10),
            mtu=1400,
            stp=True,
            usages=[t.NetworkUsage.VM],
        )
    )
    assert net.href == f"/ovirt-engine/api/networks/{net.id}"
    assert (net.name, net.description, net.comment) == (name, "first", "c")
    assert net.vlan.id == 10 and net.mtu == 1400 and net.stp is True and net.port_isolation is False
    assert net.usages == [t.NetworkUsage.VM] and net.data_center.id == dc.id
    assert net.vdsm_name == (name if len(name) <= 15 else "on" + net.id.replace("-", "")[:13])
    assert profiles_of(system, net.id) == [name]  # a VM network gets a profile of its own name

    service = networks.network_service(net.id)
    assert service.get().name == name
    updated = service.update(t.Network(description="second", vlan=t.Vlan(id=11), mtu=0))
    assert (updated.description, updated.vlan.id, updated.mtu, updated.name) == ("second", 11, 0, name)
    got = service.get()
    assert got.description == "second" and got.vlan.id == 11

    profile_id = [p.id for p in system.vnic_profiles_service().list() if p.network.id == net.id][0]
    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()
    with pytest.raises(sdk.NotFoundError):  # its profiles went with it
        system.vnic_profiles_service().profile_service(profile_id).get()


def test_data_center_by_name_and_missing(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    networks = system.networks_service()
    net = networks.add(t.Network(name=unique("net"), data_center=t.DataCenter(name=dc.name)))
    assert net.data_center.id == dc.id and net.vlan is None and net.mtu == 0
    err = fault(lambda: networks.add(t.Network(name=unique("net"), data_center=t.DataCenter(name="no-such-dc-x"))))
    assert err.code == 400 and "data center named 'no-such-dc-x' does not exist" in str(err)
    err = fault(lambda: networks.add(t.Network(name=unique("net"))))
    assert err.code == 400 and "needs a data center" in str(err)
    err = fault(lambda: networks.add(t.Network(name=unique("net"), data_center=t.DataCenter(id=str(uuid.uuid4())))))
    assert err.code == 400 and "does not exist" in str(err)


def test_non_vm_network_and_profile_required(
    system: sdk.services.SystemService, dc: t.DataCenter, unique: Names
) -> None:
    networks = system.networks_service()
    plain = networks.add(t.Network(name=unique("nvm"), data_center=t.DataCenter(id=dc.id), usages=[]))
    assert plain.usages in (None, [])
    assert profiles_of(system, plain.id) == []
    bare = networks.add(t.Network(name=unique("nop"), data_center=t.DataCenter(id=dc.id), profile_required=False))
    assert bare.usages == [t.NetworkUsage.VM] and profiles_of(system, bare.id) == []


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"name": "bad name!"}, 400, "may contain only"),
        ({"name": ""}, 400, "network name is required"),
        ({"name": "bond7"}, 400, "must not start with 'bond'"),
        ({"vlan": t.Vlan(id=4095)}, 400, "VLAN id 4095 is out of range"),
        ({"vlan": t.Vlan(id=-1)}, 400, "VLAN id -1 is out of range"),
        ({"mtu": 50}, 400, "MTU 50 is out of range"),
        ({"mtu": 70000}, 400, "MTU 70000 is out of range"),
        ({"usages": [], "stp": True}, 400, "STP can be enabled only on a VM network"),
        ({"usages": [], "port_isolation": True}, 400, "Port isolation needs a VM network"),
        ({"usages": [t.NetworkUsage.DISPLAY]}, 400, "Usage 'display' is a role of a network in a cluster"),
        ({"required": True}, 400, "'required' is a property of a network in a cluster"),
        ({"external_provider": t.OpenStackNetworkProvider(id=str(uuid.uuid4()))}, 400, "The provider with id"),
    ],
)
def test_add_rules(
    system: sdk.services.SystemService,
    dc: t.DataCenter,
    unique: Names,
    fields: dict[str, object],
    status: int,
    fragment: str,
) -> None:
    body = {"name": unique("rule"), "data_center": t.DataCenter(id=dc.id), **fields}
    err = fault(lambda: system.networks_service().add(t.Network(**body)))
    assert err.code == status and fragment in str(err), str(err)


def test_name_is_unique_per_data_center(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    networks = system.networks_service()
    name = unique("dup")
    networks.add(t.Network(name=name, data_center=t.DataCenter(id=dc.id)))
    err = fault(lambda: networks.add(t.Network(name=name, data_center=t.DataCenter(id=dc.id))))
    assert err.code == 409 and f"network '{name}' already exists in data center '{dc.name}'" in str(err)
    other = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    assert networks.add(t.Network(name=name, data_center=t.DataCenter(id=other.id))).data_center.id == other.id


def test_vlan_is_unique_per_data_center(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    networks = system.networks_service()
    first = networks.add(t.Network(name=unique("v"), data_center=t.DataCenter(id=dc.id), vlan=t.Vlan(id=100)))
    err = fault(
        lambda: networks.add(t.Network(name=unique("v"), data_center=t.DataCenter(id=dc.id), vlan=t.Vlan(id=100)))
    )
    assert err.code == 409 and f"VLAN id 100 is already used by network '{first.name}'" in str(err)
    second = networks.add(t.Network(name=unique("v"), data_center=t.DataCenter(id=dc.id), vlan=t.Vlan(id=101)))
    err = fault(lambda: networks.network_service(second.id).update(t.Network(vlan=t.Vlan(id=100))))
    assert err.code == 409 and "VLAN id 100 is already used" in str(err)
    # the network itself keeps its VLAN on update
    assert networks.network_service(first.id).update(t.Network(vlan=t.Vlan(id=100), description="x")).vlan.id == 100
    other = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    assert (
        networks.add(t.Network(name=unique("v"), data_center=t.DataCenter(id=other.id), vlan=t.Vlan(id=100))).vlan.id
        == 100
    )


def test_several_violations_are_reported_together(
    system: sdk.services.SystemService, dc: t.DataCenter, unique: Names
) -> None:
    err = fault(
        lambda: system.networks_service().add(
            t.Network(name="bond-x", data_center=t.DataCenter(id=dc.id), vlan=t.Vlan(id=5000), mtu=1)
        )
    )
    assert err.code == 400
    for fragment in ("must not start with 'bond'", "VLAN id 5000", "MTU 1 is out of range"):
        assert fragment in str(err)


def test_update_rules(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names, store: Database) -> None:
    networks = system.networks_service()
    net = networks.add(t.Network(name=unique("upd"), data_center=t.DataCenter(id=dc.id)))
    service = networks.network_service(net.id)
    taken = networks.add(t.Network(name=unique("upd"), data_center=t.DataCenter(id=dc.id)))

    err = fault(lambda: service.update(t.Network(name=taken.name)))
    assert err.code == 409 and f"network '{taken.name}' already exists" in str(err)
    err = fault(lambda: service.update(t.Network(port_isolation=True)))
    assert err.code == 409 and "Port isolation" in str(err) and "cannot be changed" in str(err)
    other = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    err = fault(lambda: service.update(t.Network(data_center=t.DataCenter(id=other.id))))
    assert err.code == 400 and "data center of network" in str(err)

    # renaming renames the default profile too
    new_name = unique("ren")
    assert service.update(t.Network(name=new_name)).name == new_name
    assert profiles_of(system, net.id) == [new_name]

    # a network used by a VM cannot become a non-VM network
    cluster = system.clusters_service().add(t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=dc.id)))
    profile_id = system.networks_service().network_service(net.id).vnic_profiles_service().list()[0].id
    vm_name = unique("vm")
    add_vm(store, cluster.id, profile_id, vm_name)
    err = fault(lambda: service.update(t.Network(usages=[])))
    assert err.code == 409 and "cannot become a non-VM network" in str(err) and vm_name in str(err)

    # an unused one can, and loses its profiles
    assert networks.network_service(taken.id).update(t.Network(usages=[])).usages in (None, [])
    assert profiles_of(system, taken.id) == []


def test_remove_rules(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names, store: Database) -> None:
    networks = system.networks_service()
    cluster = system.clusters_service().add(t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=dc.id)))
    management = system.data_centers_service().data_center_service(dc.id).networks_service().list()
    assert [n.name for n in management] == ["ovirtmgmt"]
    err = fault(lambda: networks.network_service(management[0].id).remove())
    assert err.code == 409 and f"management network of cluster(s) {cluster.name}" in str(err)

    used = networks.add(t.Network(name=unique("used"), data_center=t.DataCenter(id=dc.id)))
    vm_name = unique("vm")
    add_vm(store, cluster.id, networks.network_service(used.id).vnic_profiles_service().list()[0].id, vm_name)
    err = fault(lambda: networks.network_service(used.id).remove())
    assert err.code == 409 and f"used by vNICs of VM(s) {vm_name}" in str(err)

    # removing a network detaches it from its clusters
    attached = networks.add(t.Network(name=unique("att"), data_center=t.DataCenter(id=dc.id)))
    cluster_networks = system.clusters_service().cluster_service(cluster.id).networks_service()
    cluster_networks.add(t.Network(id=attached.id))
    networks.network_service(attached.id).remove()
    assert attached.id not in [n.id for n in cluster_networks.list()]
    with store.transaction() as session:
        assert session.get(NetworkCluster, (attached.id, cluster.id)) is None


def test_search(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    networks = system.networks_service()
    prefix = unique("srch")
    made = [
        networks.add(
            t.Network(
                name=f"{prefix}-{i}",
                description=f"desc {i}",
                data_center=t.DataCenter(id=dc.id),
                vlan=t.Vlan(id=200 + i),
            )
        )
        for i in range(3)
    ]
    names = [n.name for n in made]

    def found(query: str) -> list[str]:
        return sorted(n.name for n in networks.list(search=query))

    assert found(f"name={prefix}-*") == names
    assert found(f'name="{prefix}-1"') == [names[1]]
    assert found(f"name={prefix}-1") == [names[1]]
    assert found(f'name={prefix}-* and description="desc 2"') == [names[2]]
    assert found(f'name="{prefix}-*" and datacenter="{dc.name}"') == names
    assert found(f"datacenter={dc.name}") == sorted([*names, "ovirtmgmt"])
    assert found(f"datacenter={dc.name} and vlan=201") == [names[1]]
    assert found(f"id={made[0].id}") == [names[0]]
    assert found(f"name={prefix}-* and datacenter=Default") == []
    assert found('name="no such network"') == []
    assert len(networks.list(search=f"name={prefix}-*", max=2)) == 2
    err = fault(lambda: networks.list(search="colour=red"))
    assert err.code == 400 and "Unknown search field 'colour'" in str(err)


def test_data_center_networks(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    dc_networks = system.data_centers_service().data_center_service(dc.id).networks_service()
    net = dc_networks.add(t.Network(name=unique("dcn"), vlan=t.Vlan(id=7)))
    assert net.data_center.id == dc.id
    assert sorted(n.name for n in dc_networks.list()) == sorted(["ovirtmgmt", net.name])
    service = dc_networks.network_service(net.id)
    assert service.get().vlan.id == 7
    assert service.update(t.Network(description="in dc")).description == "in dc"

    other = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    other_networks = system.data_centers_service().data_center_service(other.id).networks_service()
    with pytest.raises(sdk.NotFoundError):
        other_networks.network_service(net.id).get()
    err = fault(lambda: other_networks.add(t.Network(name=unique("x"), data_center=t.DataCenter(id=dc.id))))
    assert err.code == 400 and "not data center" in str(err)

    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_data_center_networks_have_no_search(rest: httpx.Client, dc: t.DataCenter) -> None:
    response = rest.get(f"datacenters/{dc.id}/networks", params={"search": "name=x"})
    assert response.status_code == 400 and "does not support search" in response.json()["detail"]


def test_follow_links(
    connection: sdk.Connection, system: sdk.services.SystemService, dc: t.DataCenter, unique: Names
) -> None:
    net = system.networks_service().add(t.Network(name=unique("fl"), data_center=t.DataCenter(id=dc.id)))
    profiles = connection.follow_link(net.vnic_profiles)
    assert [p.name for p in profiles] == [net.name] and profiles[0].network.id == net.id
    assert connection.follow_link(net.network_labels) == []
    assert connection.follow_link(net.data_center).name == dc.name
    labels = system.networks_service().network_service(net.id).network_labels_service().list()
    assert labels == []


def test_json_crud(rest: httpx.Client, dc: t.DataCenter, unique: Names) -> None:
    name = unique("jnet")
    created = rest.post(
        "networks",
        json={"name": name, "data_center": {"name": dc.name}, "vlan": {"id": 30}, "usages": {"usage": ["vm"]}},
    )
    assert created.status_code == 201, created.text
    net = created.json()
    assert net["vlan"] == {"id": "30"} and net["usages"] == {"usage": ["vm"]}
    assert net["data_center"]["id"] == dc.id and net["mtu"] == "0"
    listed = rest.get("networks", params={"search": f'name="{name}" and datacenter="{dc.name}"'}).json()
    assert [n["id"] for n in listed["network"]] == [net["id"]]
    updated = rest.put(f"networks/{net['id']}", json={"usages": {"usage": []}, "description": "non-vm"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["usages"] == {"usage": []} and updated.json()["description"] == "non-vm"
    conflict = rest.post("networks", json={"name": name, "data_center": {"id": dc.id}})
    assert conflict.status_code == 409 and "already exists in data center" in conflict.json()["detail"]
    bad = rest.post("networks", json={"name": unique("j"), "data_center": {"id": dc.id}, "vlan": {"id": "ten"}})
    assert bad.status_code == 400 and "VLAN id 'ten' is not a number" in bad.json()["detail"]
    assert rest.delete(f"networks/{net['id']}").status_code == 200
    assert rest.get(f"networks/{net['id']}").status_code == 404


def test_concurrent_adds_keep_vlans_unique(engine: EngineProcess, token: str, dc: t.DataCenter, unique: Names) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def add(name: str) -> int:
        with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
            body = {"name": name, "data_center": {"id": dc.id}, "vlan": {"id": 900}}
            return client.post("networks", json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(add, [unique("cv") for _ in range(8)]))
    assert sorted(statuses) == [201] + [409] * 7


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    auth: {url: "{{ url }}", username: admin@internal, password: "{{ password }}", insecure: true}
  tasks:
    - ovirt.ovirt.ovirt_network: &network
        auth: "{{ auth }}"
        name: "{{ net }}"
        data_center: "{{ dc }}"
        vlan_tag: 20
        vm_network: true
        mtu: 1400
        clusters: [{name: "{{ cluster }}", assigned: true, required: false, migration: true}]
    - ovirt.ovirt.ovirt_network: *network
    - ovirt.ovirt.ovirt_network: {auth: "{{ auth }}", name: "{{ net }}", data_center: "{{ dc }}", vlan_tag: 21}
    - ovirt.ovirt.ovirt_vnic_profile: &profile
        auth: "{{ auth }}"
        name: "{{ net }}-p"
        network: "{{ net }}"
        data_center: "{{ dc }}"
        custom_properties: [{name: SecurityGroups, value: ""}]
    - ovirt.ovirt.ovirt_vnic_profile: *profile
    - ovirt.ovirt.ovirt_vnic_profile:
        {auth: "{{ auth }}", name: "{{ net }}-p", network: "{{ net }}", data_center: "{{ dc }}", pass_through: enabled}
    - ovirt.ovirt.ovirt_vnic_profile:
        {auth: "{{ auth }}", name: "{{ net }}-p", network: "{{ net }}", data_center: "{{ dc }}", state: absent}
    - ovirt.ovirt.ovirt_network: {auth: "{{ auth }}", name: "{{ net }}", data_center: "{{ dc }}", state: absent}
"""


@requires_ansible
def test_ansible_network_and_vnic_profile_modules(
    engine: EngineProcess, system: sdk.services.SystemService, dc: t.DataCenter, unique: Names, tmp_path: Path
) -> None:
    cluster = system.clusters_service().add(t.Cluster(name=unique("acl"), data_center=t.DataCenter(id=dc.id)))
    net = unique("an")
    extra = {"url": engine.url, "password": ADMIN_PASSWORD, "dc": dc.name, "cluster": cluster.name, "net": net}
    results = run_playbook(PLAYBOOK, extra, tmp_path)
    # create, idempotent re-run, update, profile create, profile re-run, pass-through, profile removal, removal
    assert changed(results) == [True, False, True, True, False, True, True, True]
    assert system.networks_service().list(search=f"name={net}") == []
