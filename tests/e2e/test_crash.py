"""The engine killed with SIGKILL in the middle of starting 20 VMs: once it is back and ``extnet engine reconcile``
ran, no port is an orphan and no running VM misses a port; what the reconciler repaired is reported."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

from extnet.engine.store.db import Database
from extnet.engine.store.models import Vm, VmNic
from tests.e2e.conftest import ENGINE_ENV, StartAgent, World, build_world, cleanup, fault
from tests.e2e.helpers import EngineRun, Provider, plugged_ports
from tests.polling import until
from tests.servers import ADMIN_PASSWORD, EngineProcess, scratch_database

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


def _up_and_cut(db: Database, vms: list[t.Vm]) -> tuple[int, int]:
    """How many of ``vms`` the engine's database has up, and how many in an operation (one the kill would cut)."""
    with db.transaction(write=False) as session:
        rows = [session.get(Vm, vm.id) for vm in vms]
    return (sum(1 for row in rows if row is not None and row.status == "up" and row.operation is None),
            sum(1 for row in rows if row is not None and row.operation is not None))  # fmt: skip


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
        until(lambda: all(_up_and_cut(db, vms)), "a VM up and another mid-start", deadline_s=60, every_s=0.01)
        killable.kill()  # in the middle: some VMs up, some starting, some not yet
        starting.shutdown(wait=True)
        up, cut = _up_and_cut(db, vms)
        assert up and cut, f"the kill came too late to cut anything short: {up} VM(s) up, {cut} mid-operation"

        passes = killable.log().count("ports reconciled:")
        killable.start()
        connect(world, killable)
        until(lambda: killable.log().count("ports reconciled:") > passes, "the engine's pass at its start done")
        assert not world.rest.get("vms", params={"search": "status=wait_for_launch"}).json().get("vm")
        assert len([e for e in world.events(9644)]) >= 1  # the operations the kill cut short, undone

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
        if killable.process is None or killable.process.poll() is not None:
            killable.start()
            connect(world, killable)
        for vm in vms if "vms" in locals() else []:
            with contextlib.suppress(sdk.Error):
                world.vm_service(vm.id).stop()
        cleanup(world)
        with contextlib.suppress(Exception):  # the first engine process is gone: its logout fails
            connection.close()
        db.dispose()


def test_a_hot_plug_cut_short_on_a_running_vm_is_undone(world: World, e2e_engine: EngineProcess) -> None:
    host = world.host()
    vm = world.vm(("nic1", "a"))
    service = world.vm_service(vm.id)
    service.start()
    added = world.add_nic(vm.id, "nic2", "b", plugged=False)
    first = world.port(world.nics(vm.id)["nic1"].id)
    # what an engine killed in the middle of hot-plugging nic2 leaves: nic2's new port made and stored, the VM's
    # lease held by that engine (no longer the one serving the database)
    made = world.neutron.network.create_port(network_id=world.networks["b"].id, device_owner="oVirt",
                                             device_id=added.id, name="nic2", description=world.marker())  # fmt: skip
    with world.db.transaction() as session:
        row, nic = session.get(Vm, vm.id), session.get(VmNic, added.id)
        assert row is not None and nic is not None
        nic.port_id, nic.port_provider_id = made.id, world.registered.id
        row.operation, row.operation_owner = "hot-plug", f"engine-{uuid.uuid4()}/cut-short"
        row.operation_expires = datetime.now(UTC) + timedelta(minutes=10)
        row.operation_ports = [{"provider_id": world.registered.id, "port_id": made.id, "vnic_id": added.id}]
    err = fault(lambda: service.nics_service().nic_service(added.id).activate())  # the VM is held meanwhile
    assert err.code == 409 and f"VM '{vm.name}' is busy: its hot-plug is in progress" in str(err)

    engine = EngineRun(e2e_engine.data_dir, e2e_engine.database_url, {})
    done = engine.reconcile()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recovered operations: 1" in done.stdout
    until(lambda: world.neutron.network.find_port(made.id) is None, "the cut-short operation's port removed")
    assert world.stored_ports()[added.id] is None and service.get().status == t.VmStatus.UP
    assert plugged_ports(world.agents[host.id], vm.id) == {world.nics(vm.id)["nic1"].id: first.id}  # resynced
    [event] = [e for e in world.events(9644) if vm.name in e["description"]]
    assert "hot-plug" in event["description"] and "1 port(s)" in event["description"]
    service.nics_service().nic_service(added.id).activate()  # the VM is free again
    assert len(world.ports(added.id)) == 1
    service.stop()
    world.assert_consistent()
