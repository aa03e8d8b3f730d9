"""``extnet up`` as a subprocess for tests: on free ports, its output in a file, stopped as Ctrl-C stops it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import free_port

EXTNET = [sys.executable, "-m", "extnet"]
DEADLINE_S = 60.0


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTNET_")}
    return {**env, **extra}


def up_env(**extra: str) -> dict[str, str]:
    """``extnet up`` also starts the built-in provider and a host agent: free ports for them, so that runs never
    collide; and the noop runtime, unless the test asks for another (as root, ``up`` would choose netns and plug
    into this machine's own namespace, where parallel runs would share one br-int)."""
    extra.setdefault("EXTNET_HOST_RUNTIME", "noop")
    return clean_env(EXTNET_PROVIDER_LISTEN=f"127.0.0.1:{free_port()}",
                     EXTNET_PROVIDER_KEYSTONE_LISTEN=f"127.0.0.1:{free_port()}",
                     EXTNET_HOST_LISTEN=f"127.0.0.1:{free_port()}", **extra)  # fmt: skip


class Up:
    """``extnet up`` running as a subprocess, its output collected in a file."""

    def __init__(self, data_dir: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.output_path = data_dir.parent / f"up-{self.port}.log"
        with self.output_path.open("wb") as out:
            self.process = subprocess.Popen([*EXTNET, "up", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
                                             str(data_dir), *args], stdout=out, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output())
            if match:
                return match
            assert self.process.poll() is None, f"extnet up exited with {self.process.returncode}:\n{self.output()}"
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the output of extnet up within {DEADLINE_S}s:\n{self.output()}")

    def answers(self) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base + "/ovirt-engine/api", timeout=2)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.output()
                time.sleep(0.1)
        raise AssertionError(f"extnet up did not answer within {DEADLINE_S}s:\n{self.output()}")

    def interrupt(self) -> int:
        """Ctrl-C as a terminal sends it: to the whole process group (extnet up and the provider it started)."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=DEADLINE_S)


@contextmanager
def running_up(data_dir: Path, env: dict[str, str], *args: str) -> Iterator[Up]:
    """``extnet up --listen <free port> --data-dir DATA_DIR ARGS``, killed with what it started afterwards."""
    up = Up(data_dir, env, *args)
    try:
        yield up
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group (e.g. after a failure)
            os.killpg(up.process.pid, signal.SIGKILL)
        up.process.wait()
