"""``extnet host setup``: the seed's "agent installation on host", today's way. ``ovn`` points the host's Open vSwitch
at an OVN central (what ovn-controller reads: ``ovn-remote``, encapsulation, ``system-id``, the integration bridge
and its datapath) and checks that ovn-controller registered the chassis; ``neutron-ovs-agent`` writes a real
Neutron Open vSwitch agent's configuration and makes its bridges. Both are idempotent and say what they changed."""

from __future__ import annotations

import configparser
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from extnet.common.ovn_sb import Southbound
from extnet.host.privileged.ovsdb import Ovs
from extnet.host.runtime.plumbing import kernel_has_ovs_datapath

INTEGRATION_BRIDGE = "br-int"


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problem: str | None = None

    def lines(self) -> list[str]:
        made = [f"changed: {item}" for item in self.changed] or ["nothing to change"]
        return [*made, *([f"error: {self.problem}"] if self.problem else [])]


def datapath(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    return "system" if kernel_has_ovs_datapath() else "netdev"


def setup_ovn(ovs: Ovs, central: str, encap_ip: str, system_id: str | None = None, hostname: str | None = None,
              encap_type: str = "geneve", bridge: str = INTEGRATION_BRIDGE, datapath_type: str = "auto",
              wait_s: float = 30.0) -> Outcome:  # fmt: skip
    """Configure OVS for OVN and wait until the central's Southbound database lists this chassis."""
    outcome = Outcome()
    current = ovs.external_ids()
    chassis = system_id or current.get("system-id") or socket.gethostname()
    dp_type = datapath(datapath_type)
    wanted = {"system-id": chassis, "hostname": hostname or current.get("hostname") or socket.gethostname(),
              "ovn-remote": central, "ovn-encap-type": encap_type, "ovn-encap-ip": encap_ip,
              "ovn-bridge": bridge, "ovn-bridge-datapath-type": dp_type}  # fmt: skip
    changes = {key: value for key, value in wanted.items() if current.get(key) != value}
    if changes:
        ovs.set_external_ids({**current, **changes})
        outcome.changed += [f"Open_vSwitch external_ids:{key}={value}" for key, value in changes.items()]
    if bridge not in ovs.bridges():
        ovs.ensure_bridge(bridge, dp_type)
        outcome.changed.append(f"bridge {bridge} (datapath {dp_type})")
    if not registered(central, chassis, wait_s):
        outcome.problem = (
            f"chassis {chassis} did not appear in the OVN Southbound database at {central} within "
            f"{wait_s:.0f} s; is ovn-controller running on this host (and can it reach {central})?"
        )
    return outcome


def registered(central: str, chassis: str, wait_s: float) -> bool:
    southbound = Southbound(central)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if any(found.name == chassis for found in southbound.chassis()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
    finally:
        southbound.close()


def setup_neutron_ovs_agent(ovs: Ovs, config_dir: Path, transport_url: str, bridge_mappings: str,
                            local_ip: str | None = None, datapath_type: str = "auto") -> Outcome:  # fmt: skip
    """``neutron.conf`` and ``plugins/ml2/openvswitch_agent.ini`` for a real neutron-openvswitch-agent, and its
    bridges (the integration bridge and one per mapping)."""
    outcome = Outcome()
    dp_type = datapath(datapath_type)
    mappings = dict(_pair(item) for item in bridge_mappings.split(",") if item.strip())
    settings = {
        config_dir / "neutron.conf": {"DEFAULT": {"transport_url": transport_url, "core_plugin": "ml2"},
                                      "agent": {"root_helper": "sudo", "report_interval": "30"}},
        config_dir / "plugins" / "ml2" / "openvswitch_agent.ini": {
            "ovs": {"integration_bridge": INTEGRATION_BRIDGE, "bridge_mappings": bridge_mappings,
                    "datapath_type": dp_type, **({"local_ip": local_ip} if local_ip else {})},
            "agent": {"tunnel_types": "vxlan" if local_ip else ""},
            "securitygroup": {"firewall_driver": "openvswitch"},
        },
    }  # fmt: skip
    for path, sections in settings.items():
        _write_ini(path, sections, outcome)
    bridges = set(ovs.bridges())
    for bridge in [INTEGRATION_BRIDGE, *mappings.values()]:
        if bridge not in bridges:
            ovs.ensure_bridge(bridge, dp_type)
            outcome.changed.append(f"bridge {bridge} (datapath {dp_type})")
    return outcome


def _pair(item: str) -> tuple[str, str]:
    physnet, sep, bridge = item.strip().partition(":")
    if not sep or not physnet or not bridge:
        raise ValueError(f"bridge mapping '{item}' is not PHYSNET:BRIDGE")
    return physnet, bridge


def _write_ini(path: Path, sections: dict[str, dict[str, str]], outcome: Outcome) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    if path.exists():
        parser.read(path)
    for section, values in sections.items():
        if section != "DEFAULT" and not parser.has_section(section):
            parser.add_section(section)
        for key, value in values.items():
            if parser.get(section, key, fallback=None) != value:
                parser.set(section, key, value)
                outcome.changed.append(f"{path} [{section}] {key}")
    if any(str(path) in item for item in outcome.changed):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            parser.write(out)
        path.chmod(0o640)  # the transport URL may carry the message queue's password
