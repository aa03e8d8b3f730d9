"""The agent's verbs with the noop runtime: capabilities, VMs and their vNICs, every rule, the JSON-RPC framing."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extnet.common import hostrpc
from extnet.common.hostrpc import ErrorCode
from extnet.common.vif import devname_for
from tests.host.rpc import Rpc, RpcError, vif
from tests.servers import HostAgentProcess, free_port, run_host_agent


def journal(agent: HostAgentProcess) -> list[dict[str, Any]]:
    path = agent.data_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def fails(call: Any, code: ErrorCode) -> RpcError:
    with pytest.raises(RpcError) as err:
        call()
    assert err.value.code == code, err.value
    assert err.value.data["kind"] == code.name.lower()
    return err.value


def new_vm(**overrides: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "name": f"vm-{uuid.uuid4().hex[:6]}", "vifs": [vif()], **overrides}


# --- capabilities ------------------------------------------------------------------------------------------------


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[HostAgentProcess]:
    env = {
        "EXTNET_HOST_BRIDGES": "br-int,br-ex,br-phys",
        "EXTNET_HOST_BRIDGE_MAPPINGS": "physnet1:br-ex",
        "EXTNET_HOST_PLUGIN_TYPES": "open_vswitch,OVIRT_PROVIDER_OVN",
        "EXTNET_HOST_HOSTNAME": "hv-1.example",
    }
    with run_host_agent(tmp_path / "h", env=env) as agent:
        yield agent


def test_capabilities_report_what_the_host_has(configured: HostAgentProcess) -> None:
    client = Rpc(configured.url).pair(configured.password)
    caps = client.call("Host.getCapabilities")
    unique_id = caps["unique_id"]
    assert uuid.UUID(unique_id)
    assert caps["hostname"] == "hv-1.example" and caps["runtime"] == "noop"
    assert caps["binding_host_ids"] == {"open_vswitch": unique_id, "ovirt_provider_ovn": unique_id}
    assert caps["plugin_types"] == ["open_vswitch", "ovirt_provider_ovn"]
    assert caps["bridges"] == ["br-int", "br-ex", "br-phys"] and caps["bridge_mappings"] == {"physnet1": "br-ex"}
    assert caps["vif_versions"] == ["1.1"] and caps["protocol_version"] == hostrpc.PROTOCOL_VERSION
    assert caps["tunnel_types"] == ["vxlan", "geneve"] and caps["datapath_type"] == "system"
    assert caps["agent_version"]
    ping = client.call("Host.ping")
    assert ping["capabilities_digest"] == hostrpc.digest_of(caps) and ping["unique_id"] == unique_id
    # the id is the host's for good: a restart keeps it
    configured.stop()
    configured.start()
    assert client.call("Host.getCapabilities")["binding_host_ids"]["open_vswitch"] == unique_id


def test_a_bridge_mapping_to_a_missing_bridge_stops_the_agent_at_start(tmp_path: Path) -> None:
    env = {**os.environ, "EXTNET_HOST_BRIDGE_MAPPINGS": "physnet1:br-nowhere"}
    agent = HostAgentProcess("127.0.0.1", free_port(), "pw", tmp_path / "h", env)
    agent.data_dir.mkdir()
    with pytest.raises(RuntimeError) as err:
        agent.start()
    assert "br-nowhere" in str(err.value) and "EXTNET_HOST_BRIDGES" in str(err.value)


def test_the_default_capabilities(paired: Rpc) -> None:
    caps = paired.call("Host.getCapabilities")
    assert caps["bridges"] == ["br-int"] and caps["bridge_mappings"] == {} and caps["plugin_types"] == ["open_vswitch"]


# --- VMs and vNICs -------------------------------------------------------------------------------------------


def test_create_records_the_vifs_in_the_journal_and_plugs_nothing(shared_agent: HostAgentProcess, paired: Rpc) -> None:
    first, second = vif(vnic_name="nic1"), vif(vnic_name="nic2", plugged=False)
    vm = new_vm(vifs=[first, second])
    created = paired.call("VM.create", {"vm": vm})["vm"]
    assert (created["id"], created["name"], created["state"]) == (vm["id"], vm["name"], "up")
    vnics = {v["vnic_id"]: v for v in created["vnics"]}
    assert vnics[first["vnic_id"]]["plugged"] is True and vnics[second["vnic_id"]]["plugged"] is False
    assert vnics[first["vnic_id"]]["devname"] == devname_for(first["port_id"]) == "tap" + first["port_id"][:11]

    [entry] = [e for e in journal(shared_agent) if e["op"] == "create_vm" and e["vm"]["id"] == vm["id"]]
    # every field, as the engine sent it (a 1.0 VIF, with the plug the agent derived from its binding)
    assert [{k: v for k, v in sent.items() if k != "plug"} for sent in entry["vm"]["vifs"]] == [first, second]
    assert [sent["plug"]["kind"] for sent in entry["vm"]["vifs"]] == ["ovs", "ovs"]

    stats = paired.call("VM.getStats", {"vm_id": vm["id"]})["vm"]
    assert stats == created
    assert vm["id"] in [v["id"] for v in paired.call("VM.getStats")["vms"]]

    # idempotent: the same create again is the same VM
    assert paired.call("VM.create", {"vm": vm})["vm"] == created
    assert paired.call("VM.destroy", {"vm_id": vm["id"]}) == {"destroyed": True}
    assert paired.call("VM.destroy", {"vm_id": vm["id"]}) == {"destroyed": False}
    fails(lambda: paired.call("VM.getStats", {"vm_id": vm["id"]}), ErrorCode.VM_NOT_FOUND)
    ops = [e["op"] for e in journal(shared_agent) if vm["id"] in (e.get("vm_id"), e.get("vm", {}).get("id"))]
    assert ops == ["create_vm", "create_vm", "destroy_vm", "destroy_vm"]


def test_hotplug_and_hotunplug_are_idempotent(shared_agent: HostAgentProcess, paired: Rpc) -> None:
    vm = new_vm(vifs=[])
    paired.call("VM.create", {"vm": vm})
    nic = vif(vnic_name="hot")
    plugged = paired.call("VM.hotplugNic", {"vm_id": vm["id"], "vif": nic})["vnic"]
    assert plugged["plugged"] is True and plugged["port_id"] == nic["port_id"]
    assert paired.call("VM.hotplugNic", {"vm_id": vm["id"], "vif": nic})["vnic"] == plugged
    # the vNIC moves to another port (its network changed): the new port replaces the old one
    rewired = {**nic, "port_id": (new_port := str(uuid.uuid4())), "devname": devname_for(new_port)}
    assert paired.call("VM.hotplugNic", {"vm_id": vm["id"], "vif": rewired})["vnic"]["port_id"] == new_port
    [vnic] = paired.call("VM.getStats", {"vm_id": vm["id"]})["vm"]["vnics"]
    assert (vnic["port_id"], vnic["plugged"]) == (new_port, True)

    assert paired.call("VM.hotunplugNic", {"vm_id": vm["id"], "vnic_id": nic["vnic_id"]}) == {"unplugged": True}
    assert paired.call("VM.hotunplugNic", {"vm_id": vm["id"], "vnic_id": nic["vnic_id"]}) == {"unplugged": False}
    [vnic] = paired.call("VM.getStats", {"vm_id": vm["id"]})["vm"]["vnics"]
    assert vnic["plugged"] is False  # the VM keeps its vNIC, unplugged
    ops = [e["op"] for e in journal(shared_agent) if e.get("vm_id") == vm["id"]]
    assert ops == ["ensure_vif_plugged"] * 3 + ["ensure_vif_unplugged"] * 2

    missing = str(uuid.uuid4())
    err = fails(lambda: paired.call("VM.hotplugNic", {"vm_id": missing, "vif": vif()}), ErrorCode.VM_NOT_FOUND)
    assert missing in err.message and "not running on host" in err.message
    fails(lambda: paired.call("VM.hotunplugNic", {"vm_id": missing, "vnic_id": nic["vnic_id"]}), ErrorCode.VM_NOT_FOUND)
    paired.call("VM.destroy", {"vm_id": vm["id"]})


def test_vms_survive_a_restart_of_the_agent(agent: HostAgentProcess) -> None:
    client = Rpc(agent.url).pair(agent.password)
    vm = new_vm()
    created = client.call("VM.create", {"vm": vm})["vm"]
    agent.kill()
    agent.start()
    assert client.call("VM.getStats", {"vm_id": vm["id"]})["vm"] == created


# --- rules -----------------------------------------------------------------------------------------------------


def test_a_vif_of_an_unknown_major_version_is_refused(paired: Rpc) -> None:
    vm = new_vm(vifs=[vif(version="2.0")])
    err = fails(lambda: paired.call("VM.create", {"vm": vm}), ErrorCode.VIF_VERSION_UNSUPPORTED)
    assert "VIF contract version 2.0 is not supported" in err.message and "1.x" in err.message
    fails(lambda: paired.call("VM.getStats", {"vm_id": vm["id"]}), ErrorCode.VM_NOT_FOUND)  # nothing created
    # a newer minor version is read: its new fields are ignored
    newer = vif(version="1.7", future_field={"anything": 1})
    created = paired.call("VM.create", {"vm": new_vm(vifs=[newer])})["vm"]
    assert created["vnics"][0]["vnic_id"] == newer["vnic_id"]


def test_a_malformed_vif_lists_every_problem(paired: Rpc) -> None:
    bad = vif(mac="not-a-mac", mtu=10, port_id="nope", vnic_name="eth9", plugin_type="")
    err = fails(lambda: paired.call("VM.create", {"vm": new_vm(vifs=[bad])}), ErrorCode.VIF_INVALID)
    problems = err.data["problems"]
    assert any("mac 'not-a-mac'" in p for p in problems) and any("mtu 10" in p for p in problems)
    assert any("port_id 'nope' is not a UUID" in p for p in problems)
    assert any("plugin_type must be a non-empty string" in p for p in problems)
    assert all("vNIC 'eth9'" in p for p in problems)
    err = fails(lambda: paired.call("VM.create", {"vm": new_vm(vifs=[vif(network="net1")])}), ErrorCode.VIF_INVALID)
    assert "network must be an object" in err.message


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"vif_type": "binding_failed"}, ErrorCode.VIF_UNBOUND, "is not bound to this host"),
        ({"plugin_type": "linux_bridge"}, ErrorCode.PLUGIN_TYPE_UNSUPPORTED, "cannot plug plugin type 'linux_bridge'"),
        ({"vif_type": "vhostuser"}, ErrorCode.VIF_TYPE_UNSUPPORTED, "cannot plug vif_type 'vhostuser'"),
        ({"vif_details": {"bridge_name": "br-nowhere"}}, ErrorCode.BRIDGE_MISSING, "bridge br-nowhere"),
    ],
)
def test_what_the_host_cannot_plug_is_refused_with_the_reason(
    paired: Rpc, overrides: dict[str, Any], code: ErrorCode, fragment: str
) -> None:
    bad = vif(vnic_name="eth7", **overrides)
    vm = new_vm(vifs=[vif(), bad])
    err = fails(lambda: paired.call("VM.create", {"vm": vm}), code)
    assert fragment in err.message and "vNIC 'eth7'" in err.message and err.data["vnic_id"] == bad["vnic_id"]
    fails(lambda: paired.call("VM.getStats", {"vm_id": vm["id"]}), ErrorCode.VM_NOT_FOUND)  # all or nothing
    # an unplugged vNIC is only recorded: it need not be pluggable
    paired.call("VM.create", {"vm": {**vm, "vifs": [vif(), {**bad, "plugged": False}]}})
    paired.call("VM.destroy", {"vm_id": vm["id"]})


def test_a_vnic_or_a_port_is_in_one_vm_only(paired: Rpc) -> None:
    nic = vif()
    owner = new_vm(vifs=[nic])
    paired.call("VM.create", {"vm": owner})
    err = fails(lambda: paired.call("VM.create", {"vm": new_vm(vifs=[nic])}), ErrorCode.VM_CONFLICT)
    assert owner["name"] in err.message
    same_port = vif(port_id=nic["port_id"])
    err = fails(lambda: paired.call("VM.create", {"vm": new_vm(vifs=[same_port])}), ErrorCode.VM_CONFLICT)
    assert nic["port_id"] in err.message and owner["name"] in err.message
    twice = vif()
    err = fails(lambda: paired.call("VM.create", {"vm": new_vm(vifs=[twice, {**twice, "vnic_name": "b"}])}),
                ErrorCode.VIF_INVALID)  # fmt: skip
    assert "more than one vNIC has vnic_id" in err.message
    paired.call("VM.destroy", {"vm_id": owner["id"]})


@pytest.mark.parametrize(
    ("method", "params", "fragment"),
    [
        ("VM.create", {}, "give 'vm'"),
        ("VM.create", {"vm": {"id": "x", "name": "a"}}, "vm.id must be a UUID"),
        ("VM.create", {"vm": {"id": str(uuid.uuid4()), "name": ""}}, "vm.name must be a non-empty string"),
        ("VM.create", {"vm": {"id": str(uuid.uuid4()), "name": "a", "vifs": {}}}, "vm.vifs must be a list"),
        ("VM.destroy", {"vm_id": 5}, "vm_id must be a UUID"),
        ("VM.hotunplugNic", {"vm_id": str(uuid.uuid4())}, "vnic_id must be a UUID"),
        ("Host.setProviders", {"providers": {}}, "'providers', a list"),
        ("Host.setProviders", {"providers": [{"id": "p", "name": "n", "url": "ftp://x"}]}, "http:// or https://"),
    ],
)
def test_invalid_params(paired: Rpc, method: str, params: dict[str, Any], fragment: str) -> None:
    err = fails(lambda: paired.call(method, params), ErrorCode.INVALID_PARAMS)
    assert fragment in err.message


def test_json_rpc_framing(paired: Rpc) -> None:
    garbage = paired.post(None, content=b"{not json")
    assert garbage.json()["error"]["code"] == ErrorCode.PARSE_ERROR
    unknown = paired.post({"jsonrpc": "2.0", "id": "a", "method": "VM.teleport"}).json()
    assert unknown["error"]["code"] == ErrorCode.METHOD_NOT_FOUND and "VM.create" in unknown["error"]["message"]
    old = paired.post({"jsonrpc": "1.0", "id": 1, "method": "Host.ping"}).json()
    assert old["error"]["code"] == ErrorCode.INVALID_REQUEST
    positional = paired.post({"jsonrpc": "2.0", "id": 1, "method": "Host.ping", "params": [1]}).json()
    assert positional["error"]["code"] == ErrorCode.INVALID_PARAMS
    batch = paired.post([{"jsonrpc": "2.0", "id": 1, "method": "Host.ping"},
                         {"jsonrpc": "2.0", "method": "Host.ping"},  # a notification: no answer
                         {"jsonrpc": "2.0", "id": 3, "method": "nope"}]).json()  # fmt: skip
    assert [a["id"] for a in batch] == [1, 3] and "result" in batch[0] and "error" in batch[1]
    notification = paired.post({"jsonrpc": "2.0", "method": "Host.ping"})
    assert notification.status_code == 204 and notification.content == b""
    assert paired.post([]).json()["error"]["code"] == ErrorCode.INVALID_REQUEST
