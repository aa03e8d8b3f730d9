"""Clusters (/clusters, /datacenters/{id}/clusters) and their networks (/clusters/{id}/networks) through the real
ovirtsdk4 (XML) and through JSON."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from extnet.engine.store.db import Database
from extnet.engine.store.models import Host, Vm, VmNic
from tests.servers import EngineProcess

Names = Callable[[str], str]
U = t.NetworkUsage


@pytest.fixture
def dc(system: sdk.services.SystemService, unique: Names) -> t.DataCenter:
    return system.data_centers_service().add(t.DataCenter(name=unique("cdc"), version=t.Version(major=4, minor=6)))


@pytest.fixture
def cluster(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> t.Cluster:
    return system.clusters_service().add(t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=dc.id)))


def add_host(store: Database, cluster_id: str, name: str) -> None:
    """A host row written straight to the database (hosts are not this test's subject)."""
    with store.transaction() as session:
        session.add(Host(name=name, address=f"{name}.example.test", cluster_id=cluster_id))


def add_vm(store: Database, cluster_id: str, name: str, profile_id: str | None = None) -> None:
    """A VM row, with one vNIC on the profile if one is given, written straight to the database."""
    with store.transaction() as session:
        vm = Vm(name=name, cluster_id=cluster_id)
        session.add(vm)
        session.flush()
        if profile_id is not None:
            mac = "56:6f:ed:" + ":".join(uuid.uuid4().hex[i : i + 2] for i in (0, 2, 4))
            session.add(VmNic(vm_id=vm.id, name="nic1", mac_address=mac, vnic_profile_id=profile_id))


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def dc_network(system: sdk.services.SystemService, dc: t.DataCenter, name: str) -> t.Network:
    networks = system.data_centers_service().data_center_service(dc.id).networks_service().list()
    return next(n for n in networks if n.name == name)


def roles(system: sdk.services.SystemService, cluster_id: str) -> dict[str, list[str]]:
    """network name -> its usages in the cluster (sorted)."""
    attached = system.clusters_service().cluster_service(cluster_id).networks_service().list()
    return {n.name: sorted(str(u.value) for u in n.usages or []) for n in attached}


MANAGEMENT_ROLES = ["default_route", "display", "management", "migration", "vm"]


def test_crud(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    clusters = system.clusters_service()
    name = unique("cl")
    cluster = clusters.add(
        t.Cluster(
            name=name,
            description="first",
            comment="c",
            data_center=t.DataCenter(id=dc.id),
            cpu=t.Cpu(type="Intel Nehalem Family", architecture=t.Architecture.X86_64),
            version=t.Version(major=4, minor=6),
            switch_type=t.SwitchType.OVS,
            ballooning_enabled=True,
        )
    )
    assert cluster.href == f"/ovirt-engine/api/clusters/{cluster.id}"
    assert (cluster.name, cluster.description, cluster.comment) == (name, "first", "c")
    assert cluster.cpu.type == "Intel Nehalem Family" and cluster.cpu.architecture == t.Architecture.X86_64
    assert (cluster.version.major, cluster.version.minor) == (4, 6)
    assert cluster.data_center.id == dc.id and cluster.switch_type == t.SwitchType.OVS
    assert cluster.ballooning_enabled is True and cluster.virt_service is True and cluster.gluster_service is False
    dc_pool = system.data_centers_service().data_center_service(dc.id).get().mac_pool.id
    assert cluster.mac_pool.id == dc_pool
    management = dc_network(system, dc, "ovirtmgmt")
    assert cluster.management_network.id == management.id

    # the data center's management network is attached with every management role
    attached = clusters.cluster_service(cluster.id).networks_service().list()
    assert [n.name for n in attached] == ["ovirtmgmt"]
    assert attached[0].required is True and attached[0].display is True and attached[0].cluster.id == cluster.id
    assert attached[0].status == t.NetworkStatus.OPERATIONAL
    assert roles(system, cluster.id) == {"ovirtmgmt": MANAGEMENT_ROLES}

    service = clusters.cluster_service(cluster.id)
    updated = service.update(
        t.Cluster(description="second", cpu=t.Cpu(type="Intel Skylake Family"), version=t.Version(major=4, minor=7))
    )
    assert updated.description == "second" and updated.cpu.type == "Intel Skylake Family"
    assert updated.version.minor == 7 and updated.name == name and updated.switch_type == t.SwitchType.OVS
    assert service.get().description == "second"

    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_defaults(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    cluster = system.clusters_service().add(t.Cluster(name=unique("cl"), data_center=t.DataCenter(name=dc.name)))
    assert cluster.data_center.id == dc.id and cluster.cpu.architecture == t.Architecture.X86_64
    assert (cluster.version.major, cluster.version.minor) == (4, 7) and cluster.switch_type == t.SwitchType.LEGACY


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"name": "bad name!"}, 400, "may contain only"),
        ({"name": ""}, 400, "cluster name is required"),
        ({"version": t.Version(major=3, minor=6)}, 400, "Compatibility version 3.6 of cluster"),
        ({"version": t.Version(major=4, minor=5)}, 409, "is lower than version 4.6 of its data center"),
        ({"cpu": t.Cpu(architecture=t.Architecture.UNDEFINED)}, None, None),
        ({"mac_pool": t.MacPool(name="no-such-pool")}, 400, "MAC pool named 'no-such-pool' does not exist"),
        ({"management_network": t.Network(name="no-such-net")}, 400, "network named 'no-such-net' does not exist"),
        ({"data_center": t.DataCenter(name="no-such-dc")}, 400, "data center named 'no-such-dc' does not exist"),
        ({"data_center": None}, 400, "A cluster needs a data center"),
    ],
)
def test_add_rules(
    system: sdk.services.SystemService,
    dc: t.DataCenter,
    unique: Names,
    fields: dict[str, object],
    status: int | None,
    fragment: str | None,
) -> None:
    body = {"name": unique("rule"), "data_center": t.DataCenter(id=dc.id), **fields}
    clusters = system.clusters_service()
    if status is None:
        assert clusters.add(t.Cluster(**body)).cpu.architecture == t.Architecture.UNDEFINED
        return
    err = fault(lambda: clusters.add(t.Cluster(**body)))
    assert err.code == status and fragment in str(err), str(err)


def test_unknown_architecture(rest: httpx.Client, dc: t.DataCenter, unique: Names) -> None:
    response = rest.post(
        "clusters", json={"name": unique("arch"), "data_center": {"id": dc.id}, "cpu": {"architecture": "sparc"}}
    )
    assert response.status_code == 400 and "Unknown CPU architecture 'sparc'" in response.json()["detail"]


def test_name_is_unique(system: sdk.services.SystemService, cluster: t.Cluster, dc: t.DataCenter) -> None:
    err = fault(lambda: system.clusters_service().add(t.Cluster(name=cluster.name, data_center=t.DataCenter(id=dc.id))))
    assert err.code == 409 and f"The cluster name '{cluster.name}' is already in use" in str(err)
    err = fault(lambda: system.clusters_service().cluster_service(cluster.id).update(t.Cluster(name="Default")))
    assert err.code == 409 and "'Default' is already in use" in str(err)


def test_management_network_choice(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    networks = system.networks_service()
    own = networks.add(t.Network(name=unique("mgmt"), data_center=t.DataCenter(id=dc.id)))
    cluster = system.clusters_service().add(
        t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=dc.id), management_network=t.Network(name=own.name))
    )
    assert cluster.management_network.id == own.id
    assert roles(system, cluster.id) == {own.name: MANAGEMENT_ROLES}

    # a data center without ovirtmgmt needs the management network named
    bare = system.data_centers_service().add(t.DataCenter(name=unique("bare")))
    networks.network_service(dc_network(system, bare, "ovirtmgmt").id).remove()
    err = fault(
        lambda: system.clusters_service().add(t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=bare.id)))
    )
    assert err.code == 400 and f"Data center '{bare.name}' has no network named 'ovirtmgmt'" in str(err)
    # ... and a network of another data center will not do
    err = fault(
        lambda: system.clusters_service().add(
            t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=bare.id), management_network=t.Network(id=own.id))
        )
    )
    assert err.code == 400 and "is not a network of data center" in str(err)


def test_update_rules(
    system: sdk.services.SystemService, cluster: t.Cluster, dc: t.DataCenter, unique: Names, store: Database
) -> None:
    service = system.clusters_service().cluster_service(cluster.id)
    other = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    err = fault(lambda: service.update(t.Cluster(data_center=t.DataCenter(id=other.id))))
    assert err.code == 400 and f"The data center of cluster '{cluster.name}' cannot be changed" in str(err)
    err = fault(lambda: service.update(t.Cluster(version=t.Version(major=4, minor=2))))
    assert err.code == 409 and "lower than version 4.6" in str(err)
    second = system.networks_service().add(t.Network(name=unique("n"), data_center=t.DataCenter(id=dc.id)))
    err = fault(lambda: service.update(t.Cluster(management_network=t.Network(id=second.id))))
    assert err.code == 400 and "through /clusters/" in str(err)
    assert service.update(t.Cluster(cpu=t.Cpu(architecture=t.Architecture.PPC64))).cpu.architecture.value == "ppc64"
    host = unique("host")
    add_host(store, cluster.id, host)
    err = fault(lambda: service.update(t.Cluster(cpu=t.Cpu(architecture=t.Architecture.X86_64))))
    assert err.code == 409 and "CPU architecture" in str(err) and host in str(err)


def test_remove_refused_while_hosts_or_vms(
    system: sdk.services.SystemService, cluster: t.Cluster, unique: Names, store: Database
) -> None:
    host, vm = unique("host"), unique("vm")
    add_host(store, cluster.id, host)
    add_vm(store, cluster.id, vm)
    err = fault(system.clusters_service().cluster_service(cluster.id).remove)
    assert err.code == 409
    assert f"Cluster '{cluster.name}' still has hosts ({host})" in str(err)
    assert f"Cluster '{cluster.name}' still has VMs ({vm})" in str(err)


def test_search(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    clusters = system.clusters_service()
    prefix = unique("srch")
    made = [
        clusters.add(t.Cluster(name=f"{prefix}-{i}", description=f"desc {i}", data_center=t.DataCenter(id=dc.id)))
        for i in range(3)
    ]
    names = [c.name for c in made]

    def found(query: str) -> list[str]:
        return sorted(c.name for c in clusters.list(search=query))

    assert found(f"name={prefix}-*") == names
    assert found(f'name="{prefix}-1"') == [names[1]]
    assert found(f'name={prefix}-* and description="desc 2"') == [names[2]]
    assert found(f"datacenter={dc.name}") == names
    assert found(f'datacenter="{dc.name}" and name=*-0') == [names[0]]
    assert found(f"id={made[2].id}") == [names[2]]
    assert found(f"name={prefix}-* and datacenter=Default") == []
    assert found('name="no such cluster"') == []
    assert "Default" in found("datacenter=Default")
    assert len(clusters.list(search=f"name={prefix}-*", max=2)) == 2
    err = fault(lambda: clusters.list(search="colour=red"))
    assert err.code == 400 and "Unknown search field 'colour'" in str(err)


def test_data_center_clusters(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    dc_clusters = system.data_centers_service().data_center_service(dc.id).clusters_service()
    made = dc_clusters.add(t.Cluster(name=unique("dcc")))
    assert made.data_center.id == dc.id
    assert [c.name for c in dc_clusters.list()] == [made.name]
    assert dc_clusters.cluster_service(made.id).get().name == made.name
    assert [c.name for c in dc_clusters.list(search=f"name={made.name}")] == [made.name]
    # the cluster's networks are reachable under the data center too
    assert [n.name for n in dc_clusters.cluster_service(made.id).networks_service().list()] == ["ovirtmgmt"]
    assert dc_clusters.cluster_service(made.id).update(t.Cluster(comment="via dc")).comment == "via dc"

    other = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    other_clusters = system.data_centers_service().data_center_service(other.id).clusters_service()
    assert other_clusters.list() == []
    with pytest.raises(sdk.NotFoundError):
        other_clusters.cluster_service(made.id).get()
    err = fault(lambda: other_clusters.add(t.Cluster(name=unique("x"), data_center=t.DataCenter(id=dc.id))))
    assert err.code == 400 and "not data center" in str(err)
    with pytest.raises(sdk.NotFoundError):
        system.data_centers_service().data_center_service(str(uuid.uuid4())).clusters_service().list()
    with pytest.raises(sdk.NotFoundError):
        other_clusters.cluster_service(made.id).remove()
    dc_clusters.cluster_service(made.id).remove()
    assert dc_clusters.list() == []


def test_follow_links(
    connection: sdk.Connection, system: sdk.services.SystemService, cluster: t.Cluster, dc: t.DataCenter
) -> None:
    networks = connection.follow_link(cluster.networks)
    assert [n.name for n in networks] == ["ovirtmgmt"]
    assert connection.follow_link(cluster.data_center).name == dc.name
    assert connection.follow_link(cluster.management_network).name == "ovirtmgmt"
    attached = networks[0]
    assert [p.name for p in connection.follow_link(attached.vnic_profiles)] == ["ovirtmgmt"]


def test_attach_and_detach(
    system: sdk.services.SystemService, cluster: t.Cluster, dc: t.DataCenter, unique: Names
) -> None:
    cluster_networks = system.clusters_service().cluster_service(cluster.id).networks_service()
    by_id = system.networks_service().add(t.Network(name=unique("a"), data_center=t.DataCenter(id=dc.id)))
    by_name = system.networks_service().add(t.Network(name=unique("b"), data_center=t.DataCenter(id=dc.id), usages=[]))

    attached = cluster_networks.add(t.Network(id=by_id.id, required=False))
    assert attached.id == by_id.id and attached.required is False and attached.display is False
    assert attached.href == f"/ovirt-engine/api/clusters/{cluster.id}/networks/{by_id.id}"
    assert attached.usages == [U.VM] and attached.cluster.id == cluster.id and attached.data_center.id == dc.id
    attached = cluster_networks.add(t.Network(name=by_name.name))
    assert attached.id == by_name.id and attached.required is True and not attached.usages

    service = cluster_networks.network_service(by_id.id)
    assert service.get().name == by_id.name
    assert service.update(t.Network(required=True)).required is True

    err = fault(lambda: cluster_networks.add(t.Network(id=by_id.id)))
    assert err.code == 409 and f"Network '{by_id.name}' is already attached to cluster '{cluster.name}'" in str(err)
    other = system.data_centers_service().add(t.DataCenter(name=unique("odc")))
    foreign = system.networks_service().add(t.Network(name=unique("f"), data_center=t.DataCenter(id=other.id)))
    err = fault(lambda: cluster_networks.add(t.Network(id=foreign.id)))
    assert err.code == 409 and f"belongs to data center '{other.name}'" in str(err)
    err = fault(lambda: cluster_networks.add(t.Network(name=foreign.name)))  # names are looked up in the cluster's DC
    assert err.code == 400 and f"network named '{foreign.name}' does not exist" in str(err)
    err = fault(lambda: cluster_networks.add(t.Network(required=True)))
    assert err.code == 400 and "by id or by name" in str(err)

    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()
    assert sorted(n.name for n in cluster_networks.list()) == sorted(["ovirtmgmt", by_name.name])
    with pytest.raises(sdk.NotFoundError):
        service.remove()


def test_roles_move_between_networks(
    system: sdk.services.SystemService, cluster: t.Cluster, dc: t.DataCenter, unique: Names
) -> None:
    cluster_networks = system.clusters_service().cluster_service(cluster.id).networks_service()
    a = system.networks_service().add(t.Network(name=unique("a"), data_center=t.DataCenter(id=dc.id)))
    b = system.networks_service().add(t.Network(name=unique("b"), data_center=t.DataCenter(id=dc.id)))

    # attaching with roles takes them from the management network
    cluster_networks.add(t.Network(id=a.id, display=True, usages=[U.MIGRATION]))
    assert roles(system, cluster.id) == {
        "ovirtmgmt": ["default_route", "management", "vm"],
        a.name: ["display", "migration", "vm"],
    }
    # giving a role to another network moves it
    cluster_networks.add(t.Network(id=b.id, usages=[U.MIGRATION, U.GLUSTER, U.VM]))
    assert roles(system, cluster.id) == {
        "ovirtmgmt": ["default_route", "management", "vm"],
        a.name: ["display", "vm"],
        b.name: ["gluster", "migration", "vm"],
    }
    # a display network giving up the role hands it back to the management network; gluster goes to none
    cluster_networks.network_service(a.id).update(t.Network(display=False))
    cluster_networks.network_service(b.id).update(t.Network(usages=[U.MIGRATION]))
    assert roles(system, cluster.id) == {
        "ovirtmgmt": ["default_route", "display", "management", "vm"],
        a.name: ["vm"],
        b.name: ["migration", "vm"],
    }
    # detaching a network hands its display/migration/default_route roles back as well
    cluster_networks.network_service(b.id).update(t.Network(usages=[U.MIGRATION, U.DEFAULT_ROUTE]))
    cluster_networks.network_service(b.id).remove()
    assert roles(system, cluster.id) == {"ovirtmgmt": MANAGEMENT_ROLES, a.name: ["vm"]}

    management_id = dc_network(system, dc, "ovirtmgmt").id
    err = fault(lambda: cluster_networks.network_service(management_id).update(t.Network(display=False)))
    assert err.code == 409 and "display role of cluster" in str(err) and "falls back" in str(err)


def test_management_role(
    system: sdk.services.SystemService, cluster: t.Cluster, dc: t.DataCenter, unique: Names, store: Database
) -> None:
    cluster_networks = system.clusters_service().cluster_service(cluster.id).networks_service()
    management_id = dc_network(system, dc, "ovirtmgmt").id
    management = cluster_networks.network_service(management_id)

    err = fault(management.remove)
    assert err.code == 409 and "is the management network of cluster" in str(err) and "cannot be detached" in str(err)
    err = fault(lambda: management.update(t.Network(required=False)))
    assert err.code == 400 and "so it must be required" in str(err)
    err = fault(lambda: management.update(t.Network(usages=[U.DISPLAY, U.MIGRATION, U.DEFAULT_ROUTE])))
    assert err.code == 409 and "give the management role to another network" in str(err)

    # in a cluster without hosts the role can move, and the old network keeps its other roles
    new = system.networks_service().add(t.Network(name=unique("m"), data_center=t.DataCenter(id=dc.id)))
    cluster_networks.add(t.Network(id=new.id, usages=[U.MANAGEMENT]))
    assert roles(system, cluster.id) == {
        "ovirtmgmt": ["default_route", "display", "migration", "vm"],
        new.name: ["management", "vm"],
    }
    assert system.clusters_service().cluster_service(cluster.id).get().management_network.id == new.id
    cluster_networks.network_service(management_id).remove()  # no longer the management network
    assert roles(system, cluster.id) == {new.name: MANAGEMENT_ROLES}

    # with a host, it cannot
    host = unique("host")
    add_host(store, cluster.id, host)
    third = system.networks_service().add(t.Network(name=unique("m"), data_center=t.DataCenter(id=dc.id)))
    err = fault(lambda: cluster_networks.add(t.Network(id=third.id, usages=[U.MANAGEMENT])))
    assert err.code == 409 and "can change only while the cluster has no hosts" in str(err) and host in str(err)


def test_detach_refused_while_vms_use_the_network(
    system: sdk.services.SystemService, cluster: t.Cluster, dc: t.DataCenter, unique: Names, store: Database
) -> None:
    cluster_networks = system.clusters_service().cluster_service(cluster.id).networks_service()
    net = system.networks_service().add(t.Network(name=unique("u"), data_center=t.DataCenter(id=dc.id)))
    cluster_networks.add(t.Network(id=net.id))
    profile = system.networks_service().network_service(net.id).vnic_profiles_service().list()[0]
    vm = unique("vm")
    add_vm(store, cluster.id, vm, profile.id)
    err = fault(cluster_networks.network_service(net.id).remove)
    assert err.code == 409 and f"used by vNICs of VM(s) {vm} in cluster '{cluster.name}'" in str(err)


def test_json_flows(rest: httpx.Client, dc: t.DataCenter, unique: Names) -> None:
    name = unique("jcl")
    created = rest.post(
        "clusters",
        json={
            "name": name,
            "data_center": {"name": dc.name},
            "cpu": {"type": "Intel Nehalem Family", "architecture": "x86_64"},
        },
    )
    assert created.status_code == 201, created.text
    cluster = created.json()
    assert cluster["cpu"] == {"architecture": "x86_64", "type": "Intel Nehalem Family"}
    assert cluster["data_center"]["id"] == dc.id and cluster["version"] == {"major": "4", "minor": "7"}
    listed = rest.get("clusters", params={"search": f'name="{name}"'}).json()
    assert [c["id"] for c in listed["cluster"]] == [cluster["id"]]
    updated = rest.put(f"clusters/{cluster['id']}", json={"description": "via json"})
    assert updated.status_code == 200 and updated.json()["description"] == "via json"

    net = rest.post("networks", json={"name": unique("jn"), "data_center": {"id": dc.id}}).json()
    attached = rest.post(f"clusters/{cluster['id']}/networks", json={"id": net["id"], "usages": {"usage": ["display"]}})
    assert attached.status_code == 201, attached.text
    assert attached.json()["usages"] == {"usage": ["vm", "display"]} and attached.json()["display"] == "true"
    listed_networks = rest.get(f"clusters/{cluster['id']}/networks").json()["network"]
    assert sorted(n["name"] for n in listed_networks) == sorted(["ovirtmgmt", net["name"]])
    twice = rest.post(f"clusters/{cluster['id']}/networks", json={"name": net["name"]})
    assert twice.status_code == 409 and "already attached" in twice.json()["detail"]
    assert rest.delete(f"clusters/{cluster['id']}/networks/{net['id']}").status_code == 200

    assert rest.delete(f"clusters/{cluster['id']}").status_code == 200
    assert rest.get(f"clusters/{cluster['id']}").status_code == 404


def test_concurrent_role_moves_leave_one_holder(
    engine: EngineProcess,
    token: str,
    system: sdk.services.SystemService,
    cluster: t.Cluster,
    dc: t.DataCenter,
    unique: Names,
) -> None:
    networks = [
        system.networks_service().add(t.Network(name=unique("r"), data_center=t.DataCenter(id=dc.id))) for _ in range(8)
    ]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def attach(network: t.Network) -> int:
        with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
            body = {"id": network.id, "usages": {"usage": ["display", "migration"]}}
            return client.post(f"clusters/{cluster.id}/networks", json=body).status_code

    with ThreadPoolExecutor(len(networks)) as pool:
        assert list(pool.map(attach, networks)) == [201] * len(networks)
    held = roles(system, cluster.id)
    assert sum("display" in usages for usages in held.values()) == 1, held
    assert sum("migration" in usages for usages in held.values()) == 1, held


# --- settings: memory, KSM, scheduling, migration, fencing, RNG, serial number, console proxy ------------------

NONE_POLICY = "b4ed2332-a7ac-4d5f-9596-99a439cb2812"
MINIMAL_DOWNTIME = "80554327-0569-496b-bdeb-fcbbf52b827b"
POST_COPY = "a7aeedb2-8d66-4e51-bb22-32595027ce71"
BUILT_IN_POLICIES = {
    "none": NONE_POLICY,
    "cluster_maintenance": "7677771e-5eab-422e-83fa-dc04080d21b7",
    "evenly_distributed": "20d25257-b4bd-4589-92a6-c4c5c5d3fd1a",
    "power_saving": "5a2b0939-7d46-4b73-a469-e9c2c7fc6a53",
    "vm_evenly_distributed": "8d5d7bec-68de-4a67-b53e-0ac54686d579",
}


def properties_of(cluster: t.Cluster) -> dict[str, str]:
    return {p.name: p.value for p in cluster.custom_scheduling_policy_properties or []}


def assert_default_settings(connection: sdk.Connection, cluster: t.Cluster) -> None:
    assert (cluster.ksm.enabled, cluster.ksm.merge_across_nodes) == (True, True)
    assert cluster.memory_policy.over_commit.percent == 100 and cluster.memory_policy.transparent_huge_pages.enabled
    assert cluster.scheduling_policy.id == NONE_POLICY
    assert connection.follow_link(cluster.scheduling_policy).name == "none"
    assert properties_of(cluster) == {"CpuOverCommitDurationMinutes": "2", "HighUtilization": "80"}
    assert cluster.error_handling.on_error == t.MigrateOnError.MIGRATE
    migration = cluster.migration
    assert [migration.auto_converge, migration.compressed, migration.encrypted] == [t.InheritableBoolean.INHERIT] * 3
    assert migration.bandwidth.assignment_method == t.MigrationBandwidthAssignmentMethod.AUTO
    assert migration.bandwidth.custom_value is None and migration.policy.id == MINIMAL_DOWNTIME
    fencing = cluster.fencing_policy
    assert fencing.enabled is True and fencing.skip_if_sd_active.enabled is False
    assert (fencing.skip_if_connectivity_broken.enabled, fencing.skip_if_connectivity_broken.threshold) == (False, 50)
    assert fencing.skip_if_gluster_bricks_up is False and fencing.skip_if_gluster_quorum_not_met is False
    assert cluster.required_rng_sources == [t.RngSource.URANDOM]
    assert cluster.serial_number is None and cluster.display is None
    assert cluster.optional_reason is False and cluster.maintenance_reason_required is False


def test_default_settings(connection: sdk.Connection, system: sdk.services.SystemService, cluster: t.Cluster) -> None:
    assert_default_settings(connection, cluster)
    # the Default cluster, written by the migration, has the same defaults
    default = system.clusters_service().list(search="name=Default")[0]
    assert_default_settings(connection, default)


def test_settings_round_trip(connection: sdk.Connection, system: sdk.services.SystemService, dc: t.DataCenter,
                             unique: Names) -> None:  # fmt: skip
    clusters = system.clusters_service()
    cluster = clusters.add(
        t.Cluster(
            name=unique("set"),
            data_center=t.DataCenter(id=dc.id),
            ksm=t.Ksm(enabled=False, merge_across_nodes=False),
            memory_policy=t.MemoryPolicy(
                over_commit=t.MemoryOverCommit(percent=150),
                transparent_huge_pages=t.TransparentHugePages(enabled=False),
            ),
            scheduling_policy=t.SchedulingPolicy(name="vm_evenly_distributed"),
            custom_scheduling_policy_properties=[t.Property(name="HighVmCount", value="12")],
            error_handling=t.ErrorHandling(on_error=t.MigrateOnError.DO_NOT_MIGRATE),
            migration=t.MigrationOptions(
                auto_converge=t.InheritableBoolean.TRUE,
                compressed=t.InheritableBoolean.FALSE,
                encrypted=t.InheritableBoolean.TRUE,
                bandwidth=t.MigrationBandwidth(
                    assignment_method=t.MigrationBandwidthAssignmentMethod.CUSTOM, custom_value=800
                ),
                policy=t.MigrationPolicy(id=POST_COPY),
            ),
            fencing_policy=t.FencingPolicy(
                enabled=False,
                skip_if_sd_active=t.SkipIfSdActive(enabled=True),
                skip_if_connectivity_broken=t.SkipIfConnectivityBroken(enabled=True, threshold=0),
                skip_if_gluster_bricks_up=True,
                skip_if_gluster_quorum_not_met=True,
            ),
            required_rng_sources=[t.RngSource.HWRNG],
            serial_number=t.SerialNumber(policy=t.SerialNumberPolicy.CUSTOM, value="sn-1"),
            display=t.Display(proxy="spice.example.test:3128"),
            optional_reason=True,
            maintenance_reason_required=True,
            gluster_tuned_profile="virt",
        )
    )
    for seen in (cluster, clusters.cluster_service(cluster.id).get()):
        assert (seen.ksm.enabled, seen.ksm.merge_across_nodes) == (False, False)
        assert seen.memory_policy.over_commit.percent == 150
        assert seen.memory_policy.transparent_huge_pages.enabled is False
        assert connection.follow_link(seen.scheduling_policy).name == "vm_evenly_distributed"
        assert properties_of(seen) == {"HighVmCount": "12"}
        assert seen.error_handling.on_error == t.MigrateOnError.DO_NOT_MIGRATE
        assert seen.migration.auto_converge == t.InheritableBoolean.TRUE
        assert seen.migration.compressed == t.InheritableBoolean.FALSE
        assert seen.migration.encrypted == t.InheritableBoolean.TRUE
        assert seen.migration.bandwidth.custom_value == 800 and seen.migration.policy.id == POST_COPY
        assert seen.fencing_policy.enabled is False and seen.fencing_policy.skip_if_sd_active.enabled is True
        assert seen.fencing_policy.skip_if_connectivity_broken.threshold == 0
        assert seen.fencing_policy.skip_if_gluster_bricks_up and seen.fencing_policy.skip_if_gluster_quorum_not_met
        # urandom is always required, as in oVirt
        assert sorted(str(s) for s in seen.required_rng_sources) == ["hwrng", "urandom"]
        assert (seen.serial_number.policy, seen.serial_number.value) == (t.SerialNumberPolicy.CUSTOM, "sn-1")
        assert seen.display.proxy == "spice.example.test:3128" and seen.gluster_tuned_profile == "virt"
        assert seen.optional_reason is True and seen.maintenance_reason_required is True

    # an update changes what it names and keeps the rest
    service = clusters.cluster_service(cluster.id)
    updated = service.update(t.Cluster(fencing_policy=t.FencingPolicy(enabled=True), ksm=t.Ksm(enabled=True)))
    assert updated.fencing_policy.enabled is True and updated.fencing_policy.skip_if_sd_active.enabled is True
    assert updated.ksm.enabled is True and updated.ksm.merge_across_nodes is False
    assert updated.migration.bandwidth.custom_value == 800 and properties_of(updated) == {"HighVmCount": "12"}


def test_update_clears_what_no_longer_applies(system: sdk.services.SystemService, dc: t.DataCenter,
                                              unique: Names) -> None:  # fmt: skip
    custom = t.MigrationBandwidthAssignmentMethod.CUSTOM
    cluster = system.clusters_service().add(
        t.Cluster(
            name=unique("clr"),
            data_center=t.DataCenter(id=dc.id),
            migration=t.MigrationOptions(bandwidth=t.MigrationBandwidth(assignment_method=custom, custom_value=100)),
            serial_number=t.SerialNumber(policy=t.SerialNumberPolicy.CUSTOM, value="sn"),
            display=t.Display(proxy="http://proxy.example.test:3128"),
            required_rng_sources=[t.RngSource.HWRNG, t.RngSource.URANDOM],
            scheduling_policy=t.SchedulingPolicy(id=BUILT_IN_POLICIES["power_saving"]),
            custom_scheduling_policy_properties=[t.Property(name="LowUtilization", value="10")],
        )
    )
    service = system.clusters_service().cluster_service(cluster.id)
    hypervisor = t.MigrationBandwidthAssignmentMethod.HYPERVISOR_DEFAULT
    updated = service.update(t.Cluster(migration=t.MigrationOptions(bandwidth=t.MigrationBandwidth(
        assignment_method=hypervisor))))  # fmt: skip
    assert updated.migration.bandwidth.assignment_method == hypervisor
    assert updated.migration.bandwidth.custom_value is None
    updated = service.update(t.Cluster(serial_number=t.SerialNumber(policy=t.SerialNumberPolicy.HOST)))
    assert updated.serial_number.policy == t.SerialNumberPolicy.HOST and updated.serial_number.value is None
    assert service.update(t.Cluster(display=t.Display(proxy=""))).display is None
    assert service.update(t.Cluster(required_rng_sources=[])).required_rng_sources == [t.RngSource.URANDOM]
    # the same policy keeps its properties; another one brings its own defaults
    same = service.update(t.Cluster(scheduling_policy=t.SchedulingPolicy(name="power_saving")))
    assert properties_of(same) == {"LowUtilization": "10"}
    other = service.update(t.Cluster(scheduling_policy=t.SchedulingPolicy(name="evenly_distributed")))
    assert other.scheduling_policy.id == BUILT_IN_POLICIES["evenly_distributed"]
    assert properties_of(other) == {"HeSparesCount": "0", "CpuOverCommitDurationMinutes": "2",
                                    "HighUtilization": "80", "VCpuToPhysicalCpuRatio": "0"}  # fmt: skip


CUSTOM_BANDWIDTH = t.MigrationBandwidthAssignmentMethod.CUSTOM


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"scheduling_policy": t.SchedulingPolicy(id="6c6d3e2a-0000-4000-8000-00000000beef")},
         "The scheduling policy with id '6c6d3e2a-0000-4000-8000-00000000beef' does not exist"),
        ({"scheduling_policy": t.SchedulingPolicy(name="fastest")},
         "The scheduling policy named 'fastest' does not exist"),
        ({"scheduling_policy": t.SchedulingPolicy(description="x")}, "needs an id or a name"),
        ({"custom_scheduling_policy_properties": [t.Property(name="Colour", value="red")]},
         "Unknown scheduling policy property 'Colour'"),
        ({"custom_scheduling_policy_properties": [t.Property(name="HighUtilization", value="30")]},
         "Invalid value '30' for scheduling policy property 'HighUtilization'"),
        ({"custom_scheduling_policy_properties": [t.Property(name="SpmVmGrace", value="1"),
                                                  t.Property(name="SpmVmGrace", value="2")]},
         "Scheduling policy property 'SpmVmGrace' is given more than once"),
        ({"memory_policy": t.MemoryPolicy(over_commit=t.MemoryOverCommit(percent=0))},
         "Memory over-commit 0% of cluster"),
        ({"memory_policy": t.MemoryPolicy(over_commit=t.MemoryOverCommit(percent=2**40))}, "is out of range"),
        ({"memory_policy": t.MemoryPolicy(guaranteed=1024)}, "memory_policy.guaranteed applies to VMs"),
        ({"memory_policy": t.MemoryPolicy(ballooning=True)}, "use ballooning_enabled"),
        ({"fencing_policy": t.FencingPolicy(skip_if_connectivity_broken=t.SkipIfConnectivityBroken(threshold=101))},
         "Fencing connectivity threshold 101% of cluster"),
        ({"migration": t.MigrationOptions(bandwidth=t.MigrationBandwidth(assignment_method=CUSTOM_BANDWIDTH))},
         "needs custom_value"),
        ({"migration": t.MigrationOptions(bandwidth=t.MigrationBandwidth(custom_value=100))},
         "applies only with assignment_method custom, not auto"),
        ({"migration": t.MigrationOptions(bandwidth=t.MigrationBandwidth(assignment_method=CUSTOM_BANDWIDTH,
                                                                          custom_value=0))},
         "Migration bandwidth 0 Mbps of cluster"),
        ({"migration": t.MigrationOptions(policy=t.MigrationPolicy(id="6c6d3e2a-0000-4000-8000-00000000beef"))},
         "Unknown migration policy '6c6d3e2a-0000-4000-8000-00000000beef'"),
        ({"serial_number": t.SerialNumber(policy=t.SerialNumberPolicy.CUSTOM)},
         "custom serial number policy of cluster"),
        ({"serial_number": t.SerialNumber(policy=t.SerialNumberPolicy.VM, value="x")},
         "applies only with the custom policy, not vm"),
        ({"serial_number": t.SerialNumber(policy=t.SerialNumberPolicy.CUSTOM, value="s" * 256)},
         "serial_number.value of cluster"),
        ({"display": t.Display(proxy="not a proxy")}, "SPICE proxy 'not a proxy' of cluster"),
        ({"cpu": t.Cpu(type="c" * 256)}, "The CPU type of cluster"),
    ],
)  # fmt: skip
def test_settings_rules(
    system: sdk.services.SystemService, dc: t.DataCenter, unique: Names, fields: dict[str, object], fragment: str
) -> None:
    name = unique("bad")
    clusters = system.clusters_service()
    err = fault(lambda: clusters.add(t.Cluster(name=name, data_center=t.DataCenter(id=dc.id), **fields)))
    assert err.code == 400 and fragment in str(err), str(err)
    assert clusters.list(search=f"name={name}") == []
    # an update is held to the same rules
    existing = clusters.add(t.Cluster(name=name, data_center=t.DataCenter(id=dc.id)))
    err = fault(lambda: clusters.cluster_service(existing.id).update(t.Cluster(**fields)))
    assert err.code == 400 and fragment in str(err), str(err)


def test_settings_violations_are_reported_together(rest: httpx.Client, dc: t.DataCenter, unique: Names) -> None:
    body = {"name": unique("many"), "data_center": {"id": dc.id}, "scheduling_policy": {"name": "fastest"},
            "memory_policy": {"over_commit": {"percent": -5}},
            "fencing_policy": {"skip_if_connectivity_broken": {"threshold": 500}}}  # fmt: skip
    response = rest.post("clusters", json=body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    for fragment in ("scheduling policy named 'fastest'", "Memory over-commit -5%", "threshold 500%"):
        assert fragment in detail, detail


def test_settings_in_json(rest: httpx.Client, dc: t.DataCenter, unique: Names) -> None:
    body = {"name": unique("jset"), "data_center": {"id": dc.id}, "ksm": {"enabled": False},
            "scheduling_policy": {"id": BUILT_IN_POLICIES["power_saving"]},
            "custom_scheduling_policy_properties": {"property": [{"name": "LowUtilization", "value": 15}]},
            "required_rng_sources": {"required_rng_source": ["hwrng"]},
            "migration": {"bandwidth": {"assignment_method": "custom", "custom_value": "250"}}}  # fmt: skip
    created = rest.post("clusters", json=body)
    assert created.status_code == 201, created.text
    cluster = created.json()
    assert cluster["ksm"] == {"enabled": "false", "merge_across_nodes": "true"}
    assert cluster["scheduling_policy"] == {
        "href": f"/ovirt-engine/api/schedulingpolicies/{BUILT_IN_POLICIES['power_saving']}",
        "id": BUILT_IN_POLICIES["power_saving"],
    }
    assert cluster["custom_scheduling_policy_properties"] == {"property": [{"name": "LowUtilization", "value": "15"}]}
    assert cluster["required_rng_sources"] == {"required_rng_source": ["hwrng", "urandom"]}
    assert cluster["migration"]["bandwidth"] == {"assignment_method": "custom", "custom_value": "250"}
    response = rest.put(f"clusters/{cluster['id']}", json={"error_handling": {"on_error": "explode"}})
    assert response.status_code == 400 and "Invalid value 'explode'" in response.json()["detail"]


def test_scheduling_policies(connection: sdk.Connection, system: sdk.services.SystemService) -> None:
    policies = system.scheduling_policies_service()
    listed = policies.list()
    assert {p.name: p.id for p in listed} == BUILT_IN_POLICIES
    assert [p.name for p in listed] == sorted(BUILT_IN_POLICIES)
    assert [p.name for p in listed if p.default_policy] == ["none"] and all(p.locked for p in listed)
    evenly = policies.policy_service(BUILT_IN_POLICIES["evenly_distributed"]).get()
    assert evenly.name == "evenly_distributed"
    assert evenly.href == f"/ovirt-engine/api/schedulingpolicies/{evenly.id}"
    assert {p.name: p.value for p in evenly.properties}["VCpuToPhysicalCpuRatio"] == "0"
    assert connection.follow_link(evenly).name == "evenly_distributed"
    assert len(policies.list(max=2)) == 2
    with pytest.raises(sdk.NotFoundError):
        policies.policy_service("6c6d3e2a-0000-4000-8000-00000000beef").get()
    err = fault(policies.policy_service("no-such-policy").get)
    assert err.code == 400 and "Invalid scheduling policy id 'no-such-policy': it must be a UUID" in str(err)
    err = fault(lambda: policies.add(t.SchedulingPolicy(name="mine")))
    assert err.code == 405
    err = fault(policies.policy_service(BUILT_IN_POLICIES["none"]).remove)
    assert err.code == 405


def test_scheduling_policies_have_no_search(rest: httpx.Client) -> None:
    response = rest.get("schedulingpolicies", params={"search": "name=none"})
    assert response.status_code == 400 and "does not support search" in response.json()["detail"]
    listed = rest.get("schedulingpolicies").json()["scheduling_policy"]
    none = next(p for p in listed if p["name"] == "none")
    assert (
        none["default_policy"] == "true"
        and {"name": "HighUtilization", "value": "80"} in none["properties"]["property"]
    )
