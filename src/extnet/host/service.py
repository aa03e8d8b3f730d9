"""The agent's verbs, between the JSON-RPC layer and the runtime: parameter checks, the plugging rules every
runtime shares, one VM at a time, and telling the heartbeat what was plugged and unplugged."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from extnet.common import hostrpc
from extnet.common.host_accounts import heartbeat_host
from extnet.common.hostrpc import ErrorCode
from extnet.common.vif import Vif, VifError, VifVersionError
from extnet.host.capabilities import agent_version, capabilities
from extnet.host.heartbeat import HeartbeatService, ProviderTarget
from extnet.host.pairing import Pairing, PairingRefused, PairingThrottled
from extnet.host.runtime.base import Runtime, RuntimeFailure, VmMissing, VmSpec, VmState
from extnet.host.settings import HostSettings

Params = dict[str, Any]


class AgentError(Exception):
    """A JSON-RPC error: ``code`` from ``hostrpc.ErrorCode``, a message an administrator can act on."""

    def __init__(self, code: ErrorCode, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = {"kind": hostrpc.KINDS[code], **(data or {})}


def invalid(message: str) -> AgentError:
    return AgentError(ErrorCode.INVALID_PARAMS, message)


class HostAgent:
    def __init__(self, settings: HostSettings, runtime: Runtime, pairing: Pairing, unique_id: str) -> None:
        self.settings = settings
        self.runtime = runtime
        self.pairing = pairing
        self.unique_id = unique_id
        self.heartbeat = HeartbeatService(
            settings.heartbeat_interval, self._agent_report, self._devices,
            (settings.provider_connect_timeout, settings.provider_read_timeout),
        )  # fmt: skip
        self._vm_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.verbs: dict[str, Callable[[Params], Any]] = {
            hostrpc.PAIR: self.pair, hostrpc.IDENTIFY: self.identify, hostrpc.UNPAIR: self.unpair,
            hostrpc.PING: self.ping, hostrpc.GET_CAPABILITIES: self.get_capabilities,
            hostrpc.SET_PROVIDERS: self.set_providers, hostrpc.VM_CREATE: self.vm_create,
            hostrpc.VM_DESTROY: self.vm_destroy, hostrpc.VM_HOTPLUG_NIC: self.vm_hotplug_nic,
            hostrpc.VM_HOTUNPLUG_NIC: self.vm_hotunplug_nic, hostrpc.VM_GET_STATS: self.vm_get_stats,
        }  # fmt: skip

    # --- pairing ---------------------------------------------------------------------------------------------

    def _with_password(self, params: Params, action: Callable[[str], Any]) -> Any:
        """``action(password)``, which checks the pairing password, with its refusals as JSON-RPC errors."""
        password = params.get("password")
        if not isinstance(password, str) or not password:
            raise invalid("give the pairing password as 'password'")
        try:
            return action(password)
        except PairingThrottled as err:
            raise AgentError(ErrorCode.PAIRING_THROTTLED, str(err), {"retry_after": round(err.retry_after)}) from None
        except PairingRefused:
            raise AgentError(ErrorCode.PAIRING_REFUSED, "the pairing password is wrong") from None

    def identify(self, params: Params) -> dict[str, Any]:
        """Who this agent is, for a caller that knows the pairing password (nothing changes)."""
        self._with_password(params, self.pairing.check_password)
        return {"unique_id": self.unique_id, "hostname": self.settings.effective_hostname,
                "paired": self.pairing.paired, "agent_version": agent_version()}  # fmt: skip

    def pair(self, params: Params) -> dict[str, Any]:
        secret = self._with_password(params, self.pairing.pair)
        self.heartbeat.set_providers([], None)  # a new engine tells us its own providers
        return {"secret": secret, "unique_id": self.unique_id}

    def unpair(self, params: Params) -> dict[str, Any]:
        self.pairing.unpair()
        self.heartbeat.set_providers([], None)
        return {}

    # --- host ------------------------------------------------------------------------------------------------

    def ping(self, params: Params) -> dict[str, Any]:
        return {
            "unique_id": self.unique_id,
            "agent_version": agent_version(),
            "capabilities_digest": hostrpc.digest_of(self.get_capabilities({})),
            "providers_digest": self.heartbeat.digest,
            "heartbeats": self.heartbeat.states(),
            "vm_count": len(self.runtime.list_vms()),
        }

    def get_capabilities(self, params: Params) -> dict[str, Any]:
        return capabilities(self.settings, self.runtime, self.unique_id)

    def set_providers(self, params: Params) -> dict[str, Any]:
        raw = params.get("providers")
        if not isinstance(raw, list):
            raise invalid("give 'providers', a list (empty to stop every heartbeat)")
        try:
            targets = [ProviderTarget.from_json(item) for item in raw]
        except ValueError as err:
            raise invalid(str(err)) from None
        if len({t.id for t in targets}) != len(targets):
            raise invalid("each provider may be given once")
        given, wait = params.get("digest"), params.get("wait", 0)
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= hostrpc.MAX_FIRST_BEAT_WAIT:
            raise invalid(f"'wait' must be a number of seconds from 0 to {hostrpc.MAX_FIRST_BEAT_WAIT:g}")
        self.heartbeat.set_providers(targets, given if isinstance(given, str) else None)
        answer = {"providers": [{"id": t.id, "name": t.name} for t in targets], "digest": self.heartbeat.digest}
        if wait:  # the caller wants to know whether the providers took this host's first beats
            answer["heartbeats"] = self.heartbeat.first_beats(float(wait))
        return answer

    def _agent_report(self) -> dict[str, Any]:
        """This host as a Neutron agent: an Open vSwitch agent, or a Linux bridge agent where the host plugs for
        Linux bridge and not for Open vSwitch (its plugin types)."""
        caps = self.get_capabilities({})
        plugins = self.settings.plugin_type_list
        bridge_only = hostrpc.LINUX_BRIDGE in plugins and hostrpc.OPEN_VSWITCH not in plugins
        plugin = hostrpc.LINUX_BRIDGE if bridge_only else hostrpc.OPEN_VSWITCH
        configurations = {
            "bridge_mappings": caps["bridge_mappings"], "integration_bridge": caps["integration_bridge"],
            "tunnel_types": caps["tunnel_types"], "datapath_type": caps["datapath_type"],
            "ovs_hybrid_plug": bool(caps["ovs_hybrid_plug"]), "extnet_runtime": caps["runtime"],
        }  # fmt: skip
        if caps.get("tunnel_ip"):
            configurations["tunneling_ip"] = caps["tunnel_ip"]
        linux_bridge = plugin == hostrpc.LINUX_BRIDGE
        return {
            "host": heartbeat_host(caps),
            "agent_type": hostrpc.LB_AGENT_TYPE if linux_bridge else hostrpc.OVS_AGENT_TYPE,
            "binary": hostrpc.LB_AGENT_BINARY if linux_bridge else hostrpc.OVS_AGENT_BINARY,
            "configurations": configurations,
        }

    def _devices(self, provider_id: str) -> tuple[list[str], list[str]]:
        up: list[str] = []
        down: list[str] = []
        for vm in self.runtime.list_vms():
            for vnic in vm.vnics:
                if vnic.vif.provider.id == provider_id:
                    (up if vnic.plugged else down).append(vnic.vif.port_id)
        return up, down

    # --- VMs -------------------------------------------------------------------------------------------------

    def vm_create(self, params: Params) -> dict[str, Any]:
        vm = params.get("vm")
        if not isinstance(vm, dict):
            raise invalid("give 'vm': {id, name, vifs}")
        vm_id = _uuid(vm, "id", "vm.id")
        name = vm.get("name")
        if not isinstance(name, str) or not name:
            raise invalid("vm.name must be a non-empty string")
        raw_vifs = vm.get("vifs", [])
        if not isinstance(raw_vifs, list):
            raise invalid("vm.vifs must be a list of VIFs")
        vifs = tuple(self._read_vif(raw) for raw in raw_vifs)
        _unique(vifs, name)
        with self._vm_lock(vm_id):
            self._check_conflicts(vm_id, vifs)
            for vif in vifs:
                if vif.plugged:
                    self._check_pluggable(vif)
            before = _plugged(self.runtime.get_vm(vm_id))
            state = self._runtime(lambda: self.runtime.create_vm(VmSpec(vm_id, name, vifs)))
            reported = self._tell(before, _plugged(state), wait=True)
        return {"vm": state.to_json(), "port_status": reported}

    def vm_destroy(self, params: Params) -> dict[str, Any]:
        vm_id = _uuid(params, "vm_id")
        with self._vm_lock(vm_id):
            before = _plugged(self.runtime.get_vm(vm_id))
            destroyed = self._runtime(lambda: self.runtime.destroy_vm(vm_id))
            self._tell(before, set())
        return {"destroyed": destroyed}

    def vm_hotplug_nic(self, params: Params) -> dict[str, Any]:
        vm_id = _uuid(params, "vm_id")
        vif = self._read_vif(params.get("vif"))
        with self._vm_lock(vm_id):
            before = _plugged(self._existing(vm_id))
            self._check_conflicts(vm_id, (vif,))
            self._check_pluggable(vif)
            vnic = self._runtime(lambda: self.runtime.ensure_vif_plugged(vm_id, vif))
            reported = self._tell(before, _plugged(self.runtime.get_vm(vm_id)), wait=True)
        return {"vnic": vnic.to_json(), "port_status": reported}

    def vm_hotunplug_nic(self, params: Params) -> dict[str, Any]:
        vm_id = _uuid(params, "vm_id")
        vnic_id = _uuid(params, "vnic_id")
        with self._vm_lock(vm_id):
            before = _plugged(self._existing(vm_id))
            unplugged = self._runtime(lambda: self.runtime.ensure_vif_unplugged(vm_id, vnic_id))
            self._tell(before, _plugged(self.runtime.get_vm(vm_id)))
        return {"unplugged": unplugged}

    def vm_get_stats(self, params: Params) -> dict[str, Any]:
        if params.get("vm_id") is None:
            return {"vms": [vm.to_json() for vm in self.runtime.list_vms()]}
        return {"vm": self._existing(_uuid(params, "vm_id")).to_json()}

    # --- rules -----------------------------------------------------------------------------------------------

    def _read_vif(self, raw: Any) -> Vif:
        try:
            return Vif.from_json(raw)
        except VifVersionError as err:
            raise AgentError(ErrorCode.VIF_VERSION_UNSUPPORTED, str(err), {"problems": err.problems}) from None
        except VifError as err:
            raise AgentError(ErrorCode.VIF_INVALID, f"invalid VIF: {err}", {"problems": err.problems}) from None

    def _check_pluggable(self, vif: Vif) -> None:
        host = self.settings.effective_hostname
        facts = self.runtime.facts()
        if not vif.bound:
            binding = facts.binding_host_ids.get(vif.plugin_type.lower(), host)
            raise AgentError(
                ErrorCode.VIF_UNBOUND,
                (
                    f"{vif.label}: port {vif.port_id} is not bound to this host (binding:vif_type {vif.vif_type}): the "
                    f"provider has no alive agent on host '{binding}' that reaches network '{vif.network.name}'; check "
                    "this host's heartbeat to the provider and its bridge mappings"
                ),
                {"vnic_id": vif.vnic_id},
            )
        if vif.plugin_type.lower() not in self.settings.plugin_type_list:
            raise AgentError(
                ErrorCode.PLUGIN_TYPE_UNSUPPORTED,
                (
                    f"{vif.label}: host {host} cannot plug plugin type '{vif.plugin_type}'; it plugs "
                    f"{', '.join(self.settings.plugin_type_list) or 'none'}"
                ),
                {"vnic_id": vif.vnic_id},
            )
        if vif.vif_type not in facts.vif_types:
            raise AgentError(
                ErrorCode.VIF_TYPE_UNSUPPORTED,
                (
                    f"{vif.label}: the {self.runtime.name} runtime of host {host} cannot plug vif_type "
                    f"'{vif.vif_type}'; it plugs {', '.join(facts.vif_types)}"
                ),
                {"vnic_id": vif.vnic_id},
            )
        bridge = vif.vif_details.bridge_name
        if vif.vif_type == "ovs" and bridge and bridge not in facts.bridges:
            raise AgentError(
                ErrorCode.BRIDGE_MISSING,
                (
                    f"{vif.label}: bridge {bridge} (binding:vif_details of port {vif.port_id}) does not exist on host "
                    f"{host}; it has {', '.join(facts.bridges) or 'none'}"
                ),
                {"vnic_id": vif.vnic_id},
            )

    def _check_conflicts(self, vm_id: str, vifs: tuple[Vif, ...]) -> None:
        for other in self.runtime.list_vms():
            if other.id == vm_id:
                continue
            for vnic in other.vnics:
                for vif in vifs:
                    if vnic.vif.vnic_id == vif.vnic_id:
                        raise AgentError(ErrorCode.VM_CONFLICT, f"{vif.label} already belongs to VM '{other.name}' "
                                         f"({other.id}) on this host; destroy or unplug it there first")  # fmt: skip
                    if vnic.plugged and vif.plugged and vnic.vif.port_id == vif.port_id:
                        raise AgentError(ErrorCode.VM_CONFLICT, f"{vif.label}: port {vif.port_id} is plugged into "
                                         f"VM '{other.name}' ({other.id}) on this host")  # fmt: skip

    def _existing(self, vm_id: str) -> VmState:
        vm = self.runtime.get_vm(vm_id)
        if vm is None:
            raise AgentError(ErrorCode.VM_NOT_FOUND, f"VM {vm_id} is not running on host "
                             f"{self.settings.effective_hostname}", {"vm_id": vm_id})  # fmt: skip
        return vm

    def _tell(self, before: set[tuple[str, str]], after: set[tuple[str, str]], wait: bool = False) -> dict[str, str]:
        """Report to the providers the ports plugged now (again: idempotent) and those no longer plugged; after a
        plug, wait (briefly) until the providers took it, and return the status they answered for each plugged
        port (those they took): the engine need not ask them again."""
        up: dict[str, set[str]] = {}
        down: dict[str, set[str]] = {}
        for provider_id, port_id in after:
            up.setdefault(provider_id, set()).add(port_id)
        for provider_id, port_id in before - after:
            down.setdefault(provider_id, set()).add(port_id)
        return self.heartbeat.changed(up, down, self.settings.plug_report_wait if wait and up else 0.0)

    def _vm_lock(self, vm_id: str) -> threading.Lock:
        with self._guard:
            return self._vm_locks.setdefault(vm_id, threading.Lock())

    def _runtime(self, operation: Callable[[], Any]) -> Any:
        try:
            return operation()
        except VmMissing as err:
            raise AgentError(ErrorCode.VM_NOT_FOUND, f"VM {err} is not running on host "
                             f"{self.settings.effective_hostname}", {"vm_id": str(err)}) from None  # fmt: skip
        except RuntimeFailure as err:
            raise AgentError(ErrorCode.RUNTIME_FAILED, str(err)) from None


def _plugged(vm: VmState | None) -> set[tuple[str, str]]:
    """(provider id, port id) of the VIFs plugged into the VM."""
    return {(v.vif.provider.id, v.vif.port_id) for v in vm.vnics if v.plugged} if vm else set()


def _uuid(params: Params, key: str, label: str | None = None) -> str:
    value = params.get(key)
    try:
        if isinstance(value, str):
            return str(uuid.UUID(value))
    except ValueError:
        pass
    raise invalid(f"{label or key} must be a UUID")


def _unique(vifs: tuple[Vif, ...], vm_name: str) -> None:
    for attribute in ("vnic_id", "port_id", "mac", "devname"):
        values = [getattr(vif, attribute) for vif in vifs]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise AgentError(ErrorCode.VIF_INVALID, f"VM '{vm_name}': more than one vNIC has {attribute} "
                             f"{', '.join(repeated)}")  # fmt: skip
