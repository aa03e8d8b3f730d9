"""The VMs a runtime runs, kept in a log file in the data dir, so that what the agent reports (and its idempotency)
survives a restart of the agent, as a hypervisor's VMs survive a restart of VDSM.

The file is a log: each change appends the new state of one VM (or its removal), so an operation costs the same
with 10 or 10,000 VMs on the host; the log is rewritten whole (atomically) when it holds four times more lines than
VMs. Lines are flushed, not fsynced: they survive the agent's death, not the machine's (whose reboot ends the VMs
too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from extnet.common.vif import Vif
from extnet.host.files import write_private
from extnet.host.runtime.base import VmMissing, VmState, VnicState

COMPACT_FACTOR, COMPACT_MIN = 4, 256  # rewrite the log when it has more lines than this many times the VMs


class VmLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.vms, self._lines = _replay(path)
        self._out: IO[str] | None = None
        self._compact()

    def vm(self, vm_id: str) -> VmState:
        vm = self.vms.get(vm_id)
        if vm is None:
            raise VmMissing(vm_id)
        return vm

    def unplug(self, vm_id: str, vnic_id: str, undo: Callable[[Vif], None]) -> bool:
        """Mark the vNIC unplugged after ``undo`` took its plumbing away; False when it was not plugged."""
        vm = self.vm(vm_id)
        vnic = vm.vnic(vnic_id)
        if vnic is None or not vnic.plugged:
            return False
        undo(vnic.vif)
        vnic.plugged = False
        self.save(vm)
        return True

    def save(self, vm: VmState) -> None:
        self.vms[vm.id] = vm
        self._append({"vm": _vm_json(vm)})

    def remove(self, vm_id: str) -> bool:
        found = self.vms.pop(vm_id, None) is not None
        if found:
            self._append({"removed": vm_id})
        return found

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def _append(self, entry: dict[str, Any]) -> None:
        if self._out is None:
            self._out = self.path.open("a")
        self._out.write(json.dumps(entry) + "\n")
        self._out.flush()
        self._lines += 1
        if self._lines > max(COMPACT_MIN, COMPACT_FACTOR * len(self.vms)):
            self._compact()

    def _compact(self) -> None:
        """Rewrite the log as one line per VM (atomically: a crash leaves the old log or the new one)."""
        self.close()
        if self._lines == len(self.vms):
            return
        write_private(self.path, "".join(json.dumps({"vm": _vm_json(vm)}) + "\n" for vm in self.vms.values()))
        self._lines = len(self.vms)


def _vm_json(vm: VmState) -> dict[str, Any]:
    return {"id": vm.id, "name": vm.name, "state": vm.state,
            "vnics": [{"vif": v.vif.to_json(), "plugged": v.plugged} for v in vm.vnics]}  # fmt: skip


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """The VMs a state log holds now, as JSON: {vm id: {id, name, state, vnics: [{vif, plugged}]}}."""
    return _read(path)[0]


def _read(path: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """The VMs of the log and how many lines it has (-1 when it must be rewritten: its last line is torn)."""
    vms: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return vms, 0
    lines = path.read_text().splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        if not line.endswith("\n"):
            return vms, -1  # the agent died while writing its last line: that change did not happen
        try:
            entry = json.loads(line)
        except ValueError:
            raise ValueError(f"{path}, line {number}, is not valid JSON; fix or remove the file") from None
        if "removed" in entry:
            vms.pop(entry["removed"], None)
        else:
            vms[entry["vm"]["id"]] = entry["vm"]
    return vms, len(lines)


def _replay(path: Path) -> tuple[dict[str, VmState], int]:
    raw, lines = _read(path)
    vms: dict[str, VmState] = {}
    for vm_id, vm in raw.items():
        vnics = [VnicState(Vif.from_json(v["vif"]), bool(v["plugged"])) for v in vm.get("vnics", [])]
        vms[vm_id] = VmState(vm_id, vm["name"], vm.get("state", "up"), vnics)
    return vms, lines
