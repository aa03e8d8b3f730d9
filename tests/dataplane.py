"""The data-plane test bed: hosts as network namespaces, each with an Open vSwitch of its own, and packets between
the VMs of the ``netns`` runtime (ping, TCP). Needs root, iproute2, ethtool and Debian's openvswitch-switch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from extnet.host import ovs_daemons
from extnet.host.ovs_daemons import OvsDaemons
from extnet.host.privileged import netlink


def missing() -> str | None:
    """Why the data-plane tests cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "the data-plane tests need root (network namespaces, veths, Open vSwitch)"
    for tool, package in (("ip", "iproute2"), ("ethtool", "ethtool"), ("ping", "iputils-ping")):
        if shutil.which(tool) is None:
            return f"the data-plane tests need '{tool}' (Debian: apt-get install -y {package})"
    if not ovs_daemons.installed():
        return "the data-plane tests need Open vSwitch (Debian: apt-get install -y openvswitch-switch)"
    return None


needs_dataplane = pytest.mark.skipif(missing() is not None, reason=missing() or "")


@dataclass
class Bed:
    """A test-bed host: its network namespace, its Open vSwitch, the prefix of its VMs' namespaces."""

    ns: str
    ovs: OvsDaemons
    vm_prefix: str

    def agent_env(self, **extra: str) -> dict[str, str]:
        # several test-bed hosts share this machine's host name: each has a binding host id of its own
        return {"EXTNET_HOST_NETNS": self.ns, "EXTNET_HOST_OVSDB": self.ovs.remote,
                "EXTNET_HOST_VM_NETNS_PREFIX": self.vm_prefix, "EXTNET_HOST_BINDING_HOST": f"bed-{self.ns}",
                **extra}  # fmt: skip

    def vm_ns(self, vm_id: str) -> str:
        return f"{self.vm_prefix}-{vm_id}"

    def vsctl(self, *args: str) -> str:
        done = subprocess.run(["ovs-vsctl", f"--db={self.ovs.remote}", *args], capture_output=True, text=True,
                              check=True, env={**os.environ, **self.ovs.env()})  # fmt: skip
        return done.stdout.strip()

    def ovs_ports(self) -> list[str]:
        return [p for br in self.vsctl("list-br").split() for p in self.vsctl("list-ports", br).split()]

    def links(self) -> list[str]:
        return [link["name"] for link in netlink.links(self.ns)]


@contextmanager
def bed(base: Path) -> Iterator[Bed]:
    tag = uuid.uuid4().hex[:6]
    ns = f"xh{tag}"
    netlink.ensure_namespace(ns)
    daemons = OvsDaemons(base / "ovs", ns)
    try:
        daemons.start()
        yield Bed(ns, daemons, f"xv{tag}")
    finally:
        daemons.stop()
        for name in netlink.namespaces():
            if name.startswith(f"xv{tag}-"):
                netlink.remove_namespace(name)
        netlink.remove_namespace(ns)


def in_ns(ns: str, *command: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *command], capture_output=True, text=True, timeout=timeout)


def pings(ns: str, address: str, count: int = 1, wait: float = 1.0) -> bool:
    return in_ns(ns, "ping", "-c", str(count), "-W", str(wait), address).returncode == 0


_SERVER = ("import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
           "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(); print('listening', flush=True); c, _ = s.accept(); "
           "c.sendall(c.recv(64)[::-1]); c.close()")  # fmt: skip
_CLIENT = ("import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); "
           "s.sendall(b'extnet'); print(s.recv(64).decode())")  # fmt: skip


def tcp_works(client_ns: str, server_ns: str, address: str, port: int = 5001) -> bool:
    """A TCP connection from one VM to another, answered (the reversed greeting comes back)."""
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, sys.executable, "-c", _SERVER, str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        done = in_ns(client_ns, sys.executable, "-c", _CLIENT, address, str(port))
        return done.returncode == 0 and done.stdout.strip() == "tentxe"
    finally:
        server.kill()
        server.wait()


def join(first: Bed, second: Bed, subnet: str = "192.168.240") -> tuple[str, str]:
    """An underlay between two test-bed hosts (a veth, one end in each namespace); their addresses on it."""
    left, right = f"ul{first.ns[2:]}", f"ul{second.ns[2:]}"
    commands = [["ip", "link", "add", left, "type", "veth", "peer", "name", right],
                ["ip", "link", "set", left, "netns", first.ns], ["ip", "link", "set", right, "netns", second.ns],
                ["ip", "-n", first.ns, "addr", "add", f"{subnet}.1/24", "dev", left],
                ["ip", "-n", second.ns, "addr", "add", f"{subnet}.2/24", "dev", right],
                ["ip", "-n", first.ns, "link", "set", left, "up"], ["ip", "-n", second.ns, "link", "set", right, "up"]]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)
    return f"{subnet}.1", f"{subnet}.2"
