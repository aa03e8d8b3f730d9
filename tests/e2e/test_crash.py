"""The engine killed with SIGKILL in the middle of starting 20 VMs: once it is back and ``extnet engine reconcile``
ran, no port is an orphan and no running VM misses a port; what the reconciler repaired is reported."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from extnet.engine.store.db import Database
from tests.e2e.conftest import ENGINE_ENV, StartAgent, World, build_world, cleanup
from tests.e2e.helpers import EngineRun, Provider, plugged_ports, until
from tests.servers import ADMIN_PASSWORD, scratch_database

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip
VMS = 20


@pytest.fixture
def killable(tmp_path: Path) -> Iterator[EngineRun]:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        engine = EngineRun(tmp_path / "engine", url, {**ENGINE_ENV, "EXTNET_RECONCILE_INTERVAL": "0"})
        engine.start()
        try:
            yield engine
        finally:
            engine.stop()


def connect(world: World | None, engine: EngineRun) -> tuple[sdk.Connection, httpx.Client]:
    connection = sdk.Connection(url=engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=120)
    client = httpx.Client(base_url=engine.url + "/", auth=("admin@internal", ADMIN_PASSWORD), timeout=120,
                          headers={"Accept": "application/json", "Content-Type": "application/json"})  # fmt: skip
    if world is not None:
        world.system, world.rest = connection.system_service(), client
    return connection, client


def test_the_engine_killed_while_starting_20_vms(killable: EngineRun, provider: Provider, neutron: Connection,
                                                host_agent: StartAgent) -> None:  # fmt: skip
    connection, client = connect(None, killable)
    db = Database(killable.database_url or f"sqlite:///{killable.data_dir / 'engine.sqlite'}")
    world = build_world(connection.system_service(), client, neutron, db, provider, host_agent)
    try:
        host = world.host()
        vms = [world.vm(("nic1", "a"), ("nic2", "b")) for _ in range(VMS)]
        starting = ThreadPoolExecutor(max_workers=VMS)
        for vm in vms:
            starting.submit(client.post, f"vms/{vm.id}/start", json={})
        until(lambda: len(world.network_ports()) >= VMS // 2, "some ports made", deadline_s=60)
        killable.kill()  # in the middle: some VMs up, some starting, some not yet
        starting.shutdown(wait=True)
        made_before = len(world.network_ports())
        assert 0 < made_before

        killable.start()
        connect(world, killable)
        until(lambda: not world.rest.get("vms", params={"search": "status=wait_for_launch"}).json().get("vm"),
              "no VM left starting once the engine recovered what it cut short")  # fmt: skip

        # meanwhile, by hand: a running VM's port deleted, an orphan made with this engine's marker, and a port of
        # somebody else (device_owner oVirt, another marker)
        running = [vm for vm in vms if world.vm_service(vm.id).get().status == t.VmStatus.UP]
        assert running, "at least one VM made it before the kill"
        victim = world.nics(running[0].id)["nic1"]
        world.neutron.network.delete_port(world.port(victim.id).id)
        orphan = world.neutron.network.create_port(network_id=world.networks["a"].id, device_owner="oVirt",
                                                   device_id="7d9bd4ab-0d7e-4a63-9d6b-7a9c8b0c1d2e",
                                                   description=world.marker(), name="orphan")  # fmt: skip
        foreign = world.neutron.network.create_port(network_id=world.networks["b"].id, device_owner="oVirt",
                                                    device_id="0b7b7a4c-7f26-4a0e-a4a1-0e5d6d0c1f00",
                                                    description="another engine", name="foreign")  # fmt: skip

        done = killable.reconcile()
        assert done.returncode == 0, done.stdout + done.stderr
        assert "orphan ports removed: 1" in done.stdout and "missing ports made again: 1" in done.stdout
        assert "checking running VMs" in done.stderr  # the progress, phase by phase

        assert world.neutron.network.find_port(orphan.id) is None
        assert world.neutron.network.find_port(foreign.id) is not None  # not this engine's: left alone
        world.neutron.network.delete_port(foreign.id)
        world.settle()  # zero orphans: every port is the stored port of an existing vNIC
        stored = world.stored_ports()
        for vm in vms:
            got = world.vm_service(vm.id).get()
            assert got.status in (t.VmStatus.UP, t.VmStatus.DOWN)
            if got.status == t.VmStatus.UP:  # zero missing: each has its port, plugged on the host
                nics = world.nics(vm.id)
                assert all(len(world.ports(nic.id)) == 1 and stored[nic.id] for nic in nics.values())
                assert plugged_ports(world.agents[host.id], vm.id) == {nic.id: stored[nic.id] for nic in nics.values()}
        assert world.port(victim.id).id == stored[victim.id]

        for vm in vms:  # every VM starts now
            if world.vm_service(vm.id).get().status == t.VmStatus.DOWN:
                world.vm_service(vm.id).start()
        assert len(world.network_ports()) == 2 * VMS
        world.assert_consistent()
        again = killable.reconcile()  # nothing left to repair
        assert again.returncode == 0 and "orphan ports removed: 0" in again.stdout
        assert "missing ports made again: 0" in again.stdout and "recovered operations: 0" in again.stdout
    finally:
        for vm in vms if "vms" in locals() else []:
            with contextlib.suppress(sdk.Error):
                world.vm_service(vm.id).stop()
        cleanup(world)
        connection.close()
        db.dispose()
        time.sleep(0)
