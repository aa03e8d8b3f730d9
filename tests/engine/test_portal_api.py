"""What the web portal reads through the engine's public API (extnet's extensions of oVirt's API): an external
network's reference to its network on the provider, a vNIC's port on its provider, a provider's routers and its
security groups, all read live. Driven over HTTP, JSON and XML, against a real engine, the built-in provider and a
host agent on the noop runtime; the provider's side is arranged and checked with openstacksdk."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from extnet.engine.store.db import Database
from extnet.engine.store.models import VmNic
from tests.engine.external_helpers import import_network
from tests.polling import until
from tests.provider.process import run_provider
from tests.servers import EngineProcess, HostAgentProcess

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip

Names = Callable[[str], str]
System = sdk.services.SystemService
API = "/ovirt-engine/api/"
PROVIDERS = "openstacknetworkproviders"


@pytest.fixture
def xml(engine: EngineProcess, token: str) -> Iterator[httpx.Client]:
    """An HTTP client asking the API root for XML, authenticated with a bearer token."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/xml"}
    with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def dc(system: System, unique: Names) -> Iterator[t.DataCenter]:
    made = system.data_centers_service().add(t.DataCenter(name=unique("padc")))
    yield made
    system.data_centers_service().data_center_service(made.id).remove(force=True)


def read(client: httpx.Client, path: str) -> Any:
    """The JSON body (or the XML root) of a GET that must succeed; ``path`` relative to the API, or an href."""
    response = client.get(path.removeprefix(API))
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    if response.headers["content-type"].startswith("application/xml"):
        return ElementTree.fromstring(response.content)
    return response.json()


def network_ref(provider_id: str, network_id: str) -> dict[str, str]:
    return {"href": f"{API}{PROVIDERS}/{provider_id}/networks/{network_id}", "id": network_id}


def rels(entity: dict[str, Any]) -> set[str]:
    return {link["rel"] for link in entity.get("link", [])}


# --- a network and its network on the provider -----------------------------------------------------------------------


def test_an_external_network_leads_to_its_network_on_the_provider(
    system: System, rest: httpx.Client, xml: httpx.Client, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, dc: t.DataCenter, unique: Names,
) -> None:  # fmt: skip
    source = make_net(unique("pnet"), description="on the provider")
    network = import_network(system, provider.id, source, dc)
    local = system.networks_service().add(t.Network(name=unique("loc"), data_center=t.DataCenter(id=dc.id)))

    shown = read(rest, f"networks/{network.id}")
    assert shown["openstack_network"] == network_ref(provider.id, source.id)
    followed = read(rest, shown["openstack_network"]["href"])
    assert (followed["id"], followed["name"], followed["description"]) == (source.id, source.name, "on the provider")
    assert [d["id"] for d in followed["data_centers"]["data_center"]] == [dc.id]
    element = read(xml, f"networks/{network.id}").find("openstack_network")
    assert element is not None and element.attrib == network_ref(provider.id, source.id)

    assert "openstack_network" not in read(rest, f"networks/{local.id}")
    assert read(xml, f"networks/{local.id}").find("openstack_network") is None
    listed = {n["id"]: n for n in read(rest, f"datacenters/{dc.id}/networks")["network"]}
    assert listed[network.id]["openstack_network"]["id"] == source.id and "openstack_network" not in listed[local.id]
    assert system.networks_service().network_service(network.id).get().external_provider.id == provider.id  # the SDK


# --- a vNIC's port, live -------------------------------------------------------------------------------------------


@dataclass
class Running:
    """A host of a cluster of its own, alive on the provider, and a network of the provider with a subnet imported
    into the cluster's data center."""

    host: t.Host
    cluster: t.Cluster
    network: Any  # openstacksdk's
    subnet: Any
    profile: t.VnicProfile


@pytest.fixture
def running(
    system: System, rest: httpx.Client, neutron: Connection, make_net: Callable[..., Any],
    provider: t.OpenStackNetworkProvider, dc: t.DataCenter, host_agent: Callable[..., HostAgentProcess],
    unique: Names,
) -> Running:  # fmt: skip
    cluster = system.clusters_service().add(t.Cluster(name=unique("pacl"), data_center=t.DataCenter(id=dc.id),
                                                      cpu=t.Cpu(type="Intel Nehalem Family")))  # fmt: skip
    network = make_net(unique("pvm"))
    subnet = neutron.network.create_subnet(network_id=network.id, cidr="10.77.0.0/24", ip_version=4, name="portal")
    answer = rest.post(f"{PROVIDERS}/{provider.id}/networks/{network.id}/import",
                       json={"data_center": {"id": dc.id}, "attach_to_all_clusters": True})  # fmt: skip
    assert answer.status_code == 200, answer.text
    [copy] = system.networks_service().list(search=f"name={network.name} and datacenter={dc.name}")
    [profile] = system.networks_service().network_service(copy.id).vnic_profiles_service().list()
    name = unique("pahost")  # the host binds ports by the engine's name of it
    agent = host_agent(env={"EXTNET_HOST_HOSTNAME": name, "EXTNET_HOST_BINDING_HOST": name})
    host = system.hosts_service().add(t.Host(name=name, address=agent.address, port=agent.port,
                                             root_password=agent.password,
                                             cluster=t.Cluster(id=cluster.id)))  # fmt: skip
    until(lambda: any(a.is_alive for a in neutron.network.agents(host=name)), f"host {name} alive on the provider")
    return Running(host, cluster, network, subnet, profile)


def vm_with_nic(system: System, cluster: t.Cluster, profile: t.VnicProfile | None, unique: Names) -> tuple[t.Vm, t.Nic]:
    vm = system.vms_service().add(t.Vm(name=unique("pavm"), cluster=t.Cluster(id=cluster.id),
                                       template=t.Template(name="Blank")))  # fmt: skip
    wanted = t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=profile.id) if profile else None)
    return vm, system.vms_service().vm_service(vm.id).nics_service().add(wanted)


def ports_of(rest: httpx.Client, vm: t.Vm, nic: t.Nic) -> list[dict[str, Any]]:
    return list(read(rest, f"vms/{vm.id}/nics/{nic.id}/openstackports").get("openstack_port", []))


@pytest.mark.builtin_provider_only("the host agent heartbeats to the built-in provider, which activates the port")
def test_a_started_vnic_shows_its_port_as_the_provider_reports_it(
    system: System, rest: httpx.Client, xml: httpx.Client, neutron: Connection,
    provider: t.OpenStackNetworkProvider, running: Running, unique: Names,
) -> None:  # fmt: skip
    vm, nic = vm_with_nic(system, running.cluster, running.profile, unique)
    idle, idle_nic = vm_with_nic(system, running.cluster, running.profile, unique)
    assert "openstackports" in rels(read(rest, f"vms/{vm.id}/nics/{nic.id}"))
    assert ports_of(rest, vm, nic) == []  # never started: no port yet
    service = system.vms_service().vm_service(vm.id)
    service.start()
    try:
        [port] = until(lambda: [p for p in ports_of(rest, vm, nic) if p["status"] == "ACTIVE"], "the port ACTIVE")
        [remote] = neutron.network.ports(device_id=nic.id)
        base = f"{API}vms/{vm.id}/nics/{nic.id}/openstackports"
        assert (port["id"], port["href"]) == (remote.id, f"{base}/{remote.id}")
        assert (port["binding_host_id"], port["binding_vif_type"]) == (running.host.name, remote.binding_vif_type)
        assert (port["mac_address"], port["device_id"], port["device_owner"]) == (nic.mac.address, nic.id, "oVirt")
        [fixed] = port["fixed_ips"]["fixed_ip"]
        assert fixed["subnet_id"] == running.subnet.id
        assert ipaddress.ip_address(fixed["ip_address"]) in ipaddress.ip_network(running.subnet.cidr)
        assert port["openstack_network"] == network_ref(provider.id, running.network.id)
        assert read(rest, port["openstack_network"]["href"])["name"] == running.network.name
        assert port["openstack_network_provider"]["id"] == provider.id
        assert port["security_groups"]["security_group"] == remote.security_group_ids
        assert read(rest, port["href"]) == port

        root = read(xml, base)
        assert root.tag == "openstack_ports" and [p.get("id") for p in root] == [remote.id]
        element = root[0]
        assert (element.findtext("status"), element.findtext("binding_host_id")) == ("ACTIVE", running.host.name)
        ips = [(ip.findtext("subnet_id"), ip.findtext("ip_address")) for ip in element.iterfind("fixed_ips/fixed_ip")]
        assert ips == [(running.subnet.id, fixed["ip_address"])]
        reference = element.find("openstack_network")
        assert reference is not None and reference.attrib == network_ref(provider.id, running.network.id)

        assert ports_of(rest, idle, idle_nic) == []  # a VM never started
        assert list(read(xml, f"vms/{idle.id}/nics/{idle_nic.id}/openstackports")) == []
        unknown = rest.get(f"{base.removeprefix(API)}/{uuid.uuid4()}")
        assert unknown.status_code == 404 and "port" in unknown.json()["detail"]
    finally:
        service.stop()
    neutron.network.delete_port(port["id"])  # gone on the provider: the vNIC shows none
    assert ports_of(rest, vm, nic) == []
    for made in (vm, idle):
        system.vms_service().vm_service(made.id).remove()


# --- a provider's routers, live ------------------------------------------------------------------------------------


@pytest.fixture
def router(neutron: Connection, make_net: Callable[..., Any], unique: Names) -> Iterator[tuple[Any, Any, Any]]:
    """A router of the provider with an interface on a subnet and its gateway on an external network: (router, the
    subnet, the external network), removed afterwards."""
    inside = make_net(unique("rin"))
    subnet = neutron.network.create_subnet(network_id=inside.id, cidr="10.78.0.0/24", gateway_ip="10.78.0.1",
                                           ip_version=4, name="inside")  # fmt: skip
    outside = make_net(unique("rout"), is_router_external=True)
    neutron.network.create_subnet(network_id=outside.id, cidr="10.79.0.0/24", ip_version=4, name="outside")
    made = neutron.network.create_router(name=unique("router"), external_gateway_info={"network_id": outside.id})
    neutron.network.add_interface_to_router(made, subnet_id=subnet.id)
    yield made, subnet, outside
    neutron.network.remove_interface_from_router(made, subnet_id=subnet.id)
    neutron.network.delete_router(made)


def test_a_router_is_listed_with_its_interface_on_a_subnet(
    rest: httpx.Client, xml: httpx.Client, neutron: Connection, provider: t.OpenStackNetworkProvider,
    router: tuple[Any, Any, Any],
) -> None:  # fmt: skip
    made, subnet, outside = router
    [interface] = neutron.network.ports(device_id=made.id, device_owner="network:router_interface")
    assert "routers" in rels(read(rest, f"{PROVIDERS}/{provider.id}"))
    listed = {r["id"]: r for r in read(rest, f"{PROVIDERS}/{provider.id}/routers")["openstack_router"]}
    shown = listed[made.id]
    assert shown["href"] == f"{API}{PROVIDERS}/{provider.id}/routers/{made.id}"
    assert (shown["name"], shown["status"]) == (made.name, neutron.network.get_router(made.id).status)
    assert shown["interfaces"] == {"interface": [{"subnet_id": subnet.id, "port_id": interface.id,
                                                  "ip_address": "10.78.0.1"}]}  # fmt: skip
    assert shown["external_gateway_network"] == network_ref(provider.id, outside.id)
    assert shown["openstack_network_provider"]["id"] == provider.id
    assert read(rest, shown["href"]) == shown
    assert len(read(rest, f"{PROVIDERS}/{provider.id}/routers?max=1")["openstack_router"]) == 1

    element = read(xml, shown["href"])
    assert element.tag == "openstack_router" and element.get("id") == made.id
    found = [(i.findtext("subnet_id"), i.findtext("port_id")) for i in element.iterfind("interfaces/interface")]
    assert found == [(subnet.id, interface.id)]
    unknown = rest.get(f"{PROVIDERS}/{provider.id}/routers/{uuid.uuid4()}")
    assert unknown.status_code == 404 and provider.name in unknown.json()["detail"]


# --- providers that are not called, or cannot be ---------------------------------------------------------------------


def store_port(store: Database, nic: t.Nic, port_id: str | None, provider_id: str | None) -> None:
    """What a start stores on a vNIC: its port and the port's provider."""
    with store.transaction() as session:
        row = session.get(VmNic, nic.id)
        assert row is not None
        row.port_id, row.port_provider_id = port_id, provider_id


def test_an_unmanaged_provider_is_never_called(
    system: System, rest: httpx.Client, store: Database, add_provider: Callable[..., Any], unique: Names
) -> None:
    unmanaged = add_provider(unmanaged=True, url=None, requires_authentication=False, username=None, password=None,
                             authentication_url=None)  # fmt: skip
    assert read(rest, f"{PROVIDERS}/{unmanaged.id}/routers").get("openstack_router", []) == []
    assert read(rest, f"{PROVIDERS}/{unmanaged.id}/securitygroups").get("openstack_security_group", []) == []
    for sub in ("routers", "securitygroups"):
        missing = rest.get(f"{PROVIDERS}/{unmanaged.id}/{sub}/{uuid.uuid4()}")
        assert missing.status_code == 404 and unmanaged.name in missing.json()["detail"]
    vm, nic = vm_with_nic(system, t.Cluster(id=read(rest, "clusters?search=name=Default")["cluster"][0]["id"]), None,
                          unique)  # fmt: skip
    store_port(store, nic, str(uuid.uuid4()), unmanaged.id)
    try:
        assert ports_of(rest, vm, nic) == []
    finally:
        store_port(store, nic, None, None)
        system.vms_service().vm_service(vm.id).remove()


@pytest.mark.builtin_provider_only("it starts a provider of its own and stops it")
def test_a_stopped_provider_gives_a_fault_with_a_reason(
    system: System, rest: httpx.Client, xml: httpx.Client, store: Database, add_provider: Callable[..., Any],
    tmp_path: Path, unique: Names,
) -> None:  # fmt: skip
    with run_provider(tmp_path / "down") as second:
        stopped = add_provider(url=second.network_url, authentication_url=second.auth_url)
        assert read(rest, f"{PROVIDERS}/{stopped.id}/routers").get("openstack_router", []) == []
    default = read(rest, "clusters?search=name=Default")["cluster"][0]["id"]
    vm, nic = vm_with_nic(system, t.Cluster(id=default), None, unique)
    store_port(store, nic, str(uuid.uuid4()), stopped.id)
    try:
        for path in (f"{PROVIDERS}/{stopped.id}/routers", f"{PROVIDERS}/{stopped.id}/routers/{uuid.uuid4()}",
                     f"{PROVIDERS}/{stopped.id}/securitygroups",
                     f"{PROVIDERS}/{stopped.id}/securitygroups/{uuid.uuid4()}",
                     f"vms/{vm.id}/nics/{nic.id}/openstackports"):  # fmt: skip
            answer = rest.get(path)
            assert answer.status_code == 400, f"{path}: {answer.text}"
            body = answer.json()
            assert body["reason"] == "Operation Failed" and "unreachable" in body["detail"], body
            assert stopped.name in body["detail"]
            fault = ElementTree.fromstring(xml.get(path).content)
            assert fault.tag == "fault" and "unreachable" in (fault.findtext("detail") or "")
    finally:
        store_port(store, nic, None, None)
        system.vms_service().vm_service(vm.id).remove()


# --- a provider's security groups, live ------------------------------------------------------------------------------


@pytest.fixture
def security_group(neutron: Connection, unique: Names) -> Iterator[tuple[Any, Any, Any]]:
    """A security group of the provider with two rules of its own: SSH in from a network, and IPv6 in from the
    group's own members (remote_group_id): (group, the SSH rule, the members' rule), removed afterwards."""
    made = neutron.network.create_security_group(name=unique("sg"), description="picked in the portal")
    ssh = neutron.network.create_security_group_rule(
        security_group_id=made.id, direction="ingress", ethertype="IPv4", protocol="tcp", port_range_min=22,
        port_range_max=22, remote_ip_prefix="192.0.2.0/24",
    )  # fmt: skip
    members = neutron.network.create_security_group_rule(security_group_id=made.id, direction="ingress",
                                                         ethertype="IPv6", remote_group_id=made.id)  # fmt: skip
    yield made, ssh, members
    neutron.network.delete_security_group(made, ignore_missing=True)


def test_a_security_group_is_listed_with_its_rules(
    rest: httpx.Client, xml: httpx.Client, neutron: Connection, provider: t.OpenStackNetworkProvider,
    security_group: tuple[Any, Any, Any],
) -> None:  # fmt: skip
    made, ssh, members = security_group
    base = f"{PROVIDERS}/{provider.id}/securitygroups"
    assert "securitygroups" in rels(read(rest, f"{PROVIDERS}/{provider.id}"))
    listed = {g["id"]: g for g in read(rest, base)["openstack_security_group"]}
    shown = listed[made.id]
    assert shown["href"] == f"{API}{base}/{made.id}"
    assert (shown["name"], shown["description"]) == (made.name, "picked in the portal")
    assert shown["openstack_network_provider"]["id"] == provider.id
    rules = {rule["id"]: rule for rule in shown["rules"]["rule"]}
    on_provider = {rule["id"] for rule in neutron.network.get_security_group(made.id).security_group_rules}
    assert set(rules) == on_provider  # the defaults Neutron adds (egress) too
    assert rules[ssh.id] == {"id": ssh.id, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                             "port_range_min": "22", "port_range_max": "22", "remote_ip_prefix": "192.0.2.0/24"}
    assert rules[members.id] == {"id": members.id, "direction": "ingress", "ethertype": "IPv6",
                                 "remote_group_id": made.id}  # fmt: skip
    assert read(rest, shown["href"]) == shown
    assert len(read(rest, f"{base}?max=1")["openstack_security_group"]) == 1

    root = read(xml, base)
    assert root.tag == "openstack_security_groups" and made.id in [g.get("id") for g in root]
    element = read(xml, shown["href"])
    assert element.tag == "openstack_security_group" and element.findtext("name") == made.name
    [rule] = [r for r in element.iterfind("rules/rule") if r.get("id") == ssh.id]
    found = [rule.findtext(name) for name in ("direction", "protocol", "port_range_min", "port_range_max")]
    assert found == ["ingress", "tcp", "22", "22"] and rule.findtext("remote_ip_prefix") == "192.0.2.0/24"
    unknown = rest.get(f"{base}/{uuid.uuid4()}")
    assert unknown.status_code == 404 and provider.name in unknown.json()["detail"]
    assert "security group" in unknown.json()["detail"]
