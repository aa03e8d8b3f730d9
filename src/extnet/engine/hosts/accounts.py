"""Each host's own account on each provider, handed to its agent instead of the provider's credentials.

What an agent needs from a provider is its heartbeats and a few reads (segments, subnets, tunnel peers), so it gets
an account that can do that and nothing else: a Keystone user ``extnet-host-<provider id>@<agent host>`` (the host
of its heartbeats: the one agent it may report, common/host_accounts.py) with the ``host_agent`` role, made by the
engine with the provider's credentials the first time the host is handed that provider (and again when its agent
host changes), its password random and kept encrypted in the engine's database. A provider whose Keystone has no
``host_agent`` role, or does not let the provider's credentials list roles (a foreign OpenStack), gets the
provider's credentials, as oVirt's host deploy hands them to its Neutron agents. A provider that cannot make the
account now is named in the host's status and left out of what the agent gets (tried again after a minute, doubling
up to 16; at once when the provider is edited): the provider's password is never the fallback for a provider that
offers the role.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.common.host_accounts import account_name
from extnet.common.security import generate_password
from extnet.engine.providers.accounts import KeystoneAccounts
from extnet.engine.providers.client import ProviderClients, ProviderConfig, ProviderError
from extnet.engine.secrets import SecretBox
from extnet.engine.store.db import Database
from extnet.engine.store.models import HostProviderAccount, Provider

log = logging.getLogger("extnet.engine.hosts")
RECHECK_FOREIGN = 600.0  # seconds before asking a Keystone without the role again
RETRY_FAILED = 60.0  # seconds before trying again to make accounts on a provider that failed, doubling each time
MAX_RETRY_FAILED = 960.0


@dataclass(frozen=True)
class Handout:
    """What an agent gets of its providers, and the accounts made for it meanwhile (not stored yet)."""

    payload: list[dict[str, Any]]
    made: list[HostProviderAccount]
    # heartbeat states (as the agent reports them) of the providers left out because no account could be made
    failing: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Stored:
    username: str
    user_id: str
    password_encrypted: str


@dataclass(frozen=True)
class _Foreign:
    fingerprint: str
    until: float


class AccountServices(Protocol):
    """What making accounts needs of the engine's services (``EngineServices`` has it)."""

    secrets: SecretBox
    providers: ProviderClients

    def provider_config(self, provider: Provider) -> ProviderConfig: ...


class HostAccounts:
    def __init__(self, database: Database, services: AccountServices) -> None:
        self.database = database
        self.services = services
        self._foreign: dict[str, _Foreign] = {}
        # per provider (not per host: wrong credentials tried for every host would lock the engine out of the
        # provider's Keystone): (retry at, why, its settings then, failures so far); an edited one is tried at once
        self._failed: dict[str, tuple[float, str, str, int]] = {}
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def payload_for(self, host_id: str, agent_host: str, providers: list[dict[str, Any]],
                    new_host: bool = False) -> Handout:  # fmt: skip
        """``providers`` (what every agent would get) with the host's own account in place of the provider's
        credentials wherever the provider offers host accounts; ``agent_host`` is the host its agent's heartbeats
        carry (the one its accounts may report). Accounts made for an existing host are stored at once; for a
        ``new_host`` they are in ``made``, for the caller to store with the host it adds."""
        if not any(p.get("requires_authentication") for p in providers):
            return Handout(providers, [])
        handout = Handout([], [])
        for entry in providers:
            needs = entry.get("requires_authentication")
            account = self._account(host_id, agent_host, entry, not new_host) if needs else None
            if isinstance(account, str):  # no account now: left out until the next round makes one
                handout.failing.append({"provider_id": entry["id"], "name": entry["name"], "state": "failing",
                                        "detail": f"the engine cannot make the host's account there: {account}"})
                continue
            if isinstance(account, HostProviderAccount) and new_host:
                handout.made.append(account)
            if account is None:
                handout.payload.append(entry)
                continue
            password = self.services.secrets.decrypt(account.password_encrypted)
            handout.payload.append({**entry, "username": account.username, "password": password,
                                    "user_domain_name": "Default"})  # fmt: skip
        return handout

    def _account(self, host_id: str, agent_host: str, entry: dict[str, Any],
                 store: bool) -> _Stored | HostProviderAccount | str | None:  # fmt: skip
        """The host's stored account on the provider of ``entry`` (one for another agent host is made anew), a new
        one (stored when ``store``), None where the provider offers none, or why none could be made now. One at a
        time per host and provider: a pairing and a monitor round must not make two."""
        wanted = account_name(entry["id"], agent_host)
        with self._making(host_id, entry["id"]):
            with self.database.transaction(write=False) as session:
                stored = session.get(HostProviderAccount, (host_id, entry["id"]))
                found = _Stored(stored.username, stored.user_id, stored.password_encrypted) if stored else None
            if found is not None and found.username == wanted:
                return found
            made = self._make(host_id, entry["id"], wanted)
            if isinstance(made, HostProviderAccount):
                if store:
                    self.store([made])
                if found is not None:  # the account of the agent host before
                    self.forget([(entry["id"], found.user_id, found.username)])
            return made

    def store(self, made: list[HostProviderAccount]) -> None:
        """Keep accounts made for a host; those of a host removed meanwhile are removed again."""
        if not made:
            return
        try:
            with self.database.transaction() as session:
                for account in made:
                    session.merge(account)
        except IntegrityError:  # the host is gone
            self.forget([(a.provider_id, a.user_id, a.username) for a in made])

    def forget(self, accounts: list[tuple[str, str, str]]) -> None:
        """Remove a removed host's ``accounts`` (``accounts_of``) from its providers, in the background; a provider
        that cannot be reached keeps an account that can send heartbeats only."""
        if accounts:
            threading.Thread(target=self._delete, args=(accounts,), name="extnet-host-accounts", daemon=True).start()

    # --- making and removing accounts ---------------------------------------------------------------------------

    def _make(self, host_id: str, provider_id: str, username: str) -> HostProviderAccount | str | None:
        """The account made (not stored yet), None when the provider offers none, or why it could not be made."""
        with self.database.transaction(write=False) as session:
            provider = session.get(Provider, provider_id)
            config = self.services.provider_config(provider) if provider is not None else None
        if config is None or self._is_foreign(provider_id, config.fingerprint()):
            return None
        with self._lock:
            failed = self._failed.get(provider_id)
        if failed is not None and failed[0] > time.monotonic() and failed[2] == config.fingerprint():
            return failed[1]
        keystone = KeystoneAccounts(self.services.providers.get(config))
        password = generate_password()
        try:
            role_id = keystone.supported()
            if role_id is None:
                self._mark_foreign(provider_id, config.fingerprint())
                return None
            made = keystone.create(role_id, username, password, f"the host agent of extnet host {host_id}")
        except ProviderError as err:
            log.warning("cannot make host %s its account on provider %s: %s", host_id, config.name, err)
            with self._lock:
                before = self._failed.get(provider_id)
                count = before[3] + 1 if before is not None and before[2] == config.fingerprint() else 1
                wait = min(RETRY_FAILED * 2 ** (count - 1), MAX_RETRY_FAILED)
                self._failed[provider_id] = (time.monotonic() + wait, str(err), config.fingerprint(), count)
            return str(err)
        with self._lock:
            self._failed.pop(provider_id, None)
        return HostProviderAccount(host_id=host_id, provider_id=provider_id, user_id=made.user_id,
                                   username=made.username, password_encrypted=self.services.secrets.encrypt(password))

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

    def _making(self, host_id: str, provider_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault((host_id, provider_id), threading.Lock())

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
