"""Acceptance: the unmodified ovirt.ovirt Ansible modules build, keep and remove an inventory on the engine.

The playbooks in ``tests/engine/ansible/`` run with ``ansible-playbook`` (found next to this Python) and the JSON
callback; every task's ``changed`` is checked: creation changes everything, a re-run changes nothing, removal
changes everything. Between runs the real ovirtsdk4 checks what the engine holds.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.servers import ADMIN_PASSWORD, EngineProcess, HostAgentProcess

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

PLAYBOOKS = Path(__file__).parent / "ansible"
CREATE_TASKS = ["Data center", "Cluster", "VM network attached to the cluster", "vNIC profile on the network", "VM",
                "vNIC of the VM on the profile"]  # fmt: skip
REMOVE_VM_TASKS = ["VM stopped", "vNIC removed", "VM removed"]
REMOVE_INFRA_TASKS = ["vNIC profile removed", "Network removed", "Cluster removed", "Data center removed"]


def _ansible_playbook() -> Path:
    script = Path(sys.executable).parent / "ansible-playbook"
    if importlib.util.find_spec("ansible") is None:
        pytest.skip("the 'ansible' package (in the 'test' extra) is not installed")
    if importlib.util.find_spec("ansible_collections.ovirt.ovirt") is None:
        pytest.skip("the installed 'ansible' package does not bundle the ovirt.ovirt collection")
    assert script.exists(), f"ansible is installed but {script} is missing"
    return script


@dataclass
class Run:
    returncode: int
    tasks: dict[str, dict[str, Any]]  # task name -> the result on localhost
    output: str

    def failures(self) -> str:
        failed = {name: r.get("msg") for name, r in self.tasks.items() if r.get("failed")}
        return json.dumps(failed, indent=1) if failed else self.output[-3000:]

    def changed(self) -> dict[str, bool]:
        return {name: bool(r.get("changed")) for name, r in self.tasks.items() if not r.get("skipped")}


@pytest.fixture
def playbook(engine: EngineProcess, tmp_path: Path) -> Callable[..., Run]:
    script = _ansible_playbook()
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_HOME": str(tmp_path / "home"),
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "ANSIBLE_REMOTE_TEMP": str(tmp_path / "rtmp"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_DEPRECATION_WARNINGS": "0"}  # fmt: skip

    def run(name: str, tags: str | None = None, **extra_vars: str) -> Run:
        variables = {"engine_url": engine.url, "engine_username": "admin@internal", "engine_password": ADMIN_PASSWORD,
                     "ansible_python_interpreter": sys.executable, **extra_vars}  # fmt: skip
        vars_file = tmp_path / "vars.json"  # not on the command line: it holds the password
        vars_file.write_text(json.dumps(variables))
        args = [str(script), "-i", str(PLAYBOOKS / "inventory.ini"), str(PLAYBOOKS / name), "-e", f"@{vars_file}"]
        if tags:
            args += ["--tags", tags]
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
        return Run(done.returncode, _task_results(done.stdout), done.stdout + done.stderr)

    return run


def _task_results(stdout: str) -> dict[str, dict[str, Any]]:
    try:
        report = json.loads(stdout[stdout.index("{") :])
    except ValueError:
        return {}
    return {task["task"]["name"]: task["hosts"].get("localhost", {})
            for play in report["plays"] for task in play["tasks"]}  # fmt: skip


def _assert_all(run: Run, tasks: list[str], changed: bool) -> None:
    assert run.returncode == 0, run.failures()
    assert list(run.tasks) == tasks, run.output[-3000:]
    wrong = {name: c for name, c in run.changed().items() if c is not changed}
    assert not wrong, f"expected changed={changed} for every task, got: {wrong}"


@pytest.fixture
def cleanup(system: sdk.services.SystemService) -> Iterator[list[str]]:
    """Names prefixes whose leftovers are removed whatever happened (the engine is shared)."""
    prefixes: list[str] = []
    yield prefixes
    for prefix in prefixes:
        _remove_leftovers(system, prefix)


def _remove_leftovers(system: sdk.services.SystemService, prefix: str) -> None:
    vms = system.vms_service()
    for vm in vms.list(search=f"name={prefix}-*"):
        with contextlib.suppress(sdk.Error):
            vms.vm_service(vm.id).stop()
        with contextlib.suppress(sdk.Error):
            vms.vm_service(vm.id).remove()
    hosts = system.hosts_service()
    for host in hosts.list(search=f"name={prefix}-*"):
        with contextlib.suppress(sdk.Error):
            hosts.host_service(host.id).deactivate()
        with contextlib.suppress(sdk.Error):
            hosts.host_service(host.id).remove()
    dcs = system.data_centers_service()
    for dc in dcs.list(search=f"name={prefix}-*"):
        with contextlib.suppress(sdk.Error):
            dcs.data_center_service(dc.id).remove(force=True)


def test_create_rerun_and_remove_with_the_ovirt_modules(
    playbook: Callable[..., Run], system: sdk.services.SystemService, unique: Callable[[str], str],
    cleanup: list[str], engine: EngineProcess, host_agent: Callable[..., HostAgentProcess],
) -> None:  # fmt: skip
    prefix = unique("ans")
    cleanup.append(prefix)
    log_start = len(engine.log())

    created = playbook("create.yml", prefix=prefix, vm_state="stopped")
    _assert_all(created, CREATE_TASKS, changed=True)
    _check_inventory(system, prefix, vm_status=t.VmStatus.DOWN)

    _assert_all(playbook("create.yml", prefix=prefix, vm_state="stopped"), CREATE_TASKS, changed=False)
    _check_inventory(system, prefix, vm_status=t.VmStatus.DOWN)

    host = _add_host(system, prefix, host_agent())
    started = playbook("create.yml", prefix=prefix, vm_state="running")
    assert started.returncode == 0, started.failures()
    assert started.changed() == {name: name == "VM" for name in CREATE_TASKS}
    _check_inventory(system, prefix, vm_status=t.VmStatus.UP)
    _assert_all(playbook("create.yml", prefix=prefix, vm_state="running"), CREATE_TASKS, changed=False)

    _assert_all(playbook("remove.yml", tags="vm", prefix=prefix), REMOVE_VM_TASKS, changed=True)
    assert system.vms_service().list(search=f"name={prefix}-vm") == []
    host_service = system.hosts_service().host_service(host.id)
    host_service.deactivate()
    host_service.remove()
    _assert_all(playbook("remove.yml", tags="infra", prefix=prefix), REMOVE_INFRA_TASKS, changed=True)
    _check_removed(system, prefix)

    new_log = engine.log()[log_start:]
    assert "Traceback" not in new_log, new_log[-3000:]


def _check_inventory(system: sdk.services.SystemService, prefix: str, vm_status: t.VmStatus) -> None:
    [dc] = system.data_centers_service().list(search=f"name={prefix}-dc")
    assert dc.description == "Built by Ansible" and (dc.version.major, dc.version.minor) == (4, 7)
    [cluster] = system.clusters_service().list(search=f"name={prefix}-cl")
    assert cluster.data_center.id == dc.id and cluster.cpu.type == "Intel Nehalem Family"
    networks = system.data_centers_service().data_center_service(dc.id).networks_service().list()
    [network] = [n for n in networks if n.name == f"{prefix}-net"]
    assert network.vlan.id == 101 and network.mtu == 1500 and t.NetworkUsage.VM in network.usages
    attached = system.clusters_service().cluster_service(cluster.id).networks_service().list()
    assert network.id in [n.id for n in attached]
    profiles = system.networks_service().network_service(network.id).vnic_profiles_service().list()
    [profile] = [p for p in profiles if p.name == f"{prefix}-profile"]
    assert profile.pass_through.mode == t.VnicPassThroughMode.DISABLED and profile.port_mirroring is False
    [vm] = system.vms_service().list(search=f"name={prefix}-vm")
    assert vm.cluster.id == cluster.id and vm.memory == 1024**3 and vm.status == vm_status
    [nic] = system.vms_service().vm_service(vm.id).nics_service().list()
    assert nic.name == "nic1" and nic.vnic_profile.id == profile.id and nic.interface == t.NicInterface.VIRTIO
    assert nic.mac is not None and nic.mac.address


def _add_host(system: sdk.services.SystemService, prefix: str, agent: HostAgentProcess) -> t.Host:
    # a real host agent on a loopback address: the engine must not reach out anywhere else
    wanted = t.Host(name=f"{prefix}-host", address=agent.address, port=agent.port, root_password=agent.password,
                    cluster=t.Cluster(name=f"{prefix}-cl"))  # fmt: skip
    host = system.hosts_service().add(wanted)
    assert host.status == t.HostStatus.UP, host.status
    return host


def _check_removed(system: sdk.services.SystemService, prefix: str) -> None:
    assert system.data_centers_service().list(search=f"name={prefix}-*") == []
    assert system.clusters_service().list(search=f"name={prefix}-*") == []
    assert system.networks_service().list(search=f"name={prefix}-*") == []
    assert [p for p in system.vnic_profiles_service().list() if p.name.startswith(prefix)] == []
