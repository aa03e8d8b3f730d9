"""Start 50 VMs (``netns`` runtime, one external vNIC each, guests asking DHCP) through the engine on the built-in
provider's ``ovn`` driver, until every port is ACTIVE and every guest holds its DHCP address from OVN; and the
provider calls a start makes (create a bound port, read it, delete it) on the ``ovn`` and the ``ovs_agent`` drivers,
in the same run.

Everything runs here as real processes on 127.0.0.1: an OVN central (NB, SB, northd) under a temporary directory,
one test-bed host (a network namespace with its own Open vSwitch, userspace datapath) that ``extnet host setup ovn``
points at OVN, its ovn-controller, its host agent (``--l2 none``, ``--guest-ip dhcp``), the engine and two
providers (one per driver, each on its own SQLite database). The VMs are made beforehand (not timed).

- start storm: ``POST /vms/{id}/start`` for every VM with 8 clients (the engine creates and binds the port, the
  host plugs it, ovn-controller binds it, the provider turns it ACTIVE, the engine records the VM up); then until
  every guest holds its port's address (the engine's reported devices). Anchor: Nova with OVN averaged 23.5 s per
  boot in a 2016 scale test; goal: under 1 s per VM.
- provider calls: openstacksdk creates 200 ports bound to the host, one client, on each driver, the two taking turns
  (ovn: SQL, then the change carried to OVN right after; ovs_agent: SQL only); goal: ovn within 2x of ovs_agent.

Needs root, Debian's openvswitch-switch, ovn-central, ovn-host and busybox.

    sudo python bench/ovn_bench.py [--vms 50] [--ports 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.dataplane import bed  # noqa: E402
from tests.ovn import OvnCentral, chassis_on, ovn_central  # noqa: E402
from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD  # noqa: E402
from tests.provider.process import ProviderProcess, run_provider  # noqa: E402
from tests.servers import ADMIN_PASSWORD, run_engine, run_host_agent  # noqa: E402

CLIENTS = 8


def ovn_env(central: OvnCentral) -> dict[str, str]:
    return {"EXTNET_PROVIDER_DRIVER": "ovn", "EXTNET_PROVIDER_OVN_NB": central.nb, "EXTNET_PROVIDER_OVN_SB": central.sb,
            "EXTNET_PROVIDER_LOG_LEVEL": "warning"}  # fmt: skip


def wait(check: Any, what: str, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {deadline_s:.0f} s")
        time.sleep(0.05)


class PortCalls:
    """Bound port creates on one provider: prepared (network, subnet, the agent if its driver needs one) untimed."""

    def __init__(self, provider: ProviderProcess, host: str, heartbeat: bool) -> None:
        self.neutron = provider.connect()
        self.host = host
        if heartbeat:  # the ovs_agent driver binds to hosts whose Open vSwitch agent reports
            token = self.neutron.session.get_token()
            report = {"host": host, "agent_type": "Open vSwitch agent", "binary": "neutron-openvswitch-agent",
                      "configurations": {"tunnel_types": ["vxlan", "geneve"], "bridge_mappings": {}}}  # fmt: skip
            httpx.post(f"{provider.network_url}/v2.0/agents/heartbeat", json={"agent": report},
                       headers={"X-Auth-Token": token}).raise_for_status()  # fmt: skip
        self.network = self.neutron.network.create_network(name="bench-calls", provider_network_type="geneve")
        self.neutron.network.create_subnet(network_id=self.network.id, cidr="10.200.0.0/16", ip_version=4)
        self.seconds: list[float] = []
        self.made: list[str] = []

    def create(self) -> None:
        index = len(self.made)
        began = time.perf_counter()
        port = self.neutron.network.create_port(
            network_id=self.network.id, binding_host_id=self.host, device_owner="oVirt", device_id=f"bench-{index}",
            name=f"nic-{index}",
        )
        self.seconds.append(time.perf_counter() - began)
        assert port.binding_vif_type == "ovs", port.binding_vif_type
        self.made.append(port.id)

    def close(self) -> None:
        for port_id in self.made:
            self.neutron.network.delete_port(port_id)
        self.neutron.network.delete_network(self.network.id)
        self.neutron.close()


def port_calls(providers: dict[str, tuple[ProviderProcess, bool]], host: str, count: int) -> dict[str, list[float]]:
    """Seconds of each create on each provider; the providers take turns, one create each (who goes first
    alternating), so that both meet the same load on this machine."""
    calls = {driver: PortCalls(provider, host, heartbeat) for driver, (provider, heartbeat) in providers.items()}
    order = list(calls.values())
    for index in range(count):
        for side in order if index % 2 == 0 else reversed(order):
            side.create()
    for side in order:
        side.close()
    return {driver: side.seconds for driver, side in calls.items()}


class Engine:
    def __init__(self, url: str) -> None:
        self.api = httpx.Client(base_url=url + "/", auth=("admin@internal", ADMIN_PASSWORD), timeout=600,
                                headers={"Accept": "application/json", "Content-Type": "application/json"},
                                limits=httpx.Limits(max_connections=64))  # fmt: skip

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.api.post(path, json=body)
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    def leased(self, vm_id: str, nic_id: str) -> list[str]:
        found = self.api.get(f"vms/{vm_id}/nics/{nic_id}/reporteddevices").json().get("reported_device", [])
        return [ip["address"] for device in found for ip in device.get("ips", {}).get("ip", [])
                if ip.get("version") == "v4"]  # fmt: skip


def storm(engine: Engine, provider: ProviderProcess, agent: Any, count: int) -> dict[str, float]:
    neutron = provider.connect()
    registered = engine.post("openstacknetworkproviders", {
        "name": "ovn", "type": "external", "url": provider.network_url, "requires_authentication": True,
        "username": "admin", "password": PROVIDER_PASSWORD, "authentication_url": provider.auth_url,
        "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"})  # fmt: skip
    network = neutron.network.create_network(name="bench-vms")
    neutron.network.create_subnet(network_id=network.id, cidr="10.210.0.0/16", ip_version=4)
    engine.post(f"openstacknetworkproviders/{registered['id']}/networks/{network.id}/import",
                {"data_center": {"name": "Default"}, "attach_to_all_clusters": True})  # fmt: skip
    found = engine.api.get("networks", params={"search": "name=bench-vms"}).json()["network"][0]
    profile = engine.api.get(f"networks/{found['id']}/vnicprofiles").json()["vnic_profile"][0]["id"]
    cluster = engine.api.get("clusters", params={"search": "name=Default"}).json()["cluster"][0]["id"]
    engine.post("hosts", {"name": "bench-host", "cluster": {"id": cluster}, **agent.host_fields()})
    vms = []
    for index in range(count):
        vm = engine.post("vms", {"name": f"bench-{index:03d}", "cluster": {"id": cluster},
                                 "template": {"name": "Blank"}})  # fmt: skip
        nic = engine.post(f"vms/{vm['id']}/nics", {"name": "nic1", "vnic_profile": {"id": profile}})
        vms.append((vm["id"], nic["id"]))

    def start(vm_id: str) -> float:
        began = time.perf_counter()
        engine.post(f"vms/{vm_id}/start", {})
        return time.perf_counter() - began

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        latencies = list(pool.map(start, [vm_id for vm_id, _ in vms]))
    started = time.perf_counter() - began
    ports = {p.device_id: p for p in neutron.network.ports(network_id=network.id)}
    assert all(ports[nic_id].status == "ACTIVE" for _, nic_id in vms), "every port ACTIVE"
    addresses = {nic_id: ports[nic_id].fixed_ips[0]["ip_address"] for _, nic_id in vms}
    wait(lambda: all(engine.leased(vm_id, nic_id) == [addresses[nic_id]] for vm_id, nic_id in vms),
         "every guest holds its DHCP address", 300)  # fmt: skip
    leased = time.perf_counter() - began
    for vm_id, _ in vms:
        engine.post(f"vms/{vm_id}/stop", {})
    neutron.close()
    return {"started": started, "leased": leased, "median": statistics.median(latencies),
            "p95": sorted(latencies)[max(0, int(len(latencies) * 0.95) - 1)]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=50)
    parser.add_argument("--ports", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="extnet-ovn-bench-") as tmp, ExitStack() as stack:
        base = Path(tmp)
        central = stack.enter_context(ovn_central(base / "ovn"))
        testbed = stack.enter_context(bed(base / "host"))
        name = f"bed-{testbed.ns}"
        stack.enter_context(chassis_on(central, testbed.ovs, name))
        ovn = stack.enter_context(run_provider(base / "ovn-provider", env=ovn_env(central)))
        plain = stack.enter_context(run_provider(base / "ovs-provider", env={"EXTNET_PROVIDER_LOG_LEVEL": "warning"}))
        wait(lambda: any(a.is_alive for a in ovn.connect().network.agents(host=name)), "the chassis alive")
        calls = port_calls({"ovs_agent": (plain, True), "ovn": (ovn, False)}, name, args.ports)
        engine = stack.enter_context(run_engine(base / "engine", env={"EXTNET_LOG_LEVEL": "warning",
                                                                      "EXTNET_PORT_ACTIVE_TIMEOUT": "60"}))  # fmt: skip
        agent = stack.enter_context(run_host_agent(base / "agent", runtime="netns", env=testbed.agent_env(
            EXTNET_HOST_L2="none", EXTNET_HOST_GUEST_IP="dhcp", EXTNET_HOST_LOG_LEVEL="warning")))  # fmt: skip
        result = storm(Engine(engine.url), ovn, agent, args.vms)
    print(f"\nstart storm: {args.vms} VMs (netns, 1 external vNIC each, DHCP from OVN), {CLIENTS} clients\n")
    print("| measure | total s | per VM s | anchor (Nova + OVN, 2016) | ratio to anchor |")
    print("|---|---:|---:|---:|---:|")
    for what, key in (("start requested until every port ACTIVE and every VM up", "started"),
                      ("start requested until every guest holds its DHCP address", "leased")):  # fmt: skip
        per = result[key] / args.vms
        print(f"| {what} | {result[key]:.2f} | {per:.3f} | 23.5 | {per / 23.5:.3f} |")
    print(f"\nstart request latency: median {result['median'] * 1000:.0f} ms, p95 {result['p95'] * 1000:.0f} ms")
    print(f"\nprovider calls: {args.ports} bound port creates, one client (openstacksdk)\n")
    print("| driver | total s | median ms | p95 ms | ratio to ovs_agent |")
    print("|---|---:|---:|---:|---:|")
    for driver, seconds in calls.items():
        ratio = sum(seconds) / sum(calls["ovs_agent"])
        p95 = sorted(seconds)[int(len(seconds) * 0.95) - 1]
        print(f"| {driver} | {sum(seconds):.2f} | {statistics.median(seconds) * 1000:.1f} | {p95 * 1000:.1f} | "
              f"{ratio:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
