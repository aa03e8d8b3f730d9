"""DHCP clients for the ``netns`` runtime's guests (``--guest-ip dhcp``): busybox's ``udhcpc`` in the guest's
namespace, in the background as a guest's own client would run, applying the lease it gets (address, default
route, MTU) with a script of the agent's. The answer comes from whatever DHCP server the network has (OVN's, a Neutron
DHCP agent's); none answering leaves the guest without an address, as it would a real guest."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from extnet.host.files import write_private
from extnet.host.runtime.base import RuntimeFailure

SCRIPT = """#!/bin/sh
# udhcpc's lease script (extnet): apply the lease to $interface
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$mtu" ]; then ip link set "$interface" mtu "$mtu"; fi
    for gateway in $router; do ip route replace default via "$gateway" dev "$interface"; break; done ;;
esac
"""
TRIES, TIMEOUT_S = 30, 1  # discover for about half a minute, then give up as a guest's client would (and retry)


class DhcpClients:
    def __init__(self, data_dir: Path) -> None:
        self.script = data_dir / "udhcpc.script"
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], subprocess.Popen[bytes]] = {}

    def ask(self, ns: str, device: str) -> None:
        """Start the client of ``device`` in ``ns`` (once; again if the last one ended)."""
        busybox = shutil.which("busybox")
        if busybox is None:
            raise RuntimeFailure("--guest-ip dhcp needs busybox's udhcpc (Debian: apt-get install -y busybox)")
        if not self.script.exists() or self.script.read_text() != SCRIPT:
            write_private(self.script, SCRIPT)
            self.script.chmod(0o700)
        with self._lock:
            running = self._running.get((ns, device))
            if running is not None and running.poll() is None:
                return
            self._running[(ns, device)] = subprocess.Popen(
                ["ip", "netns", "exec", ns, busybox, "udhcpc", "-f", "-q", "-O", "mtu", "-i", device, "-t",
                 str(TRIES), "-T", str(TIMEOUT_S), "-s", str(self.script)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def forget(self, ns: str) -> None:
        with self._lock:
            for key in [k for k in self._running if k[0] == ns]:
                self._stop(self._running.pop(key))

    def close(self) -> None:
        with self._lock:
            for process in self._running.values():
                self._stop(process)
            self._running.clear()

    @staticmethod
    def _stop(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.kill()
        process.wait()
