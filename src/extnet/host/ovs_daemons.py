"""An Open vSwitch of the agent's own, under a directory of its own (no systemd here, and no OVS running): its
database server and its switch daemon, started detached with pid files, optionally in a network namespace (a
test-bed host). ``extnet up`` uses it where Debian's openvswitch-switch is installed but no OVS runs; the tests use
it for each host they make."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
DAEMONS = ("ovs-vswitchd", "ovsdb-server")


def installed() -> bool:
    return all(shutil.which(tool) for tool in ("ovsdb-server", "ovs-vswitchd", "ovsdb-tool")) and SCHEMA.exists()


class OvsDaemons:
    def __init__(self, base: Path, netns: str | None = None) -> None:
        self.base = base
        self.netns = netns
        self.run_dir = base / "run"
        self.socket = self.run_dir / "db.sock"
        self._children: list[subprocess.Popen[bytes]] = []  # the daemons started attached

    @property
    def remote(self) -> str:
        return f"unix:{self.socket}"

    def env(self) -> dict[str, str]:
        """What a tool that talks to this OVS (ovs-vsctl, ovs-appctl) needs in its environment."""
        return {"OVS_RUNDIR": str(self.run_dir), "OVS_DBDIR": str(self.base / "db"),
                "OVS_LOGDIR": str(self.base / "log")}  # fmt: skip

    def running(self) -> bool:
        return all(self._pid(name) is not None for name in DAEMONS)

    def start(self, timeout: float = 20.0, preexec: Callable[[], None] | None = None) -> None:
        """Start both daemons: detached (they outlive the caller), or, with ``preexec``, as the caller's children run
        through that function first (``extnet up`` makes them die with it)."""
        if self.running():
            return
        for sub in ("run", "db", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        database = self.base / "db" / "conf.db"
        if not database.exists():
            self._run(["ovsdb-tool", "create", str(database), str(SCHEMA)])
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        server = ["ovsdb-server", str(database), f"--remote=punix:{self.socket}", *self._daemon("ovsdb-server")]
        switch = [*prefix, "ovs-vswitchd", self.remote, *self._daemon("ovs-vswitchd")]
        if preexec is None:
            self._run([*server, "--detach"])
            self._run(["ovs-vsctl", f"--db={self.remote}", "--no-wait", "init"])
            self._run([*switch, "--detach"])
        else:
            self._spawn(server, preexec)
            self._wait(lambda: self.socket.exists(), timeout)
            self._run(["ovs-vsctl", f"--db={self.remote}", "--no-wait", "init"])
            self._spawn(switch, preexec)
        self._wait(self.running, timeout)

    def _wait(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Open vSwitch did not start under {self.base}; see {self.base / 'log'}")
            time.sleep(0.05)

    def _spawn(self, command: list[str], preexec: Callable[[], None]) -> None:
        self._children.append(subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env()}, preexec_fn=preexec,
        ))  # fmt: skip

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both daemons; the bridges go first, since the userspace datapath's devices (``ovs-netdev``, one per
        bridge) outlive ovs-vswitchd and would be in the way of the next one in this namespace."""
        if self.running():
            self._remove_bridges()
        for name in DAEMONS:
            pid = self._pid(name)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._alive(pid):
                os.kill(pid, signal.SIGKILL)

    def _alive(self, pid: int) -> bool:
        for child in self._children:
            if child.pid == pid:
                return child.poll() is None  # reaped here, not left a zombie that still "exists"
        return _alive(pid)

    def _remove_bridges(self) -> None:
        listed = subprocess.run(["ovs-vsctl", f"--db={self.remote}", "--timeout=10", "list-br"], capture_output=True,
                                text=True, timeout=30, env={**os.environ, **self.env()})  # fmt: skip
        for bridge in listed.stdout.split():
            subprocess.run(["ovs-vsctl", f"--db={self.remote}", "--timeout=10", "--if-exists", "del-br", bridge],
                           capture_output=True, timeout=30, env={**os.environ, **self.env()})  # fmt: skip
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        subprocess.run([*prefix, "ip", "link", "del", "ovs-netdev"], capture_output=True, timeout=30)

    def _daemon(self, name: str) -> list[str]:
        return [f"--pidfile={self.run_dir / name}.pid", f"--log-file={self.base / 'log' / name}.log",
                f"--unixctl={self.run_dir / name}.ctl"]  # fmt: skip

    def _pid(self, name: str) -> int | None:
        try:
            pid = int((self.run_dir / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **self.env()})
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:4])} failed: {done.stderr.strip()[-500:]}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
