"""The ``noop`` runtime: records every request in ``journal.jsonl`` (one JSON object a line) and plugs nothing.

It keeps the VMs and vNICs it was asked for in ``noop-state.json``, so that what it reports (and its idempotency)
survives a restart of the agent, as a hypervisor's VMs survive a restart of VDSM. Its bridges and mappings are the
configured ones; its OVS system-id is the agent's unique id.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from extnet.common.hostrpc import OPEN_VSWITCH
from extnet.common.vif import Vif
from extnet.host.files import read_json, write_json
from extnet.host.runtime.base import RuntimeFacts, VmMissing, VmSpec, VmState, VnicState
from extnet.host.settings import HostSettings

JOURNAL = "journal.jsonl"
STATE = "noop-state.json"
VIF_TYPES = ["ovs", "bridge", "tap"]


class NoopRuntime:
    name = "noop"

    def __init__(self, settings: HostSettings, unique_id: str) -> None:
        self.settings = settings
        self.unique_id = unique_id
        self._journal = settings.data_dir / JOURNAL
        self._state_path = settings.data_dir / STATE
        self._lock = threading.Lock()
        self._vms = _load(read_json(self._state_path) or {})

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
            self._save()
            return vm

    def destroy_vm(self, vm_id: str) -> bool:
        with self._lock:
            self._record("destroy_vm", {"vm_id": vm_id})
            found = self._vms.pop(vm_id, None) is not None
            self._save()
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
            self._save()
            return vnic

    def ensure_vif_unplugged(self, vm_id: str, vnic_id: str) -> bool:
        with self._lock:
            vm = self._vm(vm_id)
            self._record("ensure_vif_unplugged", {"vm_id": vm_id, "vnic_id": vnic_id})
            vnic = vm.vnic(vnic_id)
            if vnic is None or not vnic.plugged:
                return False
            vnic.plugged = False
            self._save()
            return True

    def get_vm(self, vm_id: str) -> VmState | None:
        with self._lock:
            return self._vms.get(vm_id)

    def list_vms(self) -> list[VmState]:
        with self._lock:
            return list(self._vms.values())

    def close(self) -> None:
        pass

    def _vm(self, vm_id: str) -> VmState:
        vm = self._vms.get(vm_id)
        if vm is None:
            raise VmMissing(vm_id)
        return vm

    def _record(self, op: str, details: dict[str, Any]) -> None:
        line = {"time": datetime.now(UTC).isoformat(timespec="microseconds"), "op": op, **details}
        with self._journal.open("a") as out:
            out.write(json.dumps(line, sort_keys=True) + "\n")

    def _save(self) -> None:
        write_json(self._state_path, {"vms": {vm.id: {"name": vm.name, "state": vm.state,
                                                      "vnics": [{"vif": v.vif.to_json(), "plugged": v.plugged}
                                                                for v in vm.vnics]}
                                              for vm in self._vms.values()}})  # fmt: skip


def _load(state: dict[str, Any]) -> dict[str, VmState]:
    vms: dict[str, VmState] = {}
    for vm_id, vm in (state.get("vms") or {}).items():
        vnics = [VnicState(Vif.from_json(v["vif"]), bool(v["plugged"])) for v in vm.get("vnics", [])]
        vms[vm_id] = VmState(vm_id, vm["name"], vm.get("state", "up"), vnics)
    return vms
