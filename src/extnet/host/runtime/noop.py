"""The ``noop`` runtime: records every request in ``journal.jsonl`` (one JSON object a line) and plugs nothing.

It keeps the VMs and vNICs it was asked for in ``noop-state.jsonl``, so that what it reports (and its idempotency)
survives a restart of the agent, as a hypervisor's VMs survive a restart of VDSM. That file is a log: each change
appends the new state of one VM (or its removal), so an operation costs the same with 10 or 10,000 VMs on the host;
the log is rewritten whole (atomically) when it holds four times more lines than VMs. Lines are flushed, not
fsynced: they survive the agent's death, not the machine's (a noop host plugs nothing that a reboot would keep).
Its bridges and mappings are the configured ones; its OVS system-id is the agent's unique id.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from extnet.common.hostrpc import OPEN_VSWITCH
from extnet.common.vif import Vif
from extnet.host.files import write_private
from extnet.host.runtime.base import RuntimeFacts, VmMissing, VmSpec, VmState, VnicState
from extnet.host.settings import HostSettings

JOURNAL = "journal.jsonl"
STATE = "noop-state.jsonl"
COMPACT_FACTOR, COMPACT_MIN = 4, 256  # rewrite the log when it has more lines than this many times the VMs
VIF_TYPES = ["ovs", "bridge", "tap"]


class NoopRuntime:
    name = "noop"

    def __init__(self, settings: HostSettings, unique_id: str) -> None:
        self.settings = settings
        self.unique_id = unique_id
        self._journal = settings.data_dir / JOURNAL
        self._state_path = settings.data_dir / STATE
        self._lock = threading.Lock()
        self._vms, self._lines = _replay(self._state_path)
        self._log: IO[str] | None = None
        self._journal_out: IO[str] | None = None
        self._compact()

    def facts(self) -> RuntimeFacts:
        ids = {plugin: self.unique_id for plugin in self.settings.plugin_type_list}
        ids.setdefault(OPEN_VSWITCH, self.unique_id)
        return RuntimeFacts(binding_host_ids=ids, bridges=self.settings.bridge_list,
                            datapath_type=self.settings.datapath_type, vif_types=VIF_TYPES)  # fmt: skip

    def create_vm(self, spec: VmSpec) -> VmState:
        with self._lock:
            self._record("create_vm", {"vm": {"id": spec.id, "name": spec.name,
                                              "vifs": [vif.to_json() for vif in spec.vifs]}})  # fmt: skip
            vm = VmState(spec.id, spec.name, "up", [VnicState(vif, vif.plugged) for vif in spec.vifs])
            self._vms[spec.id] = vm
            self._save(vm)
            return vm

    def destroy_vm(self, vm_id: str) -> bool:
        with self._lock:
            self._record("destroy_vm", {"vm_id": vm_id})
            found = self._vms.pop(vm_id, None) is not None
            if found:
                self._append({"removed": vm_id})
            return found

    def ensure_vif_plugged(self, vm_id: str, vif: Vif) -> VnicState:
        with self._lock:
            vm = self._vm(vm_id)
            self._record("ensure_vif_plugged", {"vm_id": vm_id, "vif": vif.to_json()})
            vnic = vm.vnic(vif.vnic_id)
            if vnic is None:
                vnic = VnicState(vif, True)
                vm.vnics.append(vnic)
            else:
                vnic.vif, vnic.plugged = vif, True
            self._save(vm)
            return vnic

    def ensure_vif_unplugged(self, vm_id: str, vnic_id: str) -> bool:
        with self._lock:
            vm = self._vm(vm_id)
            self._record("ensure_vif_unplugged", {"vm_id": vm_id, "vnic_id": vnic_id})
            vnic = vm.vnic(vnic_id)
            if vnic is None or not vnic.plugged:
                return False
            vnic.plugged = False
            self._save(vm)
            return True

    def get_vm(self, vm_id: str) -> VmState | None:
        with self._lock:
            return self._vms.get(vm_id)

    def list_vms(self) -> list[VmState]:
        with self._lock:
            return list(self._vms.values())

    def close(self) -> None:
        with self._lock:
            for out in (self._log, self._journal_out):
                if out is not None:
                    out.close()
            self._log = self._journal_out = None

    def _vm(self, vm_id: str) -> VmState:
        vm = self._vms.get(vm_id)
        if vm is None:
            raise VmMissing(vm_id)
        return vm

    def _record(self, op: str, details: dict[str, Any]) -> None:
        line = {"time": datetime.now(UTC).isoformat(timespec="microseconds"), "op": op, **details}
        if self._journal_out is None:
            self._journal_out = self._journal.open("a")
        self._journal_out.write(json.dumps(line, sort_keys=True) + "\n")
        self._journal_out.flush()

    def _save(self, vm: VmState) -> None:
        self._append({"vm": _vm_json(vm)})

    def _append(self, entry: dict[str, Any]) -> None:
        if self._log is None:
            self._log = self._state_path.open("a")
        self._log.write(json.dumps(entry) + "\n")
        self._log.flush()
        self._lines += 1
        if self._lines > max(COMPACT_MIN, COMPACT_FACTOR * len(self._vms)):
            self._compact()

    def _compact(self) -> None:
        """Rewrite the log as one line per VM (atomically: a crash leaves the old log or the new one)."""
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._lines == len(self._vms):
            return
        write_private(self._state_path, "".join(json.dumps({"vm": _vm_json(vm)}) + "\n" for vm in self._vms.values()))
        self._lines = len(self._vms)


def _vm_json(vm: VmState) -> dict[str, Any]:
    return {"id": vm.id, "name": vm.name, "state": vm.state,
            "vnics": [{"vif": v.vif.to_json(), "plugged": v.plugged} for v in vm.vnics]}  # fmt: skip


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """The VMs a noop state log holds now, as JSON: {vm id: {id, name, state, vnics: [{vif, plugged}]}}."""
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
