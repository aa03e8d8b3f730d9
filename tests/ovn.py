"""OVN for the tests: the central part (Northbound and Southbound ovsdb-servers, ovn-northd) under a temporary
directory, on free TCP ports of 127.0.0.1, and an ovn-controller per test-bed host; everything made is torn down.
Needs Debian's ovn-central and ovn-host (and root, for the hosts)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from extnet.host.ovs_daemons import OvsDaemons
from tests.servers import free_port

SCHEMAS = Path("/usr/share/ovn")


def missing() -> str | None:
    for tool in ("ovn-northd", "ovn-controller", "ovsdb-server", "ovn-nbctl"):
        if shutil.which(tool) is None:
            return f"the OVN tests need '{tool}' (Debian: apt-get install -y ovn-central ovn-host)"
    if not (SCHEMAS / "ovn-nb.ovsschema").exists():
        return "the OVN tests need Debian's ovn-common (/usr/share/ovn/ovn-nb.ovsschema)"
    return None


needs_ovn = pytest.mark.skipif(missing() is not None, reason=missing() or "")


@dataclass
class OvnCentral:
    base: Path
    nb_port: int = field(default_factory=free_port)
    sb_port: int = field(default_factory=free_port)
    pids: list[Path] = field(default_factory=list)

    @property
    def nb(self) -> str:
        return f"tcp:127.0.0.1:{self.nb_port}"

    @property
    def sb(self) -> str:
        return f"tcp:127.0.0.1:{self.sb_port}"

    def env(self) -> dict[str, str]:
        run = str(self.base / "run")
        return {"OVS_RUNDIR": run, "OVN_RUNDIR": run, "OVS_LOGDIR": str(self.base / "log"),
                "OVN_LOGDIR": str(self.base / "log")}  # fmt: skip

    def start(self) -> None:
        for sub in ("run", "db", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        run, db, logs = self.base / "run", self.base / "db", self.base / "log"
        for name, port in (("nb", self.nb_port), ("sb", self.sb_port)):
            database = db / f"ovn{name}_db.db"
            if not database.exists():
                self._run(["ovsdb-tool", "create", str(database), str(SCHEMAS / f"ovn-{name}.ovsschema")])
            self._daemon(f"ovn{name}_db", ["ovsdb-server", str(database), f"--remote=punix:{run}/ovn{name}_db.sock",
                                           f"--remote=ptcp:{port}:127.0.0.1", f"--unixctl={run}/ovn{name}_db.ctl",
                                           "-vconsole:off", f"--log-file={logs}/ovsdb-server-{name}.log"])  # fmt: skip
        self._run(["ovn-nbctl", f"--db=unix:{run}/ovnnb_db.sock", "--no-wait", "init"])
        self._run(["ovn-sbctl", f"--db=unix:{run}/ovnsb_db.sock", "init"])
        self._daemon("ovn-northd", ["ovn-northd", f"--ovnnb-db=unix:{run}/ovnnb_db.sock",
                                    f"--ovnsb-db=unix:{run}/ovnsb_db.sock", f"--unixctl={run}/ovn-northd.ctl",
                                    "-vconsole:off", f"--log-file={logs}/ovn-northd.log"])  # fmt: skip

    def nbctl(self, *args: str) -> str:
        return self._run(["ovn-nbctl", f"--db=unix:{self.base / 'run'}/ovnnb_db.sock", "--timeout=20", *args])

    def sbctl(self, *args: str) -> str:
        return self._run(["ovn-sbctl", f"--db=unix:{self.base / 'run'}/ovnsb_db.sock", "--timeout=20", *args])

    def controller(self, ovs_run_dir: Path, name: str) -> Path:
        """An ovn-controller for the Open vSwitch whose run directory is ``ovs_run_dir`` (it finds the switch's
        database and OpenFlow sockets there); its pid file."""
        pid = ovs_run_dir / "ovn-controller.pid"
        env = {"OVS_RUNDIR": str(ovs_run_dir), "OVN_RUNDIR": str(ovs_run_dir)}
        self._daemon("ovn-controller-" + name, ["ovn-controller", f"unix:{ovs_run_dir}/db.sock", f"--pidfile={pid}",
                                                "-vconsole:off",
                                                f"--log-file={self.base / 'log'}/ovn-controller-{name}.log"],
                     env=env, pid=pid)  # fmt: skip
        return pid

    def _daemon(
        self, name: str, command: list[str], env: dict[str, str] | None = None, pid: Path | None = None
    ) -> None:
        pid = pid or self.base / "run" / f"{name}.pid"
        if "--pidfile" not in " ".join(command):
            command = [*command, f"--pidfile={pid}"]
        self._run([*command, "--detach"], env)
        self.pids.append(pid)

    def _run(self, command: list[str], env: dict[str, str] | None = None) -> str:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **self.env(), **(env or {})})  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:3])} failed: {done.stderr.strip()[-800:]}")
        return done.stdout.strip()

    def stop_daemon(self, pid_file: Path) -> None:
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.05)
        if _running(pid):
            os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        for pid in reversed(self.pids):
            self.stop_daemon(pid)


def _running(pid: int) -> bool:
    """Alive and not a zombie (detached daemons are reaped late by this machine's init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@contextmanager
def ovn_central(base: Path) -> Iterator[OvnCentral]:
    central = OvnCentral(base)
    try:
        central.start()
        yield central
    finally:
        central.stop()


@contextmanager
def chassis_on(central: OvnCentral, ovs: OvsDaemons, name: str, encap_ip: str = "127.0.0.1",
               bridge: str = "br-int") -> Iterator[str]:  # fmt: skip
    """An OVN chassis on the Open vSwitch ``ovs``: its ovn-controller, the switch set up by ``extnet host setup
    ovn``; what setup printed. Gone afterwards from the Southbound database too (SIGTERM leaves a chassis, and its
    encapsulation address, registered)."""
    pid = central.controller(ovs.run_dir, name)
    try:
        setup = subprocess.run(
            [sys.executable, "-m", "extnet", "host", "setup", "ovn", "--central", central.sb, "--encap-ip",
             encap_ip, "--system-id", name, "--hostname", name, "--ovsdb", ovs.remote, "--bridge", bridge],
            capture_output=True, text=True, timeout=120, env={**os.environ, **ovs.env()},
        )  # fmt: skip
        assert setup.returncode == 0, setup.stdout + setup.stderr
        yield setup.stdout
    finally:
        central.stop_daemon(pid)
        central.sbctl("--if-exists", "chassis-del", name)
