"""Operations on one VM take turns, operations on different VMs run side by side, and a provider that hangs holds
neither the API nor other VMs (only the VM waiting for it, until the provider's read timeout)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest

from tests.e2e.conftest import World, fault
from tests.e2e.helpers import FlakyProxy
from tests.polling import until
from tests.servers import ADMIN_PASSWORD, EngineProcess

pytestmark = [pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
              pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackWarning")]  # fmt: skip
READ_TIMEOUT_S = 5  # the e2e engine's EXTNET_PROVIDER_READ_TIMEOUT


def test_a_hanging_provider_holds_only_the_vm_that_waits_for_it(
    world: World, proxy: FlakyProxy, e2e_engine: EngineProcess
) -> None:
    world.host()
    stuck = world.vm(("nic1", "p"))
    other = world.vm(("nic1", "a"))
    proxy.hang("POST", "/v2.0/ports", seconds=60)  # the port creation never gets an answer

    def timed(action: str) -> tuple[float, sdk.Error | None]:
        connection = sdk.Connection(
            url=e2e_engine.url, username="admin@internal", password=ADMIN_PASSWORD, timeout=120
        )  # fmt: skip  (one connection per thread: they are not shared)
        try:
            getattr(connection.system_service().vms_service().vm_service(stuck.id), action)()
        except sdk.Error as err:
            return time.monotonic(), err
        finally:
            connection.close()
        return time.monotonic(), None

    with ThreadPoolExecutor(max_workers=2) as pool:
        began = time.monotonic()
        starting = pool.submit(timed, "start")
        until(lambda: proxy.held, "the start waiting for the provider")
        assert world.vm_service(stuck.id).get().status == t.VmStatus.WAIT_FOR_LAUNCH  # the API answers meanwhile
        stopping = pool.submit(timed, "stop")  # takes its turn after the start
        world.vm_service(other.id).start()  # another VM goes ahead
        assert world.vm_service(other.id).get().status == t.VmStatus.UP
        assert time.monotonic() - began < READ_TIMEOUT_S

        started_at, start_err = starting.result(timeout=60)
        stopped_at, stop_err = stopping.result(timeout=60)
    assert start_err is not None and start_err.code == 400 and "did not answer in time" in str(start_err)
    assert "vNIC 'nic1'" in str(start_err) and started_at - began >= READ_TIMEOUT_S
    # the stop ran once the start had failed: the VM was down again, so there was nothing to stop
    assert stop_err is not None and stop_err.code == 409 and f"VM '{stuck.name}' is not running" in str(stop_err)
    assert stopped_at - began >= READ_TIMEOUT_S  # it waited for the start (the two answers race to their clients)
    assert world.vm_service(stuck.id).get().status == t.VmStatus.DOWN

    proxy.up()
    world.vm_service(stuck.id).start()
    assert world.vm_service(stuck.id).get().status == t.VmStatus.UP
    for vm in (stuck, other):
        world.vm_service(vm.id).stop()
    world.settle()


def test_a_vm_busy_for_longer_than_the_lock_wait_is_refused_with_a_clear_fault(world: World) -> None:
    world.host()
    vm = world.vm(("nic1", "a"))
    with world.db.transaction() as session:  # an operation of another engine process holds the VM
        from datetime import UTC, datetime, timedelta

        from extnet.engine.store.models import Vm

        row = session.get(Vm, vm.id)
        assert row is not None
        row.operation, row.operation_owner = "start", "cli-00000000-0000-0000-0000-000000000000/x"
        row.operation_expires = datetime.now(UTC) + timedelta(seconds=2)
    began = time.monotonic()
    world.vm_service(vm.id).start()  # the lease expires after 2 s: then the start goes ahead
    assert time.monotonic() - began >= 1.5 and world.vm_service(vm.id).get().status == t.VmStatus.UP
    world.vm_service(vm.id).stop()
    err = fault(lambda: world.vm_service("00000000-0000-0000-0000-00000000abcd").start())
    assert err.code == 404
