"""Plug and unplug 200 vNICs of each kind (ovs, ovs_hybrid, bridge) on one host with extnet's VIF plugins, against
the same work done with plain commands (``ovs-vsctl``, one call per vNIC, and ``ip`` for the Linux devices) in the
same run, on the same Open vSwitch. Both wait until ovs-vswitchd has applied each change (ovsdbapp's Open vSwitch
transactions, like ``ovs-vsctl`` without ``--no-wait``, wait for ``cur_cfg`` to reach ``next_cfg`` and check that
the interfaces were made).

The host is a test-bed one (a network namespace with an Open vSwitch of its own, userspace datapath); the guest
devices (one veth per vNIC, its guest end in a namespace) are made beforehand and not timed: the runtime makes them,
the plugin plugs them. Timed, per vNIC:

- ovs: the guest device on br-int with external_ids iface-id, attached-mac, vm-uuid, iface-status and the network's
  local VLAN tag (extnet: one OVSDB transaction through ovsdbapp; baseline: one ``ovs-vsctl`` with those settings);
- ovs_hybrid: a qbr bridge, the veth qvb/qvo, qvb in qbr, qvo on br-int as above, the guest device in qbr
  (extnet: pyroute2 and ovsdbapp; baseline: ``ip`` commands and one ``ovs-vsctl``);
- bridge: the network's brq bridge (made once), the guest device in it (extnet: pyroute2; baseline: ``ip``).

Unplugging undoes each. The two sides take turns, one vNIC each (who goes first alternating), so that both meet
the same number of ports on the switch (ovs-vswitchd's work for each change grows with the ports it has: with the
userspace datapath, a change on a bridge of 400 ports costs several times one on a bridge of 20). The ratio is
extnet's time over the baseline's (goal: at most 1.0). Needs root and Debian's openvswitch-switch.

    sudo python bench/plug_bench.py [--vnics 200] [--kinds ovs,ovs_hybrid,bridge]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from extnet.common.vif import Vif, VifNetwork, VifProvider  # noqa: E402
from extnet.engine.providers.neutron import port_from  # noqa: E402
from extnet.host.l2 import Switching  # noqa: E402
from extnet.host.networks import ProviderNetworks  # noqa: E402
from extnet.host.ovs_daemons import OvsDaemons  # noqa: E402
from extnet.host.plugins import plugins_for  # noqa: E402
from extnet.host.plugins.base import HostSwitch  # noqa: E402
from extnet.host.privileged import netlink  # noqa: E402
from extnet.host.privileged.ovsdb import Ovs  # noqa: E402


def vifs(count: int, kind: str) -> list[Vif]:
    network = VifNetwork(str(uuid.uuid4()), "bench")
    provider = VifProvider(str(uuid.uuid4()), "external")
    ovs = {"bridge_name": "br-int", "datapath_type": "netdev"}
    details = {"ovs": {**ovs, "ovs_hybrid_plug": False}, "ovs_hybrid": {**ovs, "ovs_hybrid_plug": True},
               "bridge": {}}[kind]  # fmt: skip
    made = []
    for n in range(count):
        port = {"id": str(uuid.uuid4()), "mac_address": f"fa:16:3e:00:{n // 256:02x}:{n % 256:02x}",
                "network_id": network.id, "binding:vif_type": "bridge" if kind == "bridge" else "ovs",
                "binding:vif_details": details}  # fmt: skip
        parsed = port_from(port)
        assert parsed is not None
        made.append(Vif.from_port(parsed, vnic_id=str(uuid.uuid4()), vnic_name=f"nic{n}", network_name="bench",
                                  provider=provider, plugin_type="open_vswitch", mtu=1450))  # fmt: skip
    return made


class Host:
    def __init__(self, base: Path) -> None:
        self.ns = f"xbench{uuid.uuid4().hex[:6]}"
        self.guests = f"{self.ns}-guests"
        netlink.ensure_namespace(self.ns)
        netlink.ensure_namespace(self.guests)
        self.daemons = OvsDaemons(base / "ovs", self.ns)
        self.daemons.start()
        self.ovs = Ovs(self.daemons.remote)
        self.ovs.ensure_bridge("br-int", "netdev")
        switching = Switching(self.ns, self.ovs, ProviderNetworks(_no_provider), None)
        self.plugins = plugins_for(HostSwitch(self.ns, self.ovs, switching))

    def guest_devices(self, batch: list[Vif]) -> None:
        for n, vif in enumerate(batch):
            netlink.ensure_guest_veth(self.ns, vif.devname, self.guests, f"g{n}", vif.mac, vif.mtu)

    def sh(self, *commands: list[str]) -> None:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True, env={**os.environ, **self.daemons.env()})

    def vsctl(self, *args: str) -> list[str]:
        return ["ovs-vsctl", f"--db={self.daemons.remote}", *args]

    def ip(self, *args: str) -> list[str]:
        return ["ip", "-n", self.ns, *args]

    def close(self) -> None:
        self.ovs.close()
        self.daemons.stop()
        netlink.remove_namespace(self.guests)
        netlink.remove_namespace(self.ns)


def _no_provider(provider_id: str, path: str) -> None:
    raise LookupError("the benchmark has no provider")


# --- the baseline: the same work with plain commands -------------------------------------------------------------


def _ovs_port(host: Host, vif: Vif, device: str) -> list[str]:
    return host.vsctl("--may-exist", "add-port", "br-int", device, "tag=1", "--", "set", "Interface", device,
                      f"external_ids:iface-id={vif.port_id}", "external_ids:iface-status=active",
                      f"external_ids:attached-mac={vif.mac}", f"external_ids:vm-uuid={vif.vnic_id}")  # fmt: skip


def baseline_plug(host: Host, kind: str, vif: Vif) -> None:
    plug = vif.plug
    assert plug is not None
    if kind == "ovs":
        host.sh(_ovs_port(host, vif, plug.devname))
    elif kind == "ovs_hybrid":
        qbr, qvb, qvo = plug.devices()[1:]
        host.sh(host.ip("link", "add", qbr, "type", "bridge", "ageing_time", "0"), host.ip("link", "set", qbr, "up"),
                host.ip("link", "add", qvb, "mtu", "1450", "type", "veth", "peer", "name", qvo, "mtu", "1450"),
                host.ip("link", "set", qvb, "master", qbr, "up"), host.ip("link", "set", qvo, "up"),
                _ovs_port(host, vif, qvo), host.ip("link", "set", plug.devname, "master", qbr))  # fmt: skip
    else:
        bridge = plug.bridge  # type: ignore[attr-defined]
        if not netlink.exists(host.ns, bridge):
            host.sh(host.ip("link", "add", bridge, "type", "bridge"), host.ip("link", "set", bridge, "up"))
        host.sh(host.ip("link", "set", plug.devname, "master", bridge))


def baseline_unplug(host: Host, kind: str, vif: Vif, last: bool) -> None:
    plug = vif.plug
    assert plug is not None
    if kind == "ovs":
        host.sh(host.vsctl("--if-exists", "del-port", plug.devname))
    elif kind == "ovs_hybrid":
        qbr, qvb, qvo = plug.devices()[1:]
        host.sh(host.vsctl("--if-exists", "del-port", qvo), host.ip("link", "del", qvb), host.ip("link", "del", qbr))
    else:
        host.sh(host.ip("link", "set", plug.devname, "nomaster"))
        if last:
            host.sh(host.ip("link", "del", plug.bridge))  # type: ignore[attr-defined]


# --- measuring ---------------------------------------------------------------------------------------------------


def interleaved(ours: Callable[[int], None], theirs: Callable[[int], None], count: int) -> tuple[float, float]:
    """Both sides' total times, one vNIC of each in turn (who goes first alternating), so that both meet the same
    number of ports on the switch: ovs-vswitchd's work for a change grows with the ports it has."""
    spent = [0.0, 0.0]
    for n in range(count):
        order = ((0, ours), (1, theirs)) if n % 2 == 0 else ((1, theirs), (0, ours))
        for side, action in order:
            began = time.perf_counter()
            action(n)
            spent[side] += time.perf_counter() - began
    return spent[0], spent[1]


def measure(host: Host, kind: str, count: int) -> dict[str, float]:
    plugin = host.plugins[kind]
    ours, theirs = vifs(count, kind), vifs(count, kind)
    host.guest_devices(ours + theirs)
    figures: dict[str, float] = {}
    figures["extnet plug"], figures["baseline plug"] = interleaved(
        lambda n: plugin.plug(ours[n], ours[n].vnic_id), lambda n: baseline_plug(host, kind, theirs[n]), count)
    figures["extnet unplug"], figures["baseline unplug"] = interleaved(
        lambda n: plugin.unplug(ours[n]), lambda n: baseline_unplug(host, kind, theirs[n], n == count - 1), count)
    for vif in ours + theirs:
        netlink.delete_link(host.ns, vif.devname)
    left = [p.name for p in host.ovs.ports()]
    assert not left, f"{kind}: ports left after unplugging: {left[:5]}"
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vnics", type=int, default=200)
    parser.add_argument("--kinds", default="ovs,ovs_hybrid,bridge", help="comma-separated (default: all three)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("plug_bench needs root (network namespaces, Open vSwitch)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="extnet-plug-bench-") as base:
        host = Host(Path(base))
        try:
            rows = [(kind, measure(host, kind, args.vnics)) for kind in args.kinds.split(",")]
        finally:
            host.close()
    print(f"\n{args.vnics} vNICs of each kind on one host (Open vSwitch, userspace datapath); ms per vNIC\n")
    print("| kind | extnet plug | baseline plug | ratio | extnet unplug | baseline unplug | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, f in rows:
        per = {name: 1000 * value / args.vnics for name, value in f.items()}
        print(f"| {kind} | {per['extnet plug']:.1f} | {per['baseline plug']:.1f} | "
              f"{f['extnet plug'] / f['baseline plug']:.2f} | {per['extnet unplug']:.1f} | "
              f"{per['baseline unplug']:.1f} | {f['extnet unplug'] / f['baseline unplug']:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
