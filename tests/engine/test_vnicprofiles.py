"""vNIC profiles (/vnicprofiles, /networks/{id}/vnicprofiles) through the real ovirtsdk4 (XML) and through JSON."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from extnet.engine.store.db import Database
from extnet.engine.store.models import Vm, VmNic

Names = Callable[[str], str]
SG1, SG2 = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def dc(system: sdk.services.SystemService, unique: Names) -> t.DataCenter:
    return system.data_centers_service().add(t.DataCenter(name=unique("pdc")))


@pytest.fixture
def network(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> t.Network:
    return system.networks_service().add(
        t.Network(name=unique("pnet"), data_center=t.DataCenter(id=dc.id), profile_required=False)
    )


def add_vm(store: Database, cluster_id: str, profile_id: str, name: str) -> None:
    """A VM with one vNIC on the profile, written straight to the database (VMs are not this test's subject)."""
    mac = "56:6f:ef:" + ":".join(uuid.uuid4().hex[i : i + 2] for i in (0, 2, 4))
    with store.transaction() as session:
        vm = Vm(name=name, cluster_id=cluster_id)
        session.add(vm)
        session.flush()
        session.add(VmNic(vm_id=vm.id, name="nic1", mac_address=mac, vnic_profile_id=profile_id))


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def test_crud(system: sdk.services.SystemService, network: t.Network, unique: Names) -> None:
    profiles = system.vnic_profiles_service()
    name = unique("vp")
    filter_id = str(uuid.uuid4())
    properties = [
        t.CustomProperty(name="SecurityGroups", value=f"{SG2}, {SG1}"),
        t.CustomProperty(name="b", value="2"),
        t.CustomProperty(name="a", value="1"),
    ]
    profile = profiles.add(
        t.VnicProfile(
            name=name,
            description="first",
            network=t.Network(id=network.id),
            port_mirroring=True,
            migratable=True,
            custom_properties=properties,
            network_filter=t.NetworkFilter(id=filter_id),
        )
    )
    assert profile.href == f"/ovirt-engine/api/vnicprofiles/{profile.id}"
    assert (profile.name, profile.description, profile.network.id) == (name, "first", network.id)
    assert profile.port_mirroring is True and profile.migratable is True
    assert profile.pass_through.mode == t.VnicPassThroughMode.DISABLED
    assert [(p.name, p.value) for p in profile.custom_properties] == [
        ("SecurityGroups", f"{SG2}, {SG1}"),
        ("b", "2"),
        ("a", "1"),
    ]
    assert profile.network_filter.id == filter_id

    service = profiles.profile_service(profile.id)
    assert service.get().name == name
    updated = service.update(
        t.VnicProfile(
            description="second",
            port_mirroring=False,
            network_filter=t.NetworkFilter(),
            custom_properties=[t.CustomProperty(name="z", value="9")],
        )
    )
    assert updated.description == "second" and updated.port_mirroring is False and updated.network_filter is None
    assert [(p.name, p.value) for p in updated.custom_properties] == [("z", "9")]
    assert updated.migratable is True  # untouched
    assert profile.id in [p.id for p in profiles.list()]

    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_defaults_always_render_pass_through(
    system: sdk.services.SystemService, network: t.Network, unique: Names
) -> None:
    profile = system.vnic_profiles_service().add(t.VnicProfile(name=unique("vp"), network=t.Network(id=network.id)))
    assert profile.pass_through.mode == t.VnicPassThroughMode.DISABLED
    assert profile.port_mirroring is False and profile.network_filter is None and not profile.custom_properties
    listed = [p for p in system.vnic_profiles_service().list() if p.id == profile.id]
    assert listed[0].pass_through.mode == t.VnicPassThroughMode.DISABLED and listed[0].network.id == network.id


def test_pass_through(system: sdk.services.SystemService, network: t.Network, unique: Names) -> None:
    profiles = system.vnic_profiles_service()
    enabled = t.VnicPassThrough(mode=t.VnicPassThroughMode.ENABLED)
    profile = profiles.add(
        t.VnicProfile(name=unique("pt"), network=t.Network(id=network.id), pass_through=enabled, migratable=True)
    )
    assert profile.pass_through.mode == t.VnicPassThroughMode.ENABLED
    err = fault(lambda: profiles.profile_service(profile.id).update(t.VnicProfile(port_mirroring=True)))
    assert err.code == 400 and "both port mirroring and pass-through" in str(err)
    name = unique("pt")
    err = fault(
        lambda: profiles.add(
            t.VnicProfile(name=name, network=t.Network(id=network.id), pass_through=enabled, port_mirroring=True)
        )
    )
    assert err.code == 400 and f"vNIC profile '{name}' cannot have both port mirroring and pass-through" in str(err)
    err = fault(
        lambda: profiles.add(
            t.VnicProfile(
                name=name,
                network=t.Network(id=network.id),
                pass_through=enabled,
                network_filter=t.NetworkFilter(id=str(uuid.uuid4())),
            )
        )
    )
    assert err.code == 400 and "pass-through profile and cannot have a network filter" in str(err)
    # the Ansible module sends empty <qos/> and <network_filter/> for pass-through profiles
    ok = profiles.add(
        t.VnicProfile(
            name=name,
            network=t.Network(id=network.id),
            pass_through=enabled,
            network_filter=t.NetworkFilter(),
            qos=t.Qos(),
        )
    )
    assert ok.network_filter is None and ok.pass_through.mode == t.VnicPassThroughMode.ENABLED


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"name": "bad name!"}, 400, "may contain only"),
        (
            {"custom_properties": [t.CustomProperty(name="SecurityGroups", value="nope")]},
            400,
            "Custom property SecurityGroups of vNIC profile",
        ),
        (
            {"custom_properties": [t.CustomProperty(name="a", value="1"), t.CustomProperty(name="a", value="2")]},
            400,
            "Custom property 'a' is given more than once",
        ),
        ({"custom_properties": [t.CustomProperty(name="a b", value="1")]}, 400, "Custom property name 'a b'"),
        ({"qos": t.Qos(id=str(uuid.uuid4()))}, 400, "does not exist"),
        ({"network_filter": t.NetworkFilter(name="vdsm-no-mac-spoofing")}, 400, "Refer to the network filter"),
        ({"network_filter": t.NetworkFilter(id="nope")}, 400, "Invalid network filter id 'nope'"),
        ({"failover": t.VnicProfile(id=str(uuid.uuid4()))}, 400, "Failover vNIC profiles are not supported"),
    ],
)
def test_add_rules(
    system: sdk.services.SystemService,
    network: t.Network,
    unique: Names,
    fields: dict[str, object],
    status: int,
    fragment: str,
) -> None:
    body = {"name": unique("rule"), "network": t.Network(id=network.id), **fields}
    err = fault(lambda: system.vnic_profiles_service().add(t.VnicProfile(**body)))
    assert err.code == status and fragment in str(err), str(err)


def test_network_reference(system: sdk.services.SystemService, network: t.Network, unique: Names) -> None:
    profiles = system.vnic_profiles_service()
    by_name = profiles.add(t.VnicProfile(name=unique("vp"), network=t.Network(name=network.name)))
    assert by_name.network.id == network.id
    err = fault(lambda: profiles.add(t.VnicProfile(name=unique("vp"))))
    assert err.code == 400 and "needs a network" in str(err)
    err = fault(lambda: profiles.add(t.VnicProfile(name=unique("vp"), network=t.Network(id=str(uuid.uuid4())))))
    assert err.code == 400 and "network with id" in str(err) and "does not exist" in str(err)
    # ovirtmgmt exists in every data center: its name is ambiguous
    err = fault(lambda: profiles.add(t.VnicProfile(name=unique("vp"), network=t.Network(name="ovirtmgmt"))))
    assert err.code == 400 and "More than one network is named 'ovirtmgmt'" in str(err)
    other = system.networks_service().add(
        t.Network(name=unique("on"), data_center=t.DataCenter(id=network.data_center.id))
    )
    err = fault(lambda: profiles.profile_service(by_name.id).update(t.VnicProfile(network=t.Network(id=other.id))))
    assert err.code == 400 and "network of vNIC profile" in str(err) and "cannot be changed" in str(err)


def test_name_is_unique_per_network(
    system: sdk.services.SystemService, network: t.Network, dc: t.DataCenter, unique: Names
) -> None:
    profiles = system.vnic_profiles_service()
    name = unique("same")
    first = profiles.add(t.VnicProfile(name=name, network=t.Network(id=network.id)))
    err = fault(lambda: profiles.add(t.VnicProfile(name=name, network=t.Network(id=network.id))))
    assert err.code == 409 and f"vNIC profile '{name}' already exists on network '{network.name}'" in str(err)
    other = system.networks_service().add(t.Network(name=unique("on"), data_center=t.DataCenter(id=dc.id)))
    assert profiles.add(t.VnicProfile(name=name, network=t.Network(id=other.id))).network.id == other.id
    second = profiles.add(t.VnicProfile(name=unique("n2"), network=t.Network(id=network.id)))
    err = fault(lambda: profiles.profile_service(second.id).update(t.VnicProfile(name=name)))
    assert err.code == 409 and "already exists" in str(err)
    assert profiles.profile_service(first.id).update(t.VnicProfile(name=name)).name == name  # its own name


def test_non_vm_network_has_no_profiles(system: sdk.services.SystemService, dc: t.DataCenter, unique: Names) -> None:
    plain = system.networks_service().add(t.Network(name=unique("nvm"), data_center=t.DataCenter(id=dc.id), usages=[]))
    err = fault(lambda: system.vnic_profiles_service().add(t.VnicProfile(name="p", network=t.Network(id=plain.id))))
    assert err.code == 409 and f"Network '{plain.name}' is not a VM network" in str(err)


def test_in_use_rules(
    system: sdk.services.SystemService, network: t.Network, dc: t.DataCenter, unique: Names, store: Database
) -> None:
    profiles = system.vnic_profiles_service()
    profile = profiles.add(t.VnicProfile(name=unique("used"), network=t.Network(id=network.id)))
    cluster = system.clusters_service().add(t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=dc.id)))
    vm_name = unique("vm")
    add_vm(store, cluster.id, profile.id, vm_name)
    service = profiles.profile_service(profile.id)
    err = fault(service.remove)
    assert err.code == 409 and f"vNIC profile '{profile.name}' is used by vNICs of VM(s) {vm_name}" in str(err)
    err = fault(lambda: service.update(t.VnicProfile(port_mirroring=True)))
    assert err.code == 409 and "Port mirroring of vNIC profile" in str(err) and vm_name in str(err)
    err = fault(
        lambda: service.update(t.VnicProfile(pass_through=t.VnicPassThrough(mode=t.VnicPassThroughMode.ENABLED)))
    )
    assert err.code == 409 and "Pass-through of vNIC profile" in str(err)
    assert service.update(t.VnicProfile(description="still editable")).description == "still editable"


def test_network_profiles_subcollection(
    connection: sdk.Connection, system: sdk.services.SystemService, network: t.Network, dc: t.DataCenter, unique: Names
) -> None:
    assigned = system.networks_service().network_service(network.id).vnic_profiles_service()
    profile = assigned.add(t.VnicProfile(name=unique("np")))
    assert profile.network.id == network.id
    assert [p.id for p in assigned.list()] == [profile.id]
    assert assigned.profile_service(profile.id).get().name == profile.name
    assert connection.follow_link(profile.network).name == network.name

    other = system.networks_service().add(t.Network(name=unique("on"), data_center=t.DataCenter(id=dc.id)))
    other_assigned = system.networks_service().network_service(other.id).vnic_profiles_service()
    with pytest.raises(sdk.NotFoundError):
        other_assigned.profile_service(profile.id).get()
    err = fault(lambda: other_assigned.add(t.VnicProfile(name=unique("np"), network=t.Network(id=network.id))))
    assert err.code == 400 and "not network" in str(err)

    assigned.profile_service(profile.id).remove()
    assert assigned.list() == []


def test_no_search(rest: httpx.Client) -> None:
    response = rest.get("vnicprofiles", params={"search": "name=x"})
    assert response.status_code == 400 and "does not support search" in response.json()["detail"]


def test_json_crud(rest: httpx.Client, network: t.Network, unique: Names) -> None:
    name = unique("jvp")
    body = {
        "name": name,
        "network": {"id": network.id},
        "port_mirroring": "true",
        "custom_properties": {"custom_property": [{"name": "SecurityGroups", "value": SG1}]},
    }
    created = rest.post("vnicprofiles", json=body)
    assert created.status_code == 201, created.text
    profile = created.json()
    assert profile["pass_through"] == {"mode": "disabled"} and profile["port_mirroring"] == "true"
    assert profile["custom_properties"] == {"custom_property": [{"name": "SecurityGroups", "value": SG1}]}
    assert profile["network"]["id"] == network.id and "network_filter" not in profile
    updated = rest.put(f"vnicprofiles/{profile['id']}", json={"pass_through": {"mode": "enabled"}})
    assert updated.status_code == 400 and "both port mirroring and pass-through" in updated.json()["detail"]
    updated = rest.put(
        f"vnicprofiles/{profile['id']}", json={"port_mirroring": False, "pass_through": {"mode": "enabled"}}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["pass_through"] == {"mode": "enabled"}
    listed = rest.get(f"networks/{network.id}/vnicprofiles").json()
    assert [p["name"] for p in listed["vnic_profile"]] == [name]
    assert rest.delete(f"vnicprofiles/{profile['id']}").status_code == 200
    assert rest.get(f"vnicprofiles/{profile['id']}").status_code == 404
