"""Many simulated hosts in one process: the real host agent, N times.

Each simulated host is the real ``extnet host`` application (``build_host_agent``: its own data dir, ``host-id``,
TLS key and certificate, pairing password, noop runtime and HeartbeatService), served by a uvicorn server of its own
on a free port of 127.0.0.1. All the servers share one asyncio loop in a background thread, so the engine pairs
with each and calls it as a real host, and each heartbeats to the providers the engine hands it as a real agent does.

``seed`` is the benchmark's only hook, and it lives here, not in ``src``: it puts ports made straight on the provider
into a host's noop runtime as the VMs ``VM.create`` would leave (``runtime.create_vm``), and has the host's own
HeartbeatService report them once (``changed``, as a plug does). From then on the agent's own beats report them with
every other plugged port, whatever the agent's report looks like.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn

from extnet.common.vif import Vif, VifProvider
from extnet.engine.providers.neutron import ProviderPort, port_from
from extnet.host.app import GRACEFUL_SHUTDOWN, HostAgentServer, build_host_agent
from extnet.host.runtime.base import VmSpec
from extnet.host.settings import HostSettings

PAIRING_PASSWORD = "extnet-bench-pairing"
THREADS = 200  # the verbs of every host run in the loop's worker threads: enough that no host waits for another's


@dataclass
class SimulatedHost:
    index: int
    server: HostAgentServer
    sock: socket.socket

    @property
    def name(self) -> str:
        return f"sim-{self.index:03d}"

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def binding(self) -> str:
        """The host's binding host id for Open vSwitch (noop: its unique id): the ``host`` of its heartbeats."""
        return str(self.server.agent.runtime.facts().binding_host_ids["open_vswitch"])

    def host_fields(self) -> dict[str, Any]:
        return {"address": "127.0.0.1", "port": self.port, "root_password": PAIRING_PASSWORD}

    def ports(self) -> int:
        return sum(len(vm.vnics) for vm in self.server.agent.runtime.list_vms())


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _host(base: Path, index: int, heartbeat_interval: float) -> SimulatedHost:
    sock = _listening_socket()
    settings = HostSettings(listen=f"127.0.0.1:{sock.getsockname()[1]}", data_dir=base / f"host-{index:03d}",
                            runtime="noop", pairing_password=PAIRING_PASSWORD, hostname=f"sim-{index:03d}",
                            heartbeat_interval=heartbeat_interval, log_level="warning")  # fmt: skip
    return SimulatedHost(index, build_host_agent(settings), sock)


class Fleet:
    """``count`` simulated hosts under ``base``, served from a thread of this process until ``stop``."""

    def __init__(self, base: Path, count: int, heartbeat_interval: float) -> None:
        self.hosts = [_host(base, index, heartbeat_interval) for index in range(count)]
        self._servers: list[uvicorn.Server] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fleet", daemon=True)
        self._served: Future[None] | None = None

    def start(self) -> None:
        for host in self.hosts:
            certificate = host.server.certificate
            config = uvicorn.Config(host.server.app, log_config=None, log_level="warning", access_log=False,
                                    lifespan="on", proxy_headers=False, server_header=False, date_header=False,
                                    ssl_certfile=str(certificate.cert_path), ssl_keyfile=str(certificate.key_path),
                                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)  # fmt: skip
            self._servers.append(uvicorn.Server(config))
        self._thread.start()
        self._served = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        for server in self._servers:
            _wait(lambda s=server: s.started or self._served is None or self._served.done(),  # type: ignore[misc]
                  "a simulated host to serve")  # fmt: skip
        if self._served.done():
            self._served.result()  # raises what stopped the servers

    async def _serve(self) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        await asyncio.gather(*(server.serve(sockets=[host.sock]) for server, host in zip(self._servers, self.hosts,
                                                                                         strict=True)))  # fmt: skip

    def stop(self) -> None:
        # the engine's kept-alive connections to the hosts never close: each server's graceful wait runs out, quietly
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        for server in self._servers:
            server.should_exit = True
        if self._served is not None:
            try:
                self._served.result(timeout=GRACEFUL_SHUTDOWN + 30)
            except Exception as err:  # noqa: BLE001 - stopping: say it, do not hide the run's own outcome
                logging.getLogger("bench.fleet").warning("the simulated hosts stopped with %r", err)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        for host in self.hosts:
            host.sock.close()

    def ports(self) -> int:
        return sum(host.ports() for host in self.hosts)


@dataclass(frozen=True)
class SeededVm:
    """A "VM" made straight on the provider: its ports (the provider's JSON) and the network names they are on."""

    id: str
    name: str
    ports: tuple[dict[str, Any], ...]
    network_names: tuple[str, ...]


def seed(host: SimulatedHost, vms: Iterable[SeededVm], provider_id: str, wait: float) -> dict[str, str]:
    """Put ``vms`` into the host's noop runtime as plugged VMs (what ``VM.create`` leaves there) and have the host's
    HeartbeatService report their ports at once; the statuses the provider answered (``wait``: how long to wait)."""
    runtime = host.server.agent.runtime
    provider = VifProvider(provider_id, "external")
    plugged: set[str] = set()
    for vm in vms:
        # a seeded vNIC has no engine id: its port's id stands in
        vifs = tuple(Vif.from_port(_parsed(port), vnic_id=port["id"], vnic_name=f"nic{index}", network_name=network,
                                   provider=provider, plugin_type="open_vswitch")
                     for index, (port, network) in enumerate(zip(vm.ports, vm.network_names, strict=True)))  # fmt: skip
        runtime.create_vm(VmSpec(vm.id, vm.name, vifs))
        plugged |= {port["id"] for port in vm.ports}
    return host.server.agent.heartbeat.changed({provider_id: plugged}, {}, wait=wait)


def _parsed(raw: dict[str, Any]) -> ProviderPort:
    """A seeded port as the engine reads the provider's answer."""
    port = port_from(raw)
    if port is None:
        raise ValueError(f"not a port: {raw!r}")
    return port


def _wait(check: Callable[[], bool], what: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {deadline_s} s")
        time.sleep(0.02)
