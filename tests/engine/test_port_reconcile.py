"""The engine and the built-in provider (no host): ``extnet engine reconcile`` removes the orphan ports this engine
made and nothing else; a port whose deletion fails waits in the outbox and is retried until it is gone."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from extnet.engine.store.db import Database
from extnet.engine.store.models import EngineState, VmNic
from tests.polling import until
from tests.servers import EngineProcess, free_port

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip
System = sdk.services.SystemService
REMOVAL_FAILED, REMOVED_AFTER_RETRY, ORPHAN_REMOVED, RECONCILE_FAILED = 9607, 9640, 9641, 9645


@dataclass
class Setup:
    provider: t.OpenStackNetworkProvider
    network: Any  # openstacksdk
    vm: t.Vm
    nic: t.Nic
    port: Any  # the vNIC's port, as if a start had made it
    marker: str


@pytest.fixture
def setup(system: System, rest: httpx.Client, neutron: Connection, store: Database, add_provider: Callable[..., Any],
          unique: Callable[[str], str]) -> Iterator[Setup]:  # fmt: skip
    dc = system.data_centers_service().add(t.DataCenter(name=unique("dc"), local=False))
    cluster = system.clusters_service().add(t.Cluster(name=unique("cl"), data_center=t.DataCenter(id=dc.id),
                                                      cpu=t.Cpu(architecture=t.Architecture.X86_64)))  # fmt: skip
    provider = add_provider()
    network = neutron.network.create_network(name=unique("net"))
    answer = rest.post(f"openstacknetworkproviders/{provider.id}/networks/{network.id}/import",
                       json={"data_center": {"id": dc.id}, "attach_to_all_clusters": True})  # fmt: skip
    assert answer.status_code == 200, answer.text
    [copy] = system.networks_service().list(search=f"name={network.name} and datacenter={dc.name}")
    [profile] = system.networks_service().network_service(copy.id).vnic_profiles_service().list()
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=cluster.id),
                                       template=t.Template(name="Blank")))  # fmt: skip
    nic = system.vms_service().vm_service(vm.id).nics_service().add(
        t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=profile.id)))  # fmt: skip
    with store.transaction() as session:
        row = session.get(EngineState, "engine_id")
        assert row is not None
        marker = f"extnet engine {row.value}"
    port = neutron.network.create_port(network_id=network.id, device_owner="oVirt", device_id=nic.id, name="nic1",
                                       mac_address=nic.mac.address, description=marker)  # fmt: skip
    with store.transaction() as session:  # what a start would have stored
        stored = session.get(VmNic, nic.id)
        assert stored is not None
        stored.port_id, stored.port_provider_id = port.id, provider.id
    try:
        yield Setup(provider, network, vm, nic, port, marker)
    finally:
        system.data_centers_service().data_center_service(dc.id).remove(force=True)
        until(lambda: neutron.network.find_port(port.id) is None, "the port removed with the data center")
        for leftover in neutron.network.ports(network_id=network.id):
            neutron.network.delete_port(leftover.id)
        neutron.network.delete_network(network.id, ignore_missing=True)


def reconcile(engine: EngineProcess) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "extnet", "engine", "reconcile", "--data-dir", str(engine.data_dir)]
    if engine.database_url:
        args += ["--database-url", engine.database_url]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def events(rest: httpx.Client, code: int) -> list[dict[str, Any]]:
    return [e for e in rest.get("events", params={"max": "300"}).json().get("event", []) if e["code"] == str(code)]


def test_reconcile_removes_only_this_engines_orphans(engine: EngineProcess, setup: Setup, neutron: Connection,
                                                    rest: httpx.Client) -> None:  # fmt: skip
    gone_vnic = str(uuid.uuid4())
    orphan = neutron.network.create_port(network_id=setup.network.id, device_owner="oVirt", device_id=gone_vnic,
                                         description=setup.marker, name="orphan")  # fmt: skip
    duplicate = neutron.network.create_port(network_id=setup.network.id, device_owner="oVirt",
                                            device_id=setup.nic.id, description=setup.marker, name="nic1")  # fmt: skip
    foreign = neutron.network.create_port(network_id=setup.network.id, device_owner="oVirt", device_id=gone_vnic,
                                          description="extnet engine of somebody else")  # fmt: skip
    other_owner = neutron.network.create_port(network_id=setup.network.id, device_owner="compute:nova",
                                              device_id=gone_vnic, description=setup.marker)  # fmt: skip

    done = reconcile(engine)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "orphan ports removed: 2" in done.stdout and "missing ports made again: 0" in done.stdout
    assert f"provider {setup.provider.name}: removing orphan ports" in done.stderr
    until(lambda: neutron.network.find_port(orphan.id) is None, "the orphan removed")
    until(lambda: neutron.network.find_port(duplicate.id) is None, "the second port of the vNIC removed")
    for kept in (setup.port, foreign, other_owner):
        assert neutron.network.find_port(kept.id) is not None
    described = " ".join(e["description"] for e in events(rest, ORPHAN_REMOVED))
    assert orphan.id in described and duplicate.id in described and foreign.id not in described
    for extra in (foreign, other_owner):
        neutron.network.delete_port(extra.id)

    again = reconcile(engine)
    assert again.returncode == 0 and "orphan ports removed: 0" in again.stdout


def test_a_failed_removal_is_retried_from_the_outbox(system: System, rest: httpx.Client, setup: Setup,
                                                     neutron: Connection, builtin_provider: Any) -> None:  # fmt: skip
    service = system.openstack_network_providers_service().provider_service(setup.provider.id)
    service.update(t.OpenStackNetworkProvider(url=f"http://127.0.0.1:{free_port()}"))  # nobody answers there
    try:
        system.vms_service().vm_service(setup.vm.id).nics_service().nic_service(setup.nic.id).remove()
        until(lambda: [e for e in events(rest, REMOVAL_FAILED) if setup.nic.id in e["description"]],
              "an event for the failed removal")  # fmt: skip
        assert neutron.network.find_port(setup.port.id) is not None
    finally:
        service.update(t.OpenStackNetworkProvider(url=builtin_provider.network_url))
    until(lambda: neutron.network.find_port(setup.port.id) is None, "the port removed once the provider answers")
    [done] = until(lambda: [e for e in events(rest, REMOVED_AFTER_RETRY) if setup.port.id in e["description"]],
                   "an event once it is removed")  # fmt: skip
    assert f"from external network provider {setup.provider.name} after" in done["description"]


def test_reconcile_reports_a_provider_it_cannot_reach(engine: EngineProcess, system: System, rest: httpx.Client,
                                                     setup: Setup, builtin_provider: Any) -> None:  # fmt: skip
    service = system.openstack_network_providers_service().provider_service(setup.provider.id)
    service.update(t.OpenStackNetworkProvider(url=f"http://127.0.0.1:{free_port()}"))
    try:
        done = reconcile(engine)
    finally:
        service.update(t.OpenStackNetworkProvider(url=builtin_provider.network_url))
    assert done.returncode == 1
    assert f"failed: Failed to list the ports this engine made on provider '{setup.provider.name}'" in done.stdout
    assert [e for e in events(rest, RECONCILE_FAILED) if setup.provider.name in e["description"]]
