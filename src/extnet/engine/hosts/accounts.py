"""Each host's own account on each provider, handed to its agent instead of the provider's credentials.

What an agent needs from a provider is its heartbeats and a few reads (segments, subnets, tunnel peers), so it gets
an account that can do that and nothing else: a Keystone user ``extnet-host-<host id>-<provider id>`` with the
``host_agent`` role, made by the engine with the provider's credentials the first time the host is handed that
provider, its password random and kept encrypted in the engine's database. A provider whose Keystone has no
``host_agent`` role (a foreign OpenStack) gets the provider's credentials, as oVirt's host deploy hands them to its
Neutron agents. A provider that cannot make the account now is left out of what the agent gets this time (the host
monitor tries again next round); the provider's password is never the fallback for a provider that offers the role.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from extnet.common.security import generate_password
from extnet.engine.providers.accounts import KeystoneAccounts
from extnet.engine.providers.client import ProviderError
from extnet.engine.store.db import Database
from extnet.engine.store.models import HostProviderAccount, Provider

if TYPE_CHECKING:
    from extnet.engine.services import EngineServices

log = logging.getLogger("extnet.engine.hosts")
RECHECK_FOREIGN = 600.0  # seconds before asking a Keystone without the role again
RETRY_FAILED = 60.0  # seconds before trying again to make an account that could not be made


@dataclass(frozen=True)
class Handout:
    """What an agent gets of its providers, and the accounts made for it meanwhile (not stored yet)."""

    payload: list[dict[str, Any]]
    made: list[HostProviderAccount]
    # heartbeat states (as the agent reports them) of the providers left out because no account could be made
    failing: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Foreign:
    fingerprint: str
    until: float


class HostAccounts:
    def __init__(self, database: Database, services: EngineServices) -> None:
        self.database = database
        self.services = services
        self._foreign: dict[str, _Foreign] = {}
        # (host, provider) -> (retry at, why, the provider's settings then): an edited provider is tried at once
        self._failed: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._lock = threading.Lock()

    def payload_for(self, host_id: str, providers: list[dict[str, Any]]) -> Handout:
        """``providers`` (what every agent would get) with the host's own account in place of the provider's
        credentials wherever the provider offers host accounts; the accounts made for it now are in ``made``, for
        the caller to store (``store``, or with the host it adds)."""
        if not any(p.get("requires_authentication") for p in providers):
            return Handout(providers, [])
        with self.database.transaction(write=False) as session:
            stored = session.scalars(select(HostProviderAccount).where(HostProviderAccount.host_id == host_id))
            accounts = {a.provider_id: (a.username, self.services.secrets.decrypt(a.password_encrypted))
                        for a in stored}  # fmt: skip
        handout = Handout([], [])
        for entry in providers:
            account = accounts.get(entry["id"]) if entry.get("requires_authentication") else None
            if entry.get("requires_authentication") and account is None:
                made = self._make(host_id, entry["id"])
                if isinstance(made, str):  # no account now: left out until the next round makes one
                    handout.failing.append({"provider_id": entry["id"], "name": entry["name"], "state": "failing",
                                            "detail": f"the engine cannot make the host's account there: {made}"})
                    continue
                if made is not None:
                    handout.made.append(made[0])
                    account = made[1]
            handout.payload.append(entry if account is None else {
                **entry, "username": account[0], "password": account[1], "user_domain_name": "Default"})  # fmt: skip
        return handout

    def store(self, made: list[HostProviderAccount]) -> None:
        if made:
            with self.database.transaction() as session:
                for account in made:
                    session.merge(account)

    def forget(self, accounts: list[tuple[str, str, str]]) -> None:
        """Remove a removed host's ``accounts`` (``accounts_of``) from its providers, in the background; a provider
        that cannot be reached keeps an account that can send heartbeats only."""
        if accounts:
            threading.Thread(target=self._delete, args=(accounts,), name="extnet-host-accounts", daemon=True).start()

    # --- making and removing accounts ---------------------------------------------------------------------------

    def _make(self, host_id: str, provider_id: str) -> tuple[HostProviderAccount, tuple[str, str]] | str | None:
        """The account made (not stored yet), None when the provider offers none, or why it could not be made."""
        with self.database.transaction(write=False) as session:
            provider = session.get(Provider, provider_id)
            config = self.services.provider_config(provider) if provider is not None else None
        if config is None or self._is_foreign(provider_id, config.fingerprint()):
            return None
        with self._lock:
            failed = self._failed.get((host_id, provider_id))
        if failed is not None and failed[0] > time.monotonic() and failed[2] == config.fingerprint():
            return failed[1]
        keystone = KeystoneAccounts(self.services.providers.get(config))
        # per provider too: two registrations of one Keystone (another plugin type) must not share an account
        username, password = f"extnet-host-{host_id}-{provider_id}", generate_password()
        try:
            role_id = keystone.supported()
            if role_id is None:
                self._mark_foreign(provider_id, config.fingerprint())
                return None
            made = keystone.create(role_id, username, password, f"the host agent of extnet host {host_id}")
        except ProviderError as err:
            log.warning("cannot make host %s its account on provider %s: %s", host_id, config.name, err)
            with self._lock:
                self._failed[(host_id, provider_id)] = (time.monotonic() + RETRY_FAILED, str(err), config.fingerprint())
            return str(err)
        with self._lock:
            self._failed.pop((host_id, provider_id), None)
        row = HostProviderAccount(host_id=host_id, provider_id=provider_id, user_id=made.user_id,
                                  username=made.username, password_encrypted=self.services.secrets.encrypt(password))
        return row, (made.username, password)

    def _delete(self, rows: list[tuple[str, str, str]]) -> None:
        for provider_id, user_id, username in rows:
            with self.database.transaction(write=False) as session:
                provider = session.get(Provider, provider_id)
                config = self.services.provider_config(provider) if provider is not None else None
            if config is None:
                continue
            try:
                KeystoneAccounts(self.services.providers.get(config)).delete(user_id)
            except ProviderError as err:
                log.warning("cannot remove account %s from provider %s: %s", username, config.name, err)

    def _is_foreign(self, provider_id: str, fingerprint: str | None = None) -> bool:
        with self._lock:
            known = self._foreign.get(provider_id)
        if known is None or known.until < time.monotonic():
            return False
        return fingerprint is None or known.fingerprint == fingerprint

    def _mark_foreign(self, provider_id: str, fingerprint: str) -> None:
        with self._lock:
            self._foreign[provider_id] = _Foreign(fingerprint, time.monotonic() + RECHECK_FOREIGN)


def accounts_of(session: Session, host_id: str) -> list[tuple[str, str, str]]:
    """(provider id, user id, user name) of the host's accounts."""
    stmt = select(HostProviderAccount).where(HostProviderAccount.host_id == host_id)
    return [(a.provider_id, a.user_id, a.username) for a in session.scalars(stmt)]
