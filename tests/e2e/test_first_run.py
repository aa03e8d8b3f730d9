"""The first run as a new user meets it: ``extnet up`` on a fresh data dir is ready for the oVirt SDK alone (the
built-in provider registered, the Default cluster's, its networks usable by VMs), a second start changes nothing,
a provider the user changed or removed stays so, and the README's walk-through runs as written. Also the built-in
provider registered by an engine started on its own with ``--builtin-provider``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.polling import until
from tests.provider.process import connect, run_provider
from tests.servers import ADMIN_PASSWORD, EngineProcess, run_engine
from tests.up import Up, clean_env, running_up, up_env

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning"),
              pytest.mark.database_agnostic]  # extnet up runs on its embedded SQLite  # fmt: skip

README = Path(__file__).resolve().parents[2] / "README.md"
WALK_THROUGH = "<!-- walk-through: tests/e2e/test_first_run.py runs the block below as written -->"
PROVIDER_ADDED = 1700


def walk_through() -> str:
    """The README's walk-through, exactly as the README shows it."""
    after = README.read_text().split(WALK_THROUGH, 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def passwords(up: Up) -> tuple[str, str]:
    """The two passwords the first banner shows: admin@internal's and the provider admin's."""
    banner = up.wait_for(r"Press Ctrl-C to stop everything").string
    admin = re.search(r"\n  password:\s+(\S+)  \(generated; shown only now, at the first start\)", banner)
    provider = re.search(r"\n  provider password:\s+(\S+)  \(generated; shown only now, at the first start\)", banner)
    assert admin and provider, banner
    return admin.group(1), provider.group(1)


@contextmanager
def sdk_connection(up: Up, password: str) -> Iterator[sdk.services.SystemService]:
    connection = sdk.Connection(url=f"{up.base}/ovirt-engine/api", username="admin@internal", password=password,
                                timeout=60)  # fmt: skip
    try:
        yield connection.system_service()
    finally:
        connection.close()


def keystone_url(env: dict[str, str]) -> str:
    return f"http://{env['EXTNET_PROVIDER_KEYSTONE_LISTEN']}/v3"


@contextmanager
def engine_sdk(engine: EngineProcess) -> Iterator[sdk.services.SystemService]:
    connection = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=60)
    try:
        yield connection.system_service()
    finally:
        connection.close()


def what_the_engine_holds(system: sdk.services.SystemService) -> dict[str, Any]:
    """The built-in provider as the engine shows it, the Default cluster's providers, and the registration events."""
    fields = ("id", "name", "url", "authentication_url", "username", "requires_authentication", "auto_sync",
              "project_name", "description")  # fmt: skip
    providers = [[getattr(p, f) for f in fields] for p in system.openstack_network_providers_service().list()]
    [cluster] = system.clusters_service().list(search="name=Default")
    external = system.clusters_service().cluster_service(cluster.id).external_network_providers_service().list()
    events = [e.description for e in system.events_service().list(max=1000) if e.code == PROVIDER_ADDED]
    return {"providers": providers, "default cluster": [p.id for p in external], "events": events}


def test_a_first_up_is_ready_for_the_sdk_alone_and_a_second_changes_nothing(tmp_path: Path) -> None:
    data_dir, env = tmp_path / "state", up_env()
    with running_up(data_dir, env) as up:
        admin_password, provider_password = passwords(up)
        up.wait_for(r"extnet is ready: network provider 'extnet-builtin', host 'local' up")
        with sdk_connection(up, admin_password) as system:
            providers = system.openstack_network_providers_service()
            [builtin] = providers.list()
            assert (builtin.name, builtin.url, builtin.authentication_url, builtin.username) == (
                "extnet-builtin", f"http://{env['EXTNET_PROVIDER_LISTEN']}", keystone_url(env),
                "admin")  # fmt: skip
            assert builtin.requires_authentication and builtin.password is None  # kept, never shown
            providers.provider_service(builtin.id).test_connectivity()
            first = what_the_engine_holds(system)
            assert first["default cluster"] == [builtin.id] and len(first["events"]) == 1

            # with the SDK alone: a network made on the provider through the engine, its subnet, a VM on it
            network = system.networks_service().add(t.Network(
                name="blue", data_center=t.DataCenter(name="Default"),
                external_provider=t.OpenStackNetworkProvider(id=builtin.id)))  # fmt: skip
            [cluster] = system.clusters_service().list(search="name=Default")
            system.clusters_service().cluster_service(cluster.id).networks_service().add(t.Network(id=network.id))
            on_provider = providers.provider_service(builtin.id).networks_service()
            [external] = [n for n in on_provider.list() if n.name == "blue"]
            on_provider.network_service(external.id).subnets_service().add(t.OpenStackSubnet(
                name="blue-v4", cidr="10.20.0.0/24", ip_version="v4"))  # fmt: skip
            [profile] = system.networks_service().network_service(network.id).vnic_profiles_service().list()
            vm = system.vms_service().add(t.Vm(name="vm-blue", cluster=t.Cluster(name="Default"),
                                               template=t.Template(name="Blank")))  # fmt: skip
            vm_service = system.vms_service().vm_service(vm.id)
            nic = vm_service.nics_service().add(t.Nic(name="nic1", vnic_profile=t.VnicProfile(id=profile.id)))
            vm_service.start()
            assert vm_service.get().status == t.VmStatus.UP
            vm_service.stop()

        neutron = connect(keystone_url(env), "admin", provider_password, "admin")
        [port] = neutron.network.ports(device_id=nic.id)
        assert (port.network_id, port.name, port.mac_address) == (external.id, "nic1", nic.mac.address)
        assert port.fixed_ips[0]["ip_address"].startswith("10.20.0.")
        assert up.interrupt() == 0, up.output()
        assert "Traceback" not in up.output()

    with running_up(data_dir, env) as up:  # again, on the same data dir: nothing changes
        up.wait_for(r"network provider:\s+registered in the engine as 'extnet-builtin'\n")
        up.wait_for(r"extnet is ready: network provider 'extnet-builtin', host 'local' up")
        assert admin_password not in up.output() and provider_password not in up.output()
        with sdk_connection(up, admin_password) as system:
            assert what_the_engine_holds(system) == first
            vm_service = system.vms_service().vm_service(vm.id)
            vm_service.start()  # the same port again
            assert [p.id for p in neutron.network.ports(device_id=nic.id)] == [port.id]
            vm_service.stop()
        assert up.interrupt() == 0, up.output()


def test_a_provider_the_user_renamed_or_removed_stays_so(tmp_path: Path) -> None:
    data_dir, env = tmp_path / "state", up_env()
    with running_up(data_dir, env) as up:
        admin_password, _ = passwords(up)
        up.wait_for(r"extnet is ready")
        with sdk_connection(up, admin_password) as system:
            providers = system.openstack_network_providers_service()
            [builtin] = providers.list()
            providers.provider_service(builtin.id).update(t.OpenStackNetworkProvider(name="mine"))
        up.interrupt()

    with running_up(data_dir, env) as up:
        up.wait_for(r"network provider:\s+registered in the engine as 'mine'\n")
        up.wait_for(r"extnet is ready: network provider 'mine'")
        with sdk_connection(up, admin_password) as system:
            providers = system.openstack_network_providers_service()
            assert [p.name for p in providers.list()] == ["mine"]
            providers.provider_service(builtin.id).remove(query={"force": "true"})
        up.interrupt()

    with running_up(data_dir, env) as up:
        up.wait_for(r"network provider:\s+registered in the engine at the first start, and removed since")
        up.wait_for(r"extnet is ready: host 'local' up")
        with sdk_connection(up, admin_password) as system:
            assert system.openstack_network_providers_service().list() == []
        up.interrupt()


def test_the_readme_walk_through_runs_as_written(tmp_path: Path) -> None:
    with running_up(tmp_path / "state", up_env()) as up:
        admin_password, provider_password = passwords(up)
        up.wait_for(r"extnet is ready")
        script = tmp_path / "walk_through.py"
        script.write_text(walk_through())
        env = {**clean_env(), "EXTNET_API": f"{up.base}/ovirt-engine/api", "EXTNET_ADMIN_PASSWORD": admin_password,
               "EXTNET_PROVIDER_PASSWORD": provider_password, "PYTHONWARNINGS": "ignore"}  # fmt: skip
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "VM vm-red is up on host local", result.stdout
        assert re.fullmatch(r"port nic1 [0-9a-f-]{36}: ACTIVE, ([0-9a-f]{2}:){5}[0-9a-f]{2}, 10\.10\.10\.\d+, "
                            r"bound to \S+", lines[1]), result.stdout  # fmt: skip
        assert up.interrupt() == 0, up.output()


def test_an_engine_started_on_its_own_registers_the_provider_it_is_given(tmp_path: Path) -> None:
    with run_provider(tmp_path / "provider", env={"EXTNET_PROVIDER_ADMIN_PASSWORD": "separate-pw"}) as provider:
        args = ["--builtin-provider", provider.network_url]
        with (
            run_engine(tmp_path / "engine", extra_args=args, env={"EXTNET_BUILTIN_PROVIDER_PASSWORD": "separate-pw"})
            as engine,
            engine_sdk(engine) as system,
        ):  # fmt: skip
            providers = system.openstack_network_providers_service()
            [builtin] = until(providers.list, "the built-in provider registered")
            # its Keystone is the one the provider names when it refuses a call without a token
            assert (builtin.name, builtin.authentication_url) == ("extnet-builtin", provider.auth_url)
            providers.provider_service(builtin.id).test_connectivity()

        # a wrong password is not stored, and not tried again and again
        line = "first start: the built-in provider is not registered: Failed to test the connection on provider"
        with (
            run_engine(tmp_path / "other", extra_args=args, env={"EXTNET_BUILTIN_PROVIDER_PASSWORD": "wrong"}) as other,
            engine_sdk(other) as system,
        ):
            until(lambda: line in other.log(), "the engine saying why it did not register the provider")
            assert system.openstack_network_providers_service().list() == []
            assert other.log().count(line) == 1
