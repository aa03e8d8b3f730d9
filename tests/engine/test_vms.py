"""VMs through the real ovirtsdk4 (XML) and through JSON: CRUD, run state, rules, search, links."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.servers import ADMIN_PASSWORD, EngineProcess, HostAgentProcess

Unique = Callable[[str], str]
StartAgent = Callable[..., HostAgentProcess]
BLANK = "00000000-0000-0000-0000-000000000000"
GIB = 1024**3


@pytest.fixture
def cluster(system: sdk.services.SystemService, unique: Unique) -> Iterator[t.Cluster]:
    """A cluster of its own data center: no other test's host runs there."""
    dc = system.data_centers_service().add(t.DataCenter(name=unique("vdc")))
    made = system.clusters_service().add(
        t.Cluster(name=unique("vcl"), data_center=t.DataCenter(id=dc.id), cpu=t.Cpu(type="Intel Nehalem Family"))
    )
    yield made
    system.data_centers_service().data_center_service(dc.id).remove(force=True)


def add_host(system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent) -> t.Host:
    """A host of the cluster, paired with a host agent of its own."""
    agent = host_agent()
    wanted = t.Host(name=unique("host"), address=agent.address, port=agent.port, root_password=agent.password,
                    cluster=t.Cluster(id=cluster.id))  # fmt: skip
    return system.hosts_service().add(wanted)


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def test_add_with_defaults(connection: sdk.Connection, system: sdk.services.SystemService, unique: Unique) -> None:
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(name="Default")))
    assert vm.status == t.VmStatus.DOWN and vm.host is None
    assert vm.template.id == BLANK and vm.memory == GIB
    assert (vm.cpu.topology.sockets, vm.cpu.topology.cores, vm.cpu.topology.threads) == (1, 1, 1)
    assert vm.os.type == "other" and vm.type == t.VmType.SERVER
    assert vm.stateless is False and vm.delete_protected is False and vm.high_availability.enabled is False
    assert vm.href == f"/ovirt-engine/api/vms/{vm.id}"
    assert vm.creation_time.tzinfo is not None and abs(vm.creation_time - datetime.now(UTC)).total_seconds() < 300
    assert connection.follow_link(vm.cluster).name == "Default"
    assert connection.follow_link(vm.template).name == "Blank"
    assert connection.follow_link(vm.nics) == []
    assert [s.description for s in connection.follow_link(vm.snapshots)] == ["Active VM"]
    system.vms_service().vm_service(vm.id).remove()


def test_add_with_every_field_then_update(system: sdk.services.SystemService, unique: Unique) -> None:
    vms = system.vms_service()
    vm = vms.add(
        t.Vm(name=unique("vm"), cluster=t.Cluster(name="Default"), template=t.Template(name="Blank"),
             memory=6 * GIB, cpu=t.Cpu(topology=t.CpuTopology(sockets=2, cores=4, threads=2)),
             os=t.OperatingSystem(type="rhel_8x64"), type=t.VmType.DESKTOP, description="d", comment="c",
             stateless=True, delete_protected=False,
             high_availability=t.HighAvailability(enabled=True, priority=50))
    )  # fmt: skip
    got = vms.vm_service(vm.id).get()
    assert got.memory == 6 * GIB  # more than a 32-bit column holds
    assert (got.cpu.topology.sockets, got.cpu.topology.cores, got.cpu.topology.threads) == (2, 4, 2)
    assert (got.os.type, got.type, got.description, got.comment) == ("rhel_8x64", t.VmType.DESKTOP, "d", "c")
    assert got.stateless is True and got.high_availability.enabled is True and got.high_availability.priority == 50

    new_name = unique("renamed")
    updated = vms.vm_service(vm.id).update(
        t.Vm(name=new_name, memory=2 * GIB, cpu=t.Cpu(topology=t.CpuTopology(sockets=1)), stateless=False,
             description="d2", high_availability=t.HighAvailability(enabled=False))
    )  # fmt: skip
    assert (updated.name, updated.memory, updated.cpu.topology.sockets, updated.cpu.topology.cores) == (
        new_name, 2 * GIB, 1, 4,
    )  # fmt: skip
    assert updated.stateless is False and updated.description == "d2" and updated.high_availability.enabled is False
    vms.vm_service(vm.id).remove()


def test_template_by_id_and_unknown_template(system: sdk.services.SystemService, unique: Unique) -> None:
    vms = system.vms_service()
    vm = vms.add(t.Vm(name=unique("vm"), cluster=t.Cluster(name="Default"), template=t.Template(id=BLANK)))
    assert vm.template.id == BLANK
    other = "6c6d3e2a-0000-4000-8000-0000000000cc"
    err = fault(lambda: vms.vm_service(vm.id).update(t.Vm(template=t.Template(id=other))))
    assert (
        err.code == 400
        and "Cannot update VM." in str(err)
        and f"The template with id '{other}' does not exist" in str(err)
    )
    vms.vm_service(vm.id).remove()
    err = fault(lambda: vms.add(t.Vm(name=unique("vm"), cluster=t.Cluster(name="Default"),
                                     template=t.Template(name="Fedora"))))  # fmt: skip
    assert err.code == 400 and "The template named 'Fedora' does not exist" in str(err)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"cluster": None}, "A VM needs a cluster"),
        ({"cluster": t.Cluster(name="no-such-cluster")}, "The cluster named 'no-such-cluster' does not exist"),
        ({"name": "bad name!"}, "may contain only"),
        ({"memory": 0}, "must be a positive number of bytes"),
        ({"cpu": t.Cpu(topology=t.CpuTopology(sockets=0))}, "needs between 1 and 1024 CPU sockets, not 0"),
        ({"cpu": t.Cpu(topology=t.CpuTopology(cores=5000))}, "needs between 1 and 1024 CPU cores, not 5000"),
        ({"os": t.OperatingSystem(type="x" * 65)}, "operating system type of VM"),
        ({"high_availability": t.HighAvailability(enabled=True, priority=101)}, "must be between 0 and 100"),
        ({"nics": [t.Nic(name="nic1")]}, "through its nics collection"),
    ],
)
def test_invalid_input(
    system: sdk.services.SystemService, unique: Unique, fields: dict[str, object], fragment: str
) -> None:
    values: dict[str, object] = {"name": unique("vm"), "cluster": t.Cluster(name="Default")}
    values.update(fields)
    err = fault(lambda: system.vms_service().add(t.Vm(**values)))
    assert err.code == 400 and "Cannot add VM." in str(err) and fragment in str(err), str(err)


def test_unique_name(system: sdk.services.SystemService, unique: Unique) -> None:
    vms = system.vms_service()
    first = vms.add(t.Vm(name=unique("vm"), cluster=t.Cluster(name="Default")))
    err = fault(lambda: vms.add(t.Vm(name=first.name, cluster=t.Cluster(name="Default"))))
    assert err.code == 409 and f"The VM name '{first.name}' is already in use" in str(err)
    second = vms.add(t.Vm(name=unique("vm"), cluster=t.Cluster(name="Default")))
    err = fault(lambda: vms.vm_service(second.id).update(t.Vm(name=first.name)))
    assert err.code == 409 and "Cannot update VM." in str(err)
    for vm in (first, second):
        vms.vm_service(vm.id).remove()


def test_start_stop_shutdown(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=cluster.id)))
    service = system.vms_service().vm_service(vm.id)
    err = fault(service.start)
    assert err.code == 409 and "Cannot run VM." in str(err)
    assert f"There is no host in cluster '{cluster.name}' that is up to run VM '{vm.name}'" in str(err)

    host = add_host(system, unique, cluster, host_agent)
    service.start()
    running = service.get()
    assert running.status == t.VmStatus.UP and running.host.id == host.id
    assert running.start_time is not None and running.stop_time is None
    err = fault(service.start)
    assert err.code == 409 and f"VM '{vm.name}' is already running" in str(err)

    service.stop()
    stopped = service.get()
    assert stopped.status == t.VmStatus.DOWN and stopped.host is None and stopped.stop_time is not None
    err = fault(service.stop)
    assert err.code == 409 and "Cannot stop VM." in str(err) and f"VM '{vm.name}' is not running" in str(err)
    err = fault(service.shutdown)
    assert err.code == 409 and "Cannot shutdown VM." in str(err)

    service.start()
    service.shutdown()
    assert service.get().status == t.VmStatus.DOWN


def test_start_paused_then_resume(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    host = add_host(system, unique, cluster, host_agent)
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=cluster.id)))
    service = system.vms_service().vm_service(vm.id)
    service.start(pause=True)
    assert service.get().status == t.VmStatus.PAUSED
    service.start()  # resumes on the same host
    resumed = service.get()
    assert resumed.status == t.VmStatus.UP and resumed.host.id == host.id
    service.stop()


def test_start_skips_hosts_in_maintenance(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    parked = add_host(system, unique, cluster, host_agent)
    system.hosts_service().host_service(parked.id).deactivate()
    active = add_host(system, unique, cluster, host_agent)
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=cluster.id)))
    service = system.vms_service().vm_service(vm.id)
    service.start()
    assert service.get().host.id == active.id
    service.stop()


def test_removal_rules(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    add_host(system, unique, cluster, host_agent)
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=cluster.id), delete_protected=True))
    service = system.vms_service().vm_service(vm.id)
    service.start()
    err = fault(service.remove)
    assert err.code == 409 and "Cannot remove VM." in str(err)
    assert f"VM '{vm.name}' is up; stop it before removing it" in str(err)
    assert f"VM '{vm.name}' is delete protected" in str(err)  # every broken rule is named at once
    service.stop()
    err = fault(service.remove)
    assert err.code == 409 and "delete protected" in str(err) and "stop it" not in str(err)
    service.update(t.Vm(delete_protected=False))
    service.remove()
    with pytest.raises(sdk.NotFoundError):
        service.get()


def test_moving_to_another_cluster(
    system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent
) -> None:
    add_host(system, unique, cluster, host_agent)
    dc_id = cluster.data_center.id
    sibling = system.clusters_service().add(
        t.Cluster(name=unique("vcl"), data_center=t.DataCenter(id=dc_id), cpu=t.Cpu(type="Intel Nehalem Family"))
    )
    vm = system.vms_service().add(t.Vm(name=unique("vm"), cluster=t.Cluster(id=cluster.id)))
    service = system.vms_service().vm_service(vm.id)
    service.start()
    err = fault(lambda: service.update(t.Vm(cluster=t.Cluster(id=sibling.id))))
    assert err.code == 409 and "it must be down to move to another cluster" in str(err)
    err = fault(lambda: service.update(t.Vm(cluster=t.Cluster(name="Default"))))
    assert "is in another data center" in str(err)
    service.stop()
    assert service.update(t.Vm(cluster=t.Cluster(id=sibling.id))).cluster.id == sibling.id


def test_search(system: sdk.services.SystemService, unique: Unique, cluster: t.Cluster, host_agent: StartAgent) -> None:
    vms = system.vms_service()
    prefix = unique("srch")
    made = [vms.add(t.Vm(name=f"{prefix}-{i}", cluster=t.Cluster(id=cluster.id), description=f"vm number {i}"))
            for i in range(3)]  # fmt: skip
    names = [vm.name for vm in made]
    host = add_host(system, unique, cluster, host_agent)
    vms.vm_service(made[1].id).start()

    def found(query: str) -> list[str]:
        return sorted(vm.name for vm in vms.list(search=query))

    assert found(f"name={prefix}-*") == names
    assert found(f'name="{prefix}-2"') == [names[2]]
    assert found(f'name={prefix}-* and description="vm number 0"') == [names[0]]
    assert found(f"cluster={cluster.name}") == names
    dc_name = system.data_centers_service().data_center_service(cluster.data_center.id).get().name
    assert found(f"datacenter={dc_name}") == names
    assert found(f"name={prefix}-* and status=up") == [names[1]]
    assert found(f"name={prefix}-* and status=down") == [names[0], names[2]]
    assert found(f"host={host.name}") == [names[1]]
    assert found(f"name={prefix}-* and host!={host.name}") == [names[0], names[2]]
    assert found(f"id={made[2].id}") == [names[2]]
    assert found(f"name={prefix}-0 or name={prefix}-2") == [names[0], names[2]]
    assert [vm.name for vm in vms.list(search=f"name={prefix}-* sortby name desc")] == names[::-1]
    assert len(vms.list(search=f"name={prefix}-*", max=2)) == 2
    err = fault(lambda: vms.list(search="status=sleeping"))
    assert err.code == 400 and "Unknown VM status 'sleeping'" in str(err)
    err = fault(lambda: vms.list(search="colour=red"))
    assert err.code == 400 and "Unknown search field 'colour'" in str(err)
    vms.vm_service(made[1].id).stop()


def test_unknown_vm(system: sdk.services.SystemService) -> None:
    service = system.vms_service().vm_service("6c6d3e2a-0000-4000-8000-000000000000")
    with pytest.raises(sdk.NotFoundError) as err:
        service.get()
    assert "VM '6c6d3e2a-0000-4000-8000-000000000000'" in str(err.value)
    with pytest.raises(sdk.NotFoundError):
        service.start()
    with pytest.raises(sdk.NotFoundError):
        service.nics_service().list()


def test_json_flow(rest: httpx.Client, unique: Unique, cluster: t.Cluster, host_agent: StartAgent) -> None:
    name = unique("jvm")
    created = rest.post("vms", json={"name": name, "cluster": {"id": cluster.id}, "memory": str(2 * GIB)})
    assert created.status_code == 201, created.text
    vm = created.json()
    assert vm["status"] == "down" and vm["memory"] == str(2 * GIB) and vm["template"]["id"] == BLANK
    assert {link["rel"] for link in vm["link"]} >= {"nics", "snapshots"}
    listed = rest.get("vms", params={"search": f'name="{name}"'}).json()
    assert [v["id"] for v in listed["vm"]] == [vm["id"]]
    hname = unique("jhost")
    host = rest.post("hosts", json={"name": hname, **host_agent().host_fields(), "cluster": {"id": cluster.id}})
    assert host.status_code == 201, host.text
    started = rest.post(f"vms/{vm['id']}/start", json={})
    assert started.status_code == 200 and started.json()["status"] == "complete"
    got = rest.get(f"vms/{vm['id']}").json()
    assert got["status"] == "up" and got["host"]["id"] == host.json()["id"]
    refused = rest.delete(f"vms/{vm['id']}")
    assert refused.status_code == 409 and "stop it before removing it" in refused.json()["detail"]
    assert rest.post(f"vms/{vm['id']}/stop", json={}).status_code == 200
    assert rest.delete(f"vms/{vm['id']}").status_code == 200
    assert rest.get(f"vms/{vm['id']}").status_code == 404


def _play(url: str, cluster: str, vm: str) -> list[dict[str, object]]:
    auth = {"url": url, "username": "admin@internal", "password": ADMIN_PASSWORD, "insecure": True}
    common = {"auth": auth, "name": vm, "cluster": cluster, "template": "Blank", "memory": "2GiB", "cpu_cores": 2}
    nic = {"auth": auth, "vm": vm, "name": "nic2", "interface": "e1000", "mac_address": "02:00:00:0a:0b:0c",
           "profile": "ovirtmgmt", "network": "ovirtmgmt"}  # fmt: skip
    tasks: list[dict[str, object]] = [
        {"ovirt.ovirt.ovirt_vm": {**common, "state": "running",
                                  "nics": [{"name": "nic1", "profile_name": "ovirtmgmt"}]}, "register": "created"},
        {"ovirt.ovirt.ovirt_vm": {**common, "state": "running"}, "register": "again"},
        {"ovirt.ovirt.ovirt_nic": nic, "register": "nic"},
        {"ovirt.ovirt.ovirt_nic": nic, "register": "nic_again"},
        {"ovirt.ovirt.ovirt_snapshot": {"auth": auth, "vm_name": vm, "description": "before"}, "register": "snap"},
        {"ovirt.ovirt.ovirt_vm": {"auth": auth, "name": vm, "state": "stopped"}, "register": "stopped"},
        {"ovirt.ovirt.ovirt_snapshot": {"auth": auth, "vm_name": vm, "state": "restore",
                                        "snapshot_id": "{{ snap.id }}"}, "register": "restored"},
        {"assert": {"that": [
            "created.changed", "not again.changed and again.vm.status == 'up'",
            "nic.changed and nic.nic.mac.address == '02:00:00:0a:0b:0c'", "not nic_again.changed",
            "snap.changed and stopped.changed and restored.changed",
        ]}},
    ]  # fmt: skip
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def test_ansible_ovirt_vm_nic_snapshot(
    engine: EngineProcess,
    system: sdk.services.SystemService,
    unique: Unique,
    cluster: t.Cluster,
    tmp_path: Path,
    host_agent: StartAgent,
) -> None:
    """The unmodified ovirt.ovirt modules: a running VM with a vNIC, idempotent re-runs, snapshot and restore."""
    playbook = shutil.which("ansible-playbook")
    if playbook is None:
        pytest.skip("ansible-playbook is not installed")
    add_host(system, unique, cluster, host_agent)
    vm = unique("ans")
    (tmp_path / "play.yml").write_text(json.dumps(_play(engine.url, cluster.name, vm)))  # JSON is YAML
    result = subprocess.run(
        [playbook, "-c", "local", "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
         str(tmp_path / "play.yml")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    [made] = system.vms_service().list(search=f"name={vm}")
    assert made.status == t.VmStatus.DOWN and made.memory == 2 * GIB and made.cpu.topology.cores == 2
    nics = system.vms_service().vm_service(made.id).nics_service().list()
    assert sorted((n.name, str(n.interface)) for n in nics) == [("nic1", "virtio"), ("nic2", "e1000")]
    assert [n.mac.address for n in nics if n.name == "nic2"] == ["02:00:00:0a:0b:0c"]
