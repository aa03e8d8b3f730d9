"""Calling a provider from a request: read the provider in a short transaction, call it outside any transaction,
turn its failures into faults (with an error event where the caller names one), and record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from extnet.engine.commands.external_networks import engine_copies
from extnet.engine.errors import Conflict, Fault, NotFound
from extnet.engine.providers.client import ProviderError
from extnet.engine.providers.neutron import ProviderNetwork
from extnet.engine.providers.protocol import NetworkProvider
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Provider
from extnet.engine.store.queries import load

T = TypeVar("T")


def provider_fault(err: ProviderError) -> Fault:
    """A provider failure as a fault: 409 when the provider refused, 502-free (oVirt answers 400 for these)."""
    if err.kind in ("conflict",):
        return Conflict(err.message)
    if err.kind == "not_found":
        return NotFound(err.message)
    return Fault(err.message, reason="Operation Failed", status=400)


class ProviderCall:
    """Run a provider call outside any transaction: read the provider, call it, then record the outcome."""

    def __init__(self, database: Database, services: EngineServices, provider_id: str) -> None:
        self.database = database
        self.services = services
        self.provider_id = provider_id
        with database.transaction(write=False) as session:
            provider = load(session, Provider, provider_id, "provider")
            self.name = provider.name
            self.read_only = provider.read_only
            self.unmanaged = provider.unmanaged
            self.config = services.provider_config(provider)

    def client(self) -> NetworkProvider:
        if self.unmanaged:
            raise Conflict(f"Provider '{self.name}' is unmanaged: extnet never calls it")
        return self.services.providers.get(self.config)

    def run(self, what: Callable[[NetworkProvider], T], failure_code: Code | None = None) -> T:
        try:
            return what(self.client())
        except ProviderError as err:
            if failure_code is not None:
                self.event(failure_code, err.message, "error")
            raise provider_fault(err) from None

    def event(self, code: Code, description: str, severity: str = "normal", **ids: Any) -> None:
        with self.database.transaction() as session:
            record(session, code, description, severity, provider_id=self.provider_id, **ids)


def guarded(
    call: ProviderCall, func: Callable[[], T], failure: Code | None = None, describe: str = "", **ids: Any
) -> T:
    """Run provider calls; a failure becomes a fault (and an error event ``failure``: ``describe`` + the reason)."""
    try:
        return func()
    except ProviderError as err:
        if failure is not None:
            call.event(failure, f"{describe}{err.message}", "error", **ids)
        raise provider_fault(err) from None


def remote(
    call: ProviderCall, what: Callable[[NetworkProvider], T], failure: Code | None = None, describe: str = "",
    **ids: Any,
) -> T:  # fmt: skip
    """``guarded`` for a call on the provider's client."""
    return guarded(call, lambda: what(call.client()), failure, describe, **ids)


def missing_network(call: ProviderCall, network_id: str) -> NotFound:
    return NotFound(f"Entity not found: network '{network_id}' on provider '{call.name}'")


def fetch_network(call: ProviderCall, network_id: str, what: str | None = None) -> ProviderNetwork:
    """One network of the provider, live (from the engine's copies for an unmanaged provider)."""
    if call.unmanaged:
        with call.database.transaction(write=False) as session:
            found = [n for n in engine_copies(session, call.provider_id) if n.id == network_id]
        if not found:
            raise missing_network(call, network_id)
        return found[0]
    try:
        return call.client().get_network(network_id, what)
    except ProviderError as err:  # other failures are the caller's to report
        if err.kind == "not_found":
            raise missing_network(call, network_id) from None
        raise
