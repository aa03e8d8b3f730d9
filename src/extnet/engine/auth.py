"""Users, SSO tokens and HTTP Basic credentials of the engine; wrong passwords are throttled per user and client
address (common/throttle.py), and each lockout is an event."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from extnet.common.security import generate_password, hash_password, new_token, token_digest
from extnet.common.throttle import LoginThrottle, LoginThrottled, verify_or_decoy
from extnet.engine.store.db import Database
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import SsoToken, User

ADMIN = "admin@internal"
_USER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}@internal$")


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    read_only: bool


class AuthError(Exception):
    pass


class Throttled(AuthError):
    def __init__(self, err: LoginThrottled) -> None:
        super().__init__(str(err))
        self.retry_after = err.retry_after


class Authenticator:
    """Checks passwords and tokens; caches what it checked so the hot path stays off scrypt and the DB."""

    def __init__(self, db: Database, token_ttl: timedelta, throttle: LoginThrottle | None = None) -> None:
        self.db = db
        self.token_ttl = token_ttl
        self.throttle = throttle or LoginThrottle()
        self._tokens: dict[str, tuple[Principal, datetime]] = {}
        self._basic: dict[str, tuple[Principal, datetime]] = {}
        self._lock = threading.Lock()

    def login(self, username: str, password: str, address: str) -> tuple[str, datetime]:
        principal = self._check_password(username, password, address)
        token = new_token()
        expires = datetime.now(UTC) + self.token_ttl
        with self.db.transaction() as session:
            session.add(SsoToken(token_hash=token_digest(token), user_id=principal.user_id, expires_at=expires))
            session.execute(delete(SsoToken).where(SsoToken.expires_at < datetime.now(UTC)))
        with self._lock:
            self._tokens[token_digest(token)] = (principal, expires)
        return token, expires

    def logout(self, token: str) -> None:
        digest = token_digest(token)
        with self._lock:
            self._tokens.pop(digest, None)
        with self.db.transaction() as session:
            session.execute(delete(SsoToken).where(SsoToken.token_hash == digest))

    def by_token(self, token: str) -> Principal:
        digest = token_digest(token)
        now = datetime.now(UTC)
        with self._lock:
            cached = self._tokens.get(digest)
        if cached is None:
            cached = self._load_token(digest)
        principal, expires = cached
        if expires <= now:
            with self._lock:
                self._tokens.pop(digest, None)
            raise AuthError("The access token has expired; log in again")
        return principal

    def _load_token(self, digest: str) -> tuple[Principal, datetime]:
        with self.db.transaction(write=False) as session:
            row = session.execute(
                select(SsoToken, User).join(User, User.id == SsoToken.user_id).where(SsoToken.token_hash == digest)
            ).first()
            if row is None:
                raise AuthError("The access token is not valid")
            token, user = row
            expires = _aware(token.expires_at)
            cached = (Principal(user.id, user.name, user.read_only), expires)
        with self._lock:
            self._tokens[digest] = cached
        return cached

    def by_basic(self, username: str, password: str, address: str) -> Principal:
        key = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
        now = datetime.now(UTC)
        self._check_throttle(_qualified(username), address)
        with self._lock:
            cached = self._basic.get(key)
        if cached and cached[1] > now:
            return cached[0]
        principal = self._check_password(username, password, address)
        with self._lock:
            self._basic[key] = (principal, now + timedelta(seconds=60))
        return principal

    def _check_password(self, username: str, password: str, address: str) -> Principal:
        name = _qualified(username)
        self._check_throttle(name, address)
        with self.db.transaction(write=False) as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            principal = Principal(user.id, user.name, user.read_only) if user else None
            stored = user.password_hash if user else None
        if not verify_or_decoy(password, stored) or principal is None:
            lockout = self.throttle.failed(name, address)
            if lockout is not None:
                with self.db.transaction() as session:
                    record(session, Code.LOGIN_THROTTLED, lockout.describe(), "warning")
            raise AuthError("Cannot authenticate user: wrong user name or password")
        self.throttle.succeeded(name, address)
        return principal

    def _check_throttle(self, name: str, address: str) -> None:
        try:
            self.throttle.check(name, address)
        except LoginThrottled as err:
            raise Throttled(err) from None


def ensure_admin(db: Database, password: str | None) -> str | None:
    """Create admin@internal on first start. Returns the generated password, if one was generated."""
    with db.transaction() as session:
        if session.scalars(select(User).where(User.name == ADMIN)).first() is not None:
            return None
        generated = None if password else generate_password()
        session.add(User(name=ADMIN, password_hash=hash_password(password or generated or ""), read_only=False))
        return generated


def add_user(db: Database, name: str, password: str, read_only: bool) -> None:
    if not _USER_NAME.match(name):
        raise ValueError(f"User name '{name}' must look like NAME@internal (letters, digits, '.', '_', '-')")
    with db.transaction() as session:
        if session.scalars(select(User).where(User.name == name)).first() is not None:
            raise ValueError(f"User '{name}' already exists")
        session.add(User(name=name, password_hash=hash_password(password), read_only=read_only))


def _qualified(username: str) -> str:
    return username if "@" in username else f"{username}@internal"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
