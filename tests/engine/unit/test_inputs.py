"""Typed command inputs (``commands/inputs.py``) built from coerced bodies by the declared mappers
(``api/inputs.to_input``): every input names only fields its mapper declares, a field the body does not give (or
gives as JSON null) is None, and nested values become typed ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from extnet.engine.api import root  # noqa: F401 - registers every resource's type, as the engine does
from extnet.engine.api.inputs import action_input, to_input
from extnet.engine.api.mappers import Mapper
from extnet.engine.api.resources.clusters import CLUSTER
from extnet.engine.api.resources.datacenters import DATA_CENTER
from extnet.engine.api.resources.hosts import HOST
from extnet.engine.api.resources.macpools import MAC_POOL
from extnet.engine.api.resources.networks import NETWORK
from extnet.engine.api.resources.provider_networks import OPENSTACK_SUBNET
from extnet.engine.api.resources.providers import PROVIDER
from extnet.engine.api.resources.vms import NIC, SNAPSHOT, VM
from extnet.engine.api.resources.vnicprofiles import VNIC_PROFILE
from extnet.engine.api.schema import TYPES, coerce
from extnet.engine.commands.cluster_networks import ClusterNetworkInput
from extnet.engine.commands.cluster_settings import (
    ClusterSettingsInput,
    Display,
    FencingPolicy,
    MemoryPolicy,
    MigrationOptions,
)
from extnet.engine.commands.clusters import ClusterInput, Cpu
from extnet.engine.commands.datacenters import DataCenterInput, Version
from extnet.engine.commands.external_networks import ImportInput
from extnet.engine.commands.external_subnets import SubnetInput
from extnet.engine.commands.hosts import HostInput, InstallInput
from extnet.engine.commands.inputs import Property, Ref, wire
from extnet.engine.commands.macpools import MacPoolInput, MacRange
from extnet.engine.commands.networks import NetworkInput, Vlan
from extnet.engine.commands.nics import NicInput
from extnet.engine.commands.provider_certificates import ImportCertificatesInput, SentCertificate
from extnet.engine.commands.providers import ProviderInput
from extnet.engine.commands.snapshots import PreviewInput, SnapshotInput
from extnet.engine.commands.vms import HighAvailability, MigrateInput, StartInput, StopInput, Topology, VmInput
from extnet.engine.commands.vnicprofiles import VnicProfileInput

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

INPUTS: list[tuple[Mapper, type[Any]]] = [
    (HOST, HostInput),
    (CLUSTER, ClusterInput),
    (CLUSTER, ClusterSettingsInput),
    (NETWORK, ClusterNetworkInput),
    (DATA_CENTER, DataCenterInput),
    (MAC_POOL, MacPoolInput),
    (NETWORK, NetworkInput),
    (VNIC_PROFILE, VnicProfileInput),
    (PROVIDER, ProviderInput),
    (VM, VmInput),
    (NIC, NicInput),
    (SNAPSHOT, SnapshotInput),
    (OPENSTACK_SUBNET, SubnetInput),
]
ACTION_INPUTS: list[type[Any]] = [StartInput, StopInput, MigrateInput, PreviewInput, ImportInput,
                                  ImportCertificatesInput]  # fmt: skip


def given(mapper: Mapper, cls: type[Any], body: dict[str, Any]) -> Any:
    return to_input(mapper, coerce(mapper.type_name, body), cls)


@pytest.mark.parametrize(("mapper", "cls"), INPUTS, ids=[cls.__name__ for _, cls in INPUTS])
def test_an_empty_body_gives_nothing(mapper: Mapper, cls: type[Any]) -> None:
    assert to_input(mapper, {}, cls) == cls()


@pytest.mark.parametrize("cls", ACTION_INPUTS, ids=[cls.__name__ for cls in ACTION_INPUTS])
def test_an_empty_action_gives_nothing(cls: type[Any]) -> None:
    assert action_input({}, cls) == cls()


def action(cls: type[Any], body: dict[str, Any]) -> Any:
    return action_input(coerce("Action", body), cls)


def test_null_is_not_given_and_false_is_given() -> None:
    assert given(DATA_CENTER, DataCenterInput, {"name": None, "local": "false"}) == DataCenterInput(local=False)


def test_references_and_nested_values_are_typed() -> None:
    dc = given(DATA_CENTER, DataCenterInput, {"version": {"major": "4", "minor": "7"}, "mac_pool": {"name": "p"}})
    assert dc == DataCenterInput(version=Version(4, 7), mac_pool=Ref(name="p"))
    assert given(DATA_CENTER, DataCenterInput, {"version": "", "mac_pool": {}}) == DataCenterInput()


def test_lists_keep_whether_they_were_given() -> None:
    pool = given(MAC_POOL, MacPoolInput, {"ranges": {"range": [{"from": "00:1a:4a:00:00:00", "to": ""}]}})
    assert pool.ranges == (MacRange("00:1a:4a:00:00:00", ""),)
    assert given(MAC_POOL, MacPoolInput, {"ranges": ""}).ranges == ()
    assert given(MAC_POOL, MacPoolInput, {}).ranges is None


def test_a_field_whose_presence_matters_keeps_an_empty_reference() -> None:
    network = given(NETWORK, NetworkInput, {"cluster": "", "vlan": "", "data_center": ""})
    assert network.cluster == Ref(empty=True)
    assert network.cluster.wire() == {}
    assert network.vlan == Vlan(None)
    assert network.data_center is None
    profile = given(VNIC_PROFILE, VnicProfileInput, {"network_filter": {"href": "/x"}, "pass_through": {}})
    assert profile.network_filter == Ref()  # not empty: it must name its filter by id
    assert profile.pass_through_mode is None


def test_python_names_differ_from_wire_names() -> None:
    provider = given(PROVIDER, ProviderInput, {"type": "NEUTRON", "properties": {"property": [{"name": "a"}]}})
    assert provider.provider_type == "neutron"
    assert provider.properties == (Property("a", ""),)
    network = given(NETWORK, NetworkInput, {"external_provider_physical_network": {"name": "physnet"}})
    assert network.physical_network == Ref(name="physnet")


def test_an_input_field_the_mapper_does_not_declare_is_refused() -> None:
    @dataclass(frozen=True)
    class Wrong:
        colour: str | None = wire()

    assert "colour" not in TYPES[DATA_CENTER.type_name].fields
    with pytest.raises(AssertionError, match="colour"):
        to_input(DATA_CENTER, {}, Wrong)


def test_a_vm_input_types_its_nested_values() -> None:
    vm = given(VM, VmInput, {"cpu": {"topology": {"cores": "2"}}, "os": {"type": "rhel_9x64"}, "type": "server",
                             "high_availability": {"priority": "5"}, "cluster": {}, "template": {"name": "Blank"},
                             "nics": {"nic": [{"name": "a"}]}, "memory": None})  # fmt: skip
    assert vm == VmInput(topology=Topology(cores=2), os_type="rhel_9x64", vm_type="server",
                         high_availability=HighAvailability(priority=5), template=Ref(name="Blank"),
                         nics=({"name": "a"},))  # fmt: skip
    assert given(VM, VmInput, {"cpu": {}, "os": {}}) == VmInput(topology=Topology(), os_type=None)


def test_a_vnic_input_keeps_an_empty_profile_and_reads_the_mac_address() -> None:
    nic = given(NIC, NicInput, {"vnic_profile": {}, "mac": {"address": "00:1A:4A:00:00:01"}, "linked": "false"})
    assert nic == NicInput(vnic_profile=Ref(empty=True), mac="00:1A:4A:00:00:01", linked=False)
    assert given(NIC, NicInput, {"network": {}}).network is None


def test_a_subnet_input_is_the_same_alone_and_as_a_networks_first_subnet() -> None:
    body = {"name": "s", "cidr": "10.0.0.0/24", "dns_servers": {"dns_server": ["10.0.0.2"]},
            "openstack_network": {"id": "n"}}  # fmt: skip
    subnet = given(OPENSTACK_SUBNET, SubnetInput, body)
    assert subnet == SubnetInput(name="s", cidr="10.0.0.0/24", dns_servers=("10.0.0.2",),
                                 openstack_network=Ref(id="n"))  # fmt: skip
    assert given(NETWORK, NetworkInput, {"openstack_subnet": body}).openstack_subnet == subnet
    assert given(NETWORK, NetworkInput, {"openstack_subnet": {}}).openstack_subnet is None


def test_action_inputs_are_typed() -> None:
    assert action(StartInput, {"pause": "true"}) == StartInput(pause=True)
    assert action(StopInput, {"force": "false"}) == StopInput(force=False)
    assert action(MigrateInput, {"host": {}}) == MigrateInput()
    assert action(MigrateInput, {"host": {"name": "h"}}) == MigrateInput(Ref(name="h"))
    assert action(PreviewInput, {"snapshot": {"name": "x"}}).snapshot_id() is None
    imported = action(ImportInput, {"data_center": {"name": "dc"}, "public_use": "true"})
    assert imported == ImportInput(data_center=Ref(name="dc"), public_use=True)
    sent = action(ImportCertificatesInput, {"certificates": {"certificate": [{"content": "PEM"}, {}]}})
    assert sent.certificates == (SentCertificate("PEM"), SentCertificate(None))
    assert action(ImportCertificatesInput, {"certificates": ""}).certificates == ()


def test_a_host_input_reads_its_cluster_by_id_or_name() -> None:
    host = given(HOST, HostInput, {"name": "h", "port": "0", "cluster": {"name": "c"}, "root_password": "pw"})
    assert host == HostInput(name="h", port=0, cluster=Ref(name="c"), root_password="pw")
    assert host.port_or_default() == 0
    assert given(HOST, HostInput, {"cluster": {}, "address": ""}) == HostInput(address="")
    assert HostInput().port_or_default() == 54321
    assert action_input(coerce("Action", {"root_password": "pw"}), InstallInput) == InstallInput("pw")


def test_cluster_settings_are_named_by_the_columns_they_set() -> None:
    body = {"memory_policy": {"over_commit": {"percent": "150"}, "guaranteed": "1"}, "display": {"proxy": ""},
            "migration": {"policy": {}, "bandwidth": {"assignment_method": "auto"}, "compressed": "true"},
            "fencing_policy": {"skip_if_connectivity_broken": {"threshold": "50"}, "enabled": "false"},
            "ksm": "", "gluster_tuned_profile": "p"}  # fmt: skip
    cluster = given(CLUSTER, ClusterInput, body)
    assert cluster.memory_policy == MemoryPolicy(memory_over_commit=150, vm_only=("guaranteed",))
    assert cluster.migration == MigrationOptions(migration_compressed="true", migration_bandwidth="auto")
    assert cluster.fencing_policy == FencingPolicy(fencing_enabled=False, fencing_connectivity_threshold=50)
    assert cluster.display == Display(spice_proxy="")
    assert cluster.columns() == {
        "memory_over_commit": 150, "migration_compressed": "true", "migration_bandwidth": "auto",
        "fencing_enabled": False, "fencing_connectivity_threshold": 50, "spice_proxy": "", "gluster_tuned_profile": "p",
    }  # fmt: skip
    assert list(cluster.columns())[0] == "memory_over_commit"  # in the order of COLUMNS
    migration = given(CLUSTER, ClusterInput, {"migration": {"policy": {"name": "Legacy"}}}).migration
    assert migration.policy == Ref(name="Legacy")


def test_a_cluster_input_keeps_whether_its_lists_were_given() -> None:
    body = {"cpu": {}, "version": {}, "required_rng_sources": "",
            "external_network_providers": {"external_provider": [{"name": "p"}, {}]},
            "custom_scheduling_policy_properties": {"property": [{"name": "a"}]}}  # fmt: skip
    cluster = given(CLUSTER, ClusterInput, body)
    assert cluster.cpu == Cpu() and cluster.version is None
    assert cluster.required_rng_sources == ()
    assert cluster.external_network_providers == (Ref(name="p"), None)
    assert cluster.custom_scheduling_policy_properties == (Property("a", ""),)
    assert given(CLUSTER, ClusterInput, {"external_network_providers": ""}).external_network_providers == ()
    assert given(CLUSTER, ClusterInput, {}).external_network_providers is None


def test_a_cluster_network_input_asks_for_roles() -> None:
    attach = given(NETWORK, ClusterNetworkInput, {"name": "n", "usages": {"usage": ["vm", "migration"]},
                                                  "display": "true"})  # fmt: skip
    assert attach.roles(set()) == {"migration", "display"}
    assert given(NETWORK, ClusterNetworkInput, {"display": "false"}).roles({"display", "gluster"}) == {"gluster"}
    assert given(NETWORK, ClusterNetworkInput, {"required": "false"}).roles({"migration"}) == {"migration"}
