"""Host agent settings: command-line flags override ``EXTNET_HOST_*`` environment variables."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from extnet.common.hostrpc import DEFAULT_PORT, OPEN_VSWITCH

RuntimeName = Literal["noop", "netns", "libvirt"]
DEFAULT_OVSDB = "unix:/run/openvswitch/db.sock"


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "extnet" / "host"


def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


class HostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXTNET_HOST_", extra="ignore")

    listen: str = f"127.0.0.1:{DEFAULT_PORT}"
    data_dir: Path = default_data_dir()
    runtime: RuntimeName = "noop"
    # the password the engine must give (as the host's root_password) to pair; generated at the first start if unset
    pairing_password: str | None = None
    hostname: str | None = None  # default: the system's host name
    heartbeat_interval: float = 10.0  # seconds between heartbeats to each provider
    # how long a plug waits for its providers to take the report of it before answering (0: does not wait)
    plug_report_wait: float = 2.0
    # what the noop runtime reports (the data-plane runtimes read them from Open vSwitch)
    bridges: str = "br-int"  # comma-separated
    bridge_mappings: str = ""  # physnet:bridge,...
    plugin_types: str = OPEN_VSWITCH  # comma-separated
    tunnel_types: str = "vxlan,geneve"
    # the integration bridge's datapath: auto is system where the kernel has Open vSwitch's datapath, else netdev
    datapath_type: Literal["auto", "system", "netdev"] = "auto"
    integration_bridge: str = "br-int"
    # the data-plane runtimes (netns, libvirt)
    ovsdb: str = DEFAULT_OVSDB  # where the host's Open vSwitch database answers, as ovs-vsctl's --db
    # builtin: this agent is the built-in provider's L2 agent (local VLANs, VXLAN between hosts); none: another agent
    # (ovn-controller, neutron-openvswitch-agent) owns the switch, and this one only plugs
    l2: Literal["builtin", "none"] = "builtin"
    ovs_hybrid_plug: bool = False  # report it to the providers: they bind ports for the hybrid plug (qbr/qvb/qvo)
    tunnel_ip: str | None = None  # this host's address for VXLAN between hosts (configurations.tunneling_ip)
    binding_host: str | None = None  # the Neutron agent's host of this host (default: the host name)
    netns: str | None = None  # the network namespace of the host's own devices (a test-bed host); None: the agent's
    vm_netns_prefix: str = "extnet"  # the netns runtime's VMs are namespaces PREFIX-<vm id>
    guest_ip: Literal["static", "dhcp"] = "static"  # how the netns and libvirt runtimes' guests get addresses
    libvirt_uri: str = "qemu:///system"  # the libvirt runtime's libvirtd
    guest_kernel: str | None = None  # what the libvirt runtime boots its guests from (VMs have no disks)
    guest_initrd: str | None = None
    guest_memory_mib: int = 256
    provider_connect_timeout: float = 10.0
    provider_read_timeout: float = 30.0
    max_body_bytes: int = 4 * 1024 * 1024
    log_level: str = "info"

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdecimal() or not 0 < int(port) < 65536:
            raise ValueError(f"'{value}' is not HOST:PORT")
        return value

    @model_validator(mode="after")
    def _mapped_bridges_exist(self) -> HostSettings:
        bridges = set(self.bridge_list)
        for physnet, bridge in self.mapping_dict.items():
            if bridge not in bridges:
                raise ValueError(f"bridge mapping {physnet}:{bridge} names bridge {bridge}, which is not one of the "
                                 f"bridges ({', '.join(sorted(bridges))}); add it to EXTNET_HOST_BRIDGES")  # fmt: skip
        return self

    @property
    def noop_datapath_type(self) -> str:
        return "system" if self.datapath_type == "auto" else self.datapath_type

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def bridge_list(self) -> list[str]:
        return split_list(self.bridges)

    @property
    def plugin_type_list(self) -> list[str]:
        return [item.lower() for item in split_list(self.plugin_types)]

    @property
    def tunnel_type_list(self) -> list[str]:
        return split_list(self.tunnel_types)

    @property
    def mapping_dict(self) -> dict[str, str]:
        pairs = [item.split(":", 1) for item in split_list(self.bridge_mappings)]
        bad = [":".join(pair) for pair in pairs if len(pair) != 2 or not pair[0].strip() or not pair[1].strip()]
        if bad:
            raise ValueError(f"bridge mappings must be PHYSNET:BRIDGE, not {', '.join(bad)}")
        return {name.strip(): bridge.strip() for name, bridge in pairs}

    @property
    def effective_hostname(self) -> str:
        return self.hostname or socket.gethostname()
