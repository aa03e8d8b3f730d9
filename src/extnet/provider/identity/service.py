"""Identity: users, projects, roles and tokens (a Keystone subset), kept in the provider's database."""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from extnet.common.host_accounts import HOST_AGENT
from extnet.common.security import generate_password, hash_password, new_token, token_digest
from extnet.common.throttle import LoginThrottle, LoginThrottled, verify_or_decoy
from extnet.provider.identity.errors import IdentityError, domain_id, unauthorized
from extnet.provider.identity.registry import Registry, project_doc
from extnet.provider.store import tables as t

log = logging.getLogger("extnet.provider.identity")

ROLES = ("admin", "member", "reader", HOST_AGENT)  # host_agent: a host agent's own account (common/host_accounts.py)
ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, the project the token is scoped to, and the roles there."""

    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    roles: tuple[tuple[str, str], ...]  # (id, name)
    issued_at: datetime
    expires_at: datetime
    audit_id: str
    methods: tuple[str, ...] = ("password",)

    @property
    def is_admin(self) -> bool:
        return any(name == "admin" for _, name in self.roles)

    @property
    def read_only(self) -> bool:
        names = {name for _, name in self.roles}
        return not names & {"admin", "member"}


@dataclass(frozen=True)
class Bootstrap:
    """What the first start of the identity service did: made the admin (with a generated password, or none)."""

    created: bool
    generated_password: str | None = field(default=None, repr=False)


class Identity(Registry):
    """Password checks, token issue/validation (cached in memory), and the users/projects/roles registry."""

    def __init__(self, engine: Engine, token_ttl: timedelta, read_engine: Engine | None = None,
                 login_cooldown: float = 60.0) -> None:  # fmt: skip
        self.engine = engine
        self.reads = read_engine or engine  # SQLite: reads must not take the write lock
        self.token_ttl = token_ttl
        self.throttle = LoginThrottle(cooldown=login_cooldown)
        self._tokens: dict[str, Principal] = {}
        self._lock = threading.Lock()

    # --- bootstrap ---------------------------------------------------------------------------------------------

    def bootstrap(self, admin_password: str | None) -> Bootstrap:
        """Roles, project ``admin`` and user ``admin`` (role admin there), on first start: whether the admin was made
        now, and the password generated for it if none was given."""
        with self.engine.begin() as conn:
            present = set(conn.execute(select(t.roles.c.name)).scalars())
            for name in ROLES:
                if name not in present:
                    conn.execute(insert(t.roles).values(id=uuid.uuid4().hex, name=name))
            project_id = conn.execute(select(t.projects.c.id).where(t.projects.c.name == ADMIN)).scalar()
            if project_id is None:
                project_id = uuid.uuid4().hex
                conn.execute(
                    insert(t.projects).values(
                        id=project_id, name=ADMIN, domain_id="default", description="Bootstrap project", enabled=True
                    )
                )
            if conn.execute(select(t.users.c.id).where(t.users.c.name == ADMIN)).first() is not None:
                return Bootstrap(created=False)
            generated = None if admin_password else generate_password()
            user_id = uuid.uuid4().hex
            conn.execute(
                insert(t.users).values(
                    id=user_id,
                    name=ADMIN,
                    domain_id="default",
                    enabled=True,
                    password_hash=hash_password(admin_password or generated or ""),
                    default_project_id=project_id,
                    description="",
                )
            )
            role_id = conn.execute(select(t.roles.c.id).where(t.roles.c.name == "admin")).scalar_one()
            conn.execute(insert(t.role_assignments).values(user_id=user_id, project_id=project_id, role_id=role_id))
            return Bootstrap(created=True, generated_password=generated)

    def service_principal(self) -> Principal:
        """The caller when authentication is off: admin in project admin."""
        now = datetime.now(UTC)
        with self.reads.connect() as conn:
            row = conn.execute(select(t.users.c.id).where(t.users.c.name == ADMIN)).first()
            user_id = row[0] if row else "admin"
            project_id = conn.execute(select(t.projects.c.id).where(t.projects.c.name == ADMIN)).scalar_one()
            roles = self._roles(conn, user_id, project_id)
        return Principal(
            user_id,
            ADMIN,
            project_id,
            ADMIN,
            roles or (("admin", "admin"),),
            now,
            now + timedelta(days=36500),
            "noauth",
        )

    # --- tokens ------------------------------------------------------------------------------------------------

    def authenticate(
        self, user: dict[str, Any], password: str, scope: dict[str, Any] | None, methods: Sequence[str] = ("password",),
        address: str = "unknown",
    ) -> tuple[str, Principal]:
        """``user``: {"id"} or {"name", "domain": {"id"|"name"}}; ``scope``: {"id"} or {"name", "domain"} of a
        project, or None for an unscoped token. Raises IdentityError 401 on any mismatch, 429 while ``address``
        waits out a cool-down for this user after too many wrong passwords."""
        who = str(user.get("id") or user.get("name") or "")
        try:
            self.throttle.check(who, address)
        except LoginThrottled as err:
            raise IdentityError(429, str(err)) from None
        with self.reads.connect() as conn:
            row = self._find_user(conn, user)
        if not verify_or_decoy(password, row.password_hash if row is not None else None) or not row.enabled:
            lockout = self.throttle.failed(who, address)
            if lockout is not None:
                log.warning("%s", lockout.describe())
            raise unauthorized()
        self.throttle.succeeded(who, address)
        return self._issue(row.id, row.name, scope, tuple(methods))

    def rescope(self, token: str, scope: dict[str, Any] | None) -> tuple[str, Principal]:
        """A new token for the user of ``token`` (the ``token`` method), scoped to ``scope``."""
        principal = self.validate(token)
        return self._issue(principal.user_id, principal.user_name, scope, ("token",))

    def _issue(
        self, user_id: str, user_name: str, scope: dict[str, Any] | None, methods: tuple[str, ...]
    ) -> tuple[str, Principal]:
        project_id = project_name = None
        roles: tuple[tuple[str, str], ...] = ()
        if scope is not None:
            with self.reads.connect() as conn:
                project = self._find_project(conn, scope)
                if project is None or not project.enabled:
                    raise unauthorized()
                roles = self._roles(conn, user_id, project.id)
            if not roles:
                raise unauthorized(f"User {user_id} has no access to project {project.id}")
            project_id, project_name = project.id, project.name
        now = datetime.now(UTC).replace(microsecond=0)
        principal = Principal(
            user_id,
            user_name,
            project_id,
            project_name,
            roles,
            now,
            now + self.token_ttl,
            secrets.token_urlsafe(16)[:22],
            methods,
        )
        token = new_token()
        with self.engine.begin() as write:
            write.execute(
                insert(t.tokens).values(
                    token_hash=token_digest(token),
                    user_id=user_id,
                    project_id=project_id,
                    methods=",".join(methods),
                    audit_id=principal.audit_id,
                    issued_at=principal.issued_at,
                    expires_at=principal.expires_at,
                )
            )
            write.execute(delete(t.tokens).where(t.tokens.c.expires_at < now))
        with self._lock:
            self._tokens[token_digest(token)] = principal
        return token, principal

    def cached(self, token: str) -> Principal | None:
        """The token's principal if it is in memory (no database access), else None."""
        principal = self._tokens.get(token_digest(token))
        if principal is not None and principal.expires_at <= datetime.now(UTC):
            raise unauthorized("The token has expired.")
        return principal

    def validate(self, token: str) -> Principal:
        digest = token_digest(token)
        with self._lock:
            principal = self._tokens.get(digest)
        if principal is None:
            principal = self._load(digest)
        if principal.expires_at <= datetime.now(UTC):
            with self._lock:
                self._tokens.pop(digest, None)
            raise unauthorized("The token has expired.")
        return principal

    def _load(self, digest: str) -> Principal:
        with self.reads.connect() as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.token_hash == digest)).first()
            if row is None:
                raise unauthorized()
            user = conn.execute(select(t.users).where(t.users.c.id == row.user_id)).first()
            if user is None or not user.enabled:
                raise unauthorized()
            project_name = None
            roles: tuple[tuple[str, str], ...] = ()
            if row.project_id:
                project_name = conn.execute(select(t.projects.c.name).where(t.projects.c.id == row.project_id)).scalar()
                roles = self._roles(conn, row.user_id, row.project_id)
        principal = Principal(
            row.user_id,
            user.name,
            row.project_id,
            project_name,
            roles,
            _aware(row.issued_at),
            _aware(row.expires_at),
            row.audit_id,
            tuple(row.methods.split(",")),
        )
        with self._lock:
            self._tokens[digest] = principal
        return principal

    def revoke(self, token: str) -> None:
        digest = token_digest(token)
        self.validate(token)
        with self._lock:
            self._tokens.pop(digest, None)
        with self.engine.begin() as conn:
            conn.execute(delete(t.tokens).where(t.tokens.c.token_hash == digest))

    def _forget_project(self, project_id: str) -> None:
        with self._lock:
            for digest in [d for d, p in self._tokens.items() if p.project_id == project_id]:
                del self._tokens[digest]

    def _forget_user(self, user_id: str) -> None:
        with self._lock:
            for digest in [d for d, p in self._tokens.items() if p.user_id == user_id]:
                del self._tokens[digest]

    # --- lookups -----------------------------------------------------------------------------------------------

    def _find_user(self, conn: Any, ref: dict[str, Any]) -> Any:
        if not isinstance(ref, dict):
            raise IdentityError(400, "Expecting to find user in request.")
        if ref.get("id"):
            return conn.execute(select(t.users).where(t.users.c.id == str(ref["id"]))).first()
        domain = domain_id(ref.get("domain"))
        return conn.execute(
            select(t.users).where(t.users.c.name == str(ref.get("name")), t.users.c.domain_id == domain)
        ).first()

    def _find_project(self, conn: Any, ref: dict[str, Any]) -> Any:
        if not isinstance(ref, dict):
            raise IdentityError(400, "Expecting to find project in request.")
        if ref.get("id"):
            return conn.execute(select(t.projects).where(t.projects.c.id == str(ref["id"]))).first()
        domain = domain_id(ref.get("domain"))
        return conn.execute(
            select(t.projects).where(t.projects.c.name == str(ref.get("name")), t.projects.c.domain_id == domain)
        ).first()

    def _roles(self, conn: Any, user_id: str, project_id: str) -> tuple[tuple[str, str], ...]:
        rows = conn.execute(
            select(t.roles.c.id, t.roles.c.name)
            .join(t.role_assignments, t.role_assignments.c.role_id == t.roles.c.id)
            .where(t.role_assignments.c.user_id == user_id, t.role_assignments.c.project_id == project_id)
            .order_by(t.roles.c.name)
        )
        names = {name: rid for rid, name in rows}
        # Keystone's implied roles: admin implies member implies reader
        implied = {"admin": ("member", "reader"), "member": ("reader",)}
        all_roles = dict(names)
        if any(n in names for n in implied):
            role_ids = dict(conn.execute(select(t.roles.c.name, t.roles.c.id)).tuples().all())
            for name in list(names):
                for extra in implied.get(name, ()):
                    if extra in role_ids:
                        all_roles.setdefault(extra, role_ids[extra])
        return tuple(sorted(((rid, name) for name, rid in all_roles.items()), key=lambda r: r[1]))

    def projects_of(self, user_id: str) -> list[dict[str, Any]]:
        with self.reads.connect() as conn:
            rows = conn.execute(
                select(t.projects)
                .where(
                    t.projects.c.id.in_(
                        select(t.role_assignments.c.project_id).where(t.role_assignments.c.user_id == user_id)
                    )
                )
                .order_by(t.projects.c.name)
            )
            return [project_doc(row) for row in rows]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
