"""``GET /v3/role_assignments`` as Keystone 30 answers it: its query schema and filter rules (same checks, same
order, same messages), its expansion of implied roles with ``effective``, and its documents.

extnet grants roles to users on projects only: no groups, domain or system grants, no inheritance, and projects
have no children, so filters on those match nothing and ``include_subtree`` lists the project alone."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select

from extnet.provider.identity.errors import DEFAULT_DOMAIN, IdentityError
from extnet.provider.store import tables as t

# Keystone's implied roles, one step at a time (its default chain also has `manager` between admin and member)
IMPLIES = {"admin": ("member",), "member": ("reader",)}

_ID_PARAMS = ("group.id", "role.id", "scope.domain.id", "scope.project.id")  # in the order Keystone checks them
_ID_PATTERN = "^[a-zA-Z0-9-]+$"


@dataclass(frozen=True)
class AssignmentQuery:
    """The query string of a role-assignment listing (Keystone reads the first value of a repeated parameter)."""

    params: dict[str, str]
    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, pairs: list[tuple[str, str]]) -> AssignmentQuery:
        first: dict[str, str] = {}
        for key, value in pairs:
            first.setdefault(key, value)
        query = cls(first, tuple(pairs))
        query._validate_schema()
        return query

    def flag(self, name: str) -> bool:
        """Keystone's key-only flags: present and not ``0``."""
        return name in self.params and self.params[name] != "0"

    def value(self, name: str) -> str | None:
        return self.params.get(name) or None

    @property
    def effective(self) -> bool:
        return self.flag("effective")

    @property
    def include_names(self) -> bool:
        return self.flag("include_names")

    @property
    def include_subtree(self) -> bool:
        return self.flag("include_subtree")

    @property
    def inherited(self) -> bool | None:
        key = "scope.OS-INHERIT:inherited_to"
        return self.params[key] == "projects" if key in self.params else None

    def _validate_schema(self) -> None:
        """Keystone's request schema, checked before its policy."""
        for key in _ID_PARAMS:
            if key in self.params:
                _check_id(key, self.params[key])
        if "include_subtree" in self.params and "scope.project.id" not in self.params:
            raise IdentityError(400, "'scope.project.id' is a dependency of 'include_subtree'")
        if "user.id" in self.params and "group.id" in self.params:
            raise IdentityError(400, f"{self._werkzeug_repr()} is valid under each of {{'required': ['group.id']}}, "
                                "{'required': ['user.id']}")  # fmt: skip
        if "effective" in self.params and "group" in self.params:
            raise IdentityError(400, f"{self._werkzeug_repr()} should not be valid under "
                                "{'required': ['effective', 'group']}")  # fmt: skip

    def _werkzeug_repr(self) -> str:
        """How Keystone prints the query in a schema error: werkzeug's MultiDict repr (values grouped by key)."""
        grouped = [(key, value) for key in self.params for k, value in self.pairs if k == key]
        return f"ImmutableMultiDict({grouped!r})"

    def check_combinations(self) -> None:
        """Keystone's checks of filters that cannot go together, made after its policy."""
        domain, project, system = (self.value(k) for k in ("scope.domain.id", "scope.project.id", "scope.system"))
        if domain and project:
            raise IdentityError(400, "Specify a domain or project, not both")
        if domain and system:
            raise IdentityError(400, "Specify system or domain, not both")
        if project and system:
            raise IdentityError(400, "Specify system or project, not both")
        if self.effective and self.value("group.id"):
            raise IdentityError(400, "Combining effective and group filter will always result in an empty list.")
        if self.effective and self.inherited and domain:
            raise IdentityError(
                400, "Combining effective, domain and inherited filters will always result in an empty list."
            )

    def matches_nothing(self) -> bool:
        """Filters only group, domain, system or inherited grants could match (extnet has none)."""
        if self.value("scope.domain.id") or self.inherited:
            return True
        return not self.effective and (bool(self.value("group.id")) or self.value("scope.system") == "all")


def _check_id(key: str, value: str) -> None:
    if not value:
        problem = "'' should be non-empty"
    elif len(value) > 64:
        problem = f"{value!r} is too long"
    elif not re.search(_ID_PATTERN, value):
        problem = f"{value!r} does not match {_ID_PATTERN!r}"
    else:
        return
    raise IdentityError(400, f"Invalid input for field/attribute {key}. Value: {value}. {problem}")


@dataclass(frozen=True)
class Ref:
    """One assignment; ``prior`` is the role that implied this one (``effective`` only)."""

    user_id: str
    project_id: str
    role_id: str
    prior: str | None = None


def list_assignments(conn: Connection, query: AssignmentQuery, base_url: str) -> list[dict[str, Any]]:
    """The ``role_assignments`` of a listing; ``base_url`` ends in ``/v3``."""
    if query.matches_nothing():
        return []
    roles = {row.id: row.name for row in conn.execute(select(t.roles.c.id, t.roles.c.name))}
    refs = _direct(conn, query)
    if query.effective:
        by_name = {name: rid for rid, name in roles.items()}
        implies = {by_name[p]: [by_name[i] for i in imp if i in by_name] for p, imp in IMPLIES.items() if p in by_name}
        refs = _with_implied(refs, implies)
    role_id = query.value("role.id")
    if role_id:
        refs = [ref for ref in refs if ref.role_id == role_id]
    names = _names(conn, refs) if query.include_names else None
    return [_document(ref, base_url, roles, names) for ref in refs]


def _direct(conn: Connection, query: AssignmentQuery) -> list[Ref]:
    ra = t.role_assignments.c
    stmt = select(ra.user_id, ra.project_id, ra.role_id).order_by(ra.user_id, ra.project_id, ra.role_id)
    filters = {ra.user_id: query.value("user.id"), ra.project_id: query.value("scope.project.id")}
    if not query.effective:  # with effective, Keystone filters on the role after expanding
        filters[ra.role_id] = query.value("role.id")
    for column, wanted in filters.items():
        if wanted:
            stmt = stmt.where(column == wanted)
    return [Ref(row.user_id, row.project_id, row.role_id) for row in conn.execute(stmt)]


def _with_implied(refs: list[Ref], implies: dict[str, list[str]]) -> list[Ref]:
    """Keystone's ``add_implied_roles``: each ref, then (depth first, last ref first) one per implied role; a
    ref already expanded (the same role reached the same way) is not listed again."""
    results = list(refs)
    pending = list(refs)
    checked: set[Ref] = set()
    while pending:
        ref = pending.pop()
        checked.add(ref)
        for implied in implies.get(ref.role_id, ()):
            new = replace(ref, role_id=implied, prior=ref.role_id)
            if new not in checked:
                results.append(new)
                pending.append(new)
    return results


@dataclass(frozen=True)
class _Names:
    users: dict[str, tuple[str, str]]  # id -> (name, domain id)
    projects: dict[str, tuple[str, str]]


def _names(conn: Connection, refs: list[Ref]) -> _Names:
    user_ids = {ref.user_id for ref in refs}
    project_ids = {ref.project_id for ref in refs}
    users = conn.execute(select(t.users.c.id, t.users.c.name, t.users.c.domain_id).where(t.users.c.id.in_(user_ids)))
    projects = conn.execute(
        select(t.projects.c.id, t.projects.c.name, t.projects.c.domain_id).where(t.projects.c.id.in_(project_ids))
    )
    return _Names({r.id: (r.name, r.domain_id) for r in users}, {r.id: (r.name, r.domain_id) for r in projects})


def _named(ident: str, found: tuple[str, str] | None) -> dict[str, Any]:
    if found is None:
        return {"id": ident}
    name, domain = found
    return {"id": ident, "name": name, "domain": {"id": domain, "name": _domain_name(domain)}}


def _domain_name(domain: str) -> str:
    return str(DEFAULT_DOMAIN["name"]) if domain == DEFAULT_DOMAIN["id"] else domain


def _document(ref: Ref, base_url: str, roles: dict[str, str], names: _Names | None) -> dict[str, Any]:
    links = {"assignment": f"{base_url}/projects/{ref.project_id}/users/{ref.user_id}/roles/{ref.prior or ref.role_id}"}
    if ref.prior:
        # Keystone's own order: the implied role first, then the role that implied it
        links["prior_role"] = f"{base_url}/prior_role/{ref.role_id}/implies/{ref.prior}"
    role: dict[str, Any] = {"id": ref.role_id}
    user: dict[str, Any] = {"id": ref.user_id}
    project: dict[str, Any] = {"id": ref.project_id}
    if names is not None:
        role["name"] = roles.get(ref.role_id)
        user = _named(ref.user_id, names.users.get(ref.user_id))
        project = _named(ref.project_id, names.projects.get(ref.project_id))
    return {"links": links, "scope": {"project": project}, "user": user, "role": role}
