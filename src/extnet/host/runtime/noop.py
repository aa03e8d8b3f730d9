"""The ``noop`` runtime: records every request in ``journal.jsonl`` (one JSON object a line) and plugs nothing.

It keeps the VMs and vNICs it was asked for in ``noop-state.jsonl`` (``state.VmLog``). Its bridges and mappings
are the configured ones; its OVS system-id is the agent's unique id.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import IO, Any

from extnet.common.hostrpc import OPEN_VSWITCH
from extnet.common.vif import KINDS, Vif
from extnet.host.runtime.base import RuntimeFacts, VmSpec, VmState, VnicState
from extnet.host.runtime.state import VmLog
from extnet.host.settings import HostSettings

JOURNAL = "journal.jsonl"
STATE = "noop-state.jsonl"
VIF_TYPES = ["ovs", "bridge", "tap"]


class NoopRuntime:
    name = "noop"

    def __init__(self, settings: HostSettings, unique_id: str) -> None:
        self.settings = settings
        self.unique_id = unique_id
        self._journal = settings.data_dir / JOURNAL
        self._lock = threading.Lock()
        self._log = VmLog(settings.data_dir / STATE)
        self._vms = self._log.vms
        self._journal_out: IO[str] | None = None

    def facts(self) -> RuntimeFacts:
        # no Neutron agent runs beside a noop host: its binding host id is the agent's unique id (so that several
        # noop hosts on one machine stay apart), unless one is set
        binding = self.settings.binding_host or self.unique_id
        ids = {plugin: binding for plugin in self.settings.plugin_type_list}
        ids.setdefault(OPEN_VSWITCH, binding)
        return RuntimeFacts(binding_host_ids=ids, bridges=self.settings.bridge_list,
                            datapath_type=self.settings.noop_datapath_type, vif_types=VIF_TYPES,
                            vif_kinds=list(KINDS))  # fmt: skip

    def create_vm(self, spec: VmSpec) -> VmState:
        with self._lock:
            self._record("create_vm", {"vm": {"id": spec.id, "name": spec.name,
                                              "vifs": [vif.to_json() for vif in spec.vifs]}})  # fmt: skip
            vm = VmState(spec.id, spec.name, "up", [VnicState(vif, vif.plugged) for vif in spec.vifs])
            self._log.save(vm)
            return vm

    def destroy_vm(self, vm_id: str) -> bool:
        with self._lock:
            self._record("destroy_vm", {"vm_id": vm_id})
            return self._log.remove(vm_id)

    def ensure_vif_plugged(self, vm_id: str, vif: Vif) -> VnicState:
        with self._lock:
            vm = self._log.vm(vm_id)
            self._record("ensure_vif_plugged", {"vm_id": vm_id, "vif": vif.to_json()})
            vnic = vm.plugged_now(vif)
            self._log.save(vm)
            return vnic

    def ensure_vif_unplugged(self, vm_id: str, vnic_id: str) -> bool:
        with self._lock:
            self._log.vm(vm_id)
            self._record("ensure_vif_unplugged", {"vm_id": vm_id, "vnic_id": vnic_id})
            return self._log.unplug(vm_id, vnic_id, lambda vif: None)

    def get_vm(self, vm_id: str) -> VmState | None:
        with self._lock:
            return self._vms.get(vm_id)

    def list_vms(self) -> list[VmState]:
        with self._lock:
            return list(self._vms.values())

    def close(self) -> None:
        with self._lock:
            self._log.close()
            if self._journal_out is not None:
                self._journal_out.close()
            self._journal_out = None

    def _record(self, op: str, details: dict[str, Any]) -> None:
        line = {"time": datetime.now(UTC).isoformat(timespec="microseconds"), "op": op, **details}
        if self._journal_out is None:
            self._journal_out = self._journal.open("a")
        self._journal_out.write(json.dumps(line, sort_keys=True) + "\n")
        self._journal_out.flush()
