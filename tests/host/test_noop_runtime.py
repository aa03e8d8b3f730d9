"""The noop runtime's state log: what it runs survives a new runtime on the same data dir (the agent restarting),
the log stays proportional to the VMs it runs, and a line torn by a crash is the change that did not happen."""

from __future__ import annotations

import uuid
from pathlib import Path

from extnet.common.vif import Vif
from extnet.host.runtime.base import VmSpec
from extnet.host.runtime.noop import STATE, NoopRuntime
from extnet.host.runtime.state import COMPACT_MIN, read_state
from extnet.host.settings import HostSettings
from tests.host.rpc import vif


def runtime(data_dir: Path) -> NoopRuntime:
    return NoopRuntime(HostSettings(data_dir=data_dir), "unique-id")


def spec(name: str, vifs: int = 1) -> VmSpec:
    return VmSpec(str(uuid.uuid4()), name, tuple(Vif.from_json(vif()) for _ in range(vifs)))


def described(noop: NoopRuntime) -> dict[str, object]:
    return {vm.id: vm.to_json() for vm in noop.list_vms()}


def test_a_new_runtime_finds_what_the_last_one_ran(tmp_path: Path) -> None:
    first = runtime(tmp_path)
    kept, gone, changed = spec("kept", 2), spec("gone"), spec("changed")
    for vm in (kept, gone, changed):
        first.create_vm(vm)
    first.destroy_vm(gone.id)
    first.ensure_vif_unplugged(changed.id, changed.vifs[0].vnic_id)
    extra = Vif.from_json(vif())
    first.ensure_vif_plugged(changed.id, extra)
    before = described(first)
    first.close()

    again = runtime(tmp_path)
    assert described(again) == before
    assert set(before) == {kept.id, changed.id}
    plugged = {v.vif.vnic_id: v.plugged for v in again.get_vm(changed.id).vnics}  # type: ignore[union-attr]
    assert plugged == {changed.vifs[0].vnic_id: False, extra.vnic_id: True}
    assert set(read_state(tmp_path / STATE)) == {kept.id, changed.id}


def test_the_log_is_rewritten_when_it_outgrows_the_vms(tmp_path: Path) -> None:
    noop = runtime(tmp_path)
    vm = spec("busy")
    noop.create_vm(vm)
    for _ in range(3 * COMPACT_MIN):
        noop.ensure_vif_unplugged(vm.id, vm.vifs[0].vnic_id)
        noop.ensure_vif_plugged(vm.id, vm.vifs[0])
    lines = (tmp_path / STATE).read_text().count("\n")
    assert 1 <= lines <= COMPACT_MIN + 1
    expected = described(noop)
    noop.close()
    assert described(runtime(tmp_path)) == expected


def test_a_torn_last_line_is_a_change_that_did_not_happen(tmp_path: Path) -> None:
    noop = runtime(tmp_path)
    vm = spec("vm")
    noop.create_vm(vm)
    noop.close()
    with (tmp_path / STATE).open("a") as log:
        log.write('{"removed": "' + vm.id)  # the agent died in the middle of this line
    again = runtime(tmp_path)
    assert [v.id for v in again.list_vms()] == [vm.id]
    again.destroy_vm(vm.id)  # the log was repaired first: the next change is a line of its own
    again.close()
    assert runtime(tmp_path).list_vms() == []
