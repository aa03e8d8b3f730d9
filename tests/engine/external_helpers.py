"""Helpers of the external-network tests: networks made on the provider's side with openstacksdk, and shortcuts to
the engine's provider networks through ovirtsdk4."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import ovirtsdk4 as sdk
import ovirtsdk4.types as t
import pytest
from openstack.connection import Connection

System = sdk.services.SystemService


def fault(call: Callable[[], object]) -> sdk.Error:
    with pytest.raises(sdk.Error) as err:
        call()
    return err.value


def provider_networks(system: System, provider_id: str) -> sdk.services.OpenstackNetworksService:
    return system.openstack_network_providers_service().provider_service(provider_id).networks_service()


def subnets_of(system: System, provider_id: str, network_id: str) -> sdk.services.OpenstackSubnetsService:
    return provider_networks(system, provider_id).network_service(network_id).subnets_service()


def find_network(system: System, name: str, dc_name: str) -> t.Network | None:
    found = system.networks_service().list(search=f'name="{name}" and datacenter="{dc_name}"')
    assert len(found) <= 1
    return found[0] if found else None


def import_network(system: System, provider_id: str, network: Any, dc: t.DataCenter) -> t.Network:
    """Import a provider network (an openstacksdk one) through the SDK (data center by id); the engine's copy."""
    provider_networks(system, provider_id).network_service(network.id).import_(data_center=t.DataCenter(id=dc.id))
    found = find_network(system, network.name, dc.name)
    assert found is not None
    return found


def events_of(system: System, provider_id: str) -> list[t.Event]:
    return list(system.events_service().list(search=f"provider={provider_id}"))


@contextmanager
def provider_side(neutron: Connection) -> Iterator[Callable[..., Any]]:
    """Creates networks on the provider with openstacksdk; removes those still there afterwards."""
    made: list[str] = []

    def make(name: str, **fields: Any) -> Any:
        network = neutron.network.create_network(name=name, **fields)
        made.append(network.id)
        return network

    yield make
    for network_id in made:
        with contextlib.suppress(Exception):
            neutron.network.delete_network(network_id, ignore_missing=True)


class _Misbehaving(BaseHTTPRequestHandler):
    """Answers every request as the server's ``mode`` says: ``slow`` (after the server's delay) or ``error`` (500)."""

    server: _MisbehavingServer

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        if self.server.mode == "slow":
            self.server.stopping.wait(self.server.delay)
        body = json.dumps({"NeutronError": {"type": "HTTPInternalServerError", "message": "boom", "detail": ""}})
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the engine may have hung up already
            self.wfile.write(body.encode())

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _MisbehavingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Misbehaving)
        self.mode = mode
        self.delay = delay
        self.stopping = threading.Event()
        self.requests = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.requests += 1
        super().process_request(request, client_address)


@contextmanager
def misbehaving_provider(mode: str, delay: float = 5.0) -> Iterator[_MisbehavingServer]:
    """A local HTTP server standing in for a provider that is ``slow`` (answers after ``delay`` seconds) or
    answers every request with a 500 (``error``)."""
    server = _MisbehavingServer(mode, delay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"
