"""Providers: adding, changing and removing one (its hosts' agents are told once that commits), testing the
connection, synchronizing its networks now, and reading the certificate chain its endpoints present (before it is
trusted)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from extnet.engine.commands.base import run
from extnet.engine.commands.providers import AddProvider, ProviderInput, RemoveProvider, UpdateProvider
from extnet.engine.errors import Conflict
from extnet.engine.operations.pairing import after_commit
from extnet.engine.operations.provider_calls import ProviderCall, provider_fault
from extnet.engine.operations.sync import synchronize
from extnet.engine.providers.certificates import Certificate, endpoints, fetch_chain
from extnet.engine.providers.client import ProviderError
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code
from extnet.engine.store.models import Provider
from extnet.engine.store.queries import load


def add_provider(session: Session, services: EngineServices, given: ProviderInput) -> Provider:
    provider: Provider = run(AddProvider(session, services.secrets, given))
    after_commit(session, services.hosts_changed)  # host agents heartbeat to every provider
    return provider


def update_provider(session: Session, services: EngineServices, provider: Provider, given: ProviderInput) -> Provider:
    updated: Provider = run(UpdateProvider(session, services.secrets, provider, given))
    after_commit(session, services.hosts_changed)
    return updated


def remove_provider(session: Session, services: EngineServices, provider: Provider, force: bool) -> None:
    run(RemoveProvider(session, provider, force=force))
    services.providers.forget(provider.id)
    after_commit(session, services.hosts_changed)


def test_connectivity(database: Database, services: EngineServices, provider_id: str) -> None:
    call = ProviderCall(database, services, provider_id)
    call.run(lambda client: client.test(), Code.PROVIDER_CONNECTIVITY_FAILED)


def sync_now(database: Database, services: EngineServices, provider_id: str) -> None:
    """Synchronize the provider's networks now (whether or not it has auto_sync); returns when done."""
    with database.transaction(write=False) as session:
        load(session, Provider, provider_id, "provider")
    try:
        synchronize(database, services, provider_id, on_demand=True)
    except ProviderError as err:
        raise provider_fault(err) from None


def presented_chain(database: Database, services: EngineServices, provider_id: str) -> list[tuple[Certificate, bool]]:
    """The certificates the provider's endpoints (its url, and its authentication_url if elsewhere) present now,
    each with whether the provider is verified with it."""
    call = ProviderCall(database, services, provider_id)
    if call.unmanaged:
        raise Conflict(f"Provider '{call.name}' is unmanaged: extnet never calls it")
    config = call.config
    trusted = {Certificate.from_pem(pem).fingerprint for pem in config.certificates}
    auth_url = config.authentication_url if config.requires_authentication else None
    chain: dict[str, Certificate] = {}
    for host, port in endpoints(config.url, auth_url):
        try:
            found = fetch_chain(host, port, config.name, config.connect_timeout, config.read_timeout)
        except ProviderError as err:
            raise provider_fault(err) from None
        chain.update((cert.fingerprint, cert) for cert in found if cert.fingerprint not in chain)
    return [(cert, cert.fingerprint in trusted) for cert in chain.values()]
