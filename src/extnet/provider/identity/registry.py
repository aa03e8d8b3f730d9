"""The identity registry (Keystone's admin API): projects, users, roles and their assignments."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from extnet.common.security import hash_password
from extnet.provider.identity.assignments import AssignmentQuery, list_assignments
from extnet.provider.identity.errors import IdentityError, domain_id, not_found
from extnet.provider.store import tables as t


class Registry:
    """Projects, users, roles and role assignments, for an admin (mixed into ``Identity``)."""

    engine: Engine
    reads: Engine

    def _forget_user(self, user_id: str) -> None:
        """Drop what is cached of the user's tokens (``Identity`` does)."""

    def _forget_project(self, project_id: str) -> None:
        """Drop what is cached of the tokens scoped to the project (``Identity`` does)."""


    def list_projects(self, name: str | None = None) -> list[dict[str, Any]]:
        stmt = select(t.projects).order_by(t.projects.c.name)
        if name is not None:
            stmt = stmt.where(t.projects.c.name == name)
        with self.reads.connect() as conn:
            return [project_doc(row) for row in conn.execute(stmt)]

    def get_project(self, project_id: str) -> dict[str, Any]:
        with self.reads.connect() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.id == project_id)).first()
        if row is None:
            raise not_found("project", project_id)
        return project_doc(row)

    def create_project(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _required_name(body, "project")
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "name": name,
            "domain_id": domain_id({"id": body.get("domain_id")}),
            "description": str(body.get("description") or ""),
            "enabled": bool(body.get("enabled", True)),
        }
        self._insert(t.projects, values, f"Conflict occurred attempting to store project - Duplicate entry {name}.")
        return self.get_project(values["id"])

    def update_project(self, project_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.get_project(project_id)
        values = {k: body[k] for k in ("name", "description", "enabled") if k in body}
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(t.projects).where(t.projects.c.id == project_id).values(values))
        return self.get_project(project_id)

    def delete_project(self, project_id: str) -> None:
        self.get_project(project_id)
        with self.engine.begin() as conn:
            conn.execute(delete(t.projects).where(t.projects.c.id == project_id))
        self._forget_project(project_id)

    def list_users(self, name: str | None = None) -> list[dict[str, Any]]:
        stmt = select(t.users).order_by(t.users.c.name)
        if name is not None:
            stmt = stmt.where(t.users.c.name == name)
        with self.reads.connect() as conn:
            return [user_doc(row) for row in conn.execute(stmt)]

    def get_user(self, user_id: str) -> dict[str, Any]:
        with self.reads.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
        if row is None:
            raise not_found("user", user_id)
        return user_doc(row)

    def create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _required_name(body, "user")
        password = body.get("password")
        if not isinstance(password, str) or not password:
            raise IdentityError(400, "Invalid input for field 'password': a non-empty string is required.")
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "name": name,
            "domain_id": domain_id({"id": body.get("domain_id")}),
            "password_hash": hash_password(password),
            "enabled": bool(body.get("enabled", True)),
            "default_project_id": body.get("default_project_id"),
            "description": str(body.get("description") or ""),
        }
        self._insert(
            t.users, values, f"Conflict occurred attempting to store user - Duplicate entry found with name {name}."
        )
        return self.get_user(values["id"])

    def update_user(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.get_user(user_id)
        values: dict[str, Any] = {
            k: body[k] for k in ("name", "description", "enabled", "default_project_id") if k in body
        }
        if "password" in body:
            values["password_hash"] = hash_password(str(body["password"]))
        if values:
            with self.engine.begin() as conn:
                conn.execute(update(t.users).where(t.users.c.id == user_id).values(values))
                if "password_hash" in values or values.get("enabled") is False:
                    conn.execute(delete(t.tokens).where(t.tokens.c.user_id == user_id))
            self._forget_user(user_id)
        return self.get_user(user_id)

    def delete_user(self, user_id: str) -> None:
        self.get_user(user_id)
        with self.engine.begin() as conn:
            conn.execute(delete(t.users).where(t.users.c.id == user_id))
        self._forget_user(user_id)

    def list_roles(self, name: str | None = None) -> list[dict[str, Any]]:
        stmt = select(t.roles).order_by(t.roles.c.name)
        if name is not None:
            stmt = stmt.where(t.roles.c.name == name)
        with self.reads.connect() as conn:
            return [
                {"id": row.id, "name": row.name, "domain_id": None, "description": None, "options": {}}
                for row in conn.execute(stmt)
            ]

    def get_role(self, role_id: str) -> dict[str, Any]:
        for role in self.list_roles():
            if role["id"] == role_id:
                return role
        raise not_found("role", role_id)

    def assigned_roles(self, project_id: str, user_id: str) -> list[dict[str, Any]]:
        self.get_project(project_id)
        self.get_user(user_id)
        with self.reads.connect() as conn:
            rows = conn.execute(
                select(t.roles)
                .join(t.role_assignments, t.role_assignments.c.role_id == t.roles.c.id)
                .where(t.role_assignments.c.user_id == user_id, t.role_assignments.c.project_id == project_id)
                .order_by(t.roles.c.name)
            )
            return [{"id": row.id, "name": row.name, "domain_id": None} for row in rows]

    def assign(self, project_id: str, user_id: str, role_id: str) -> None:
        self._check_assignment_refs(project_id, user_id, role_id)
        if any(role["id"] == role_id for role in self.assigned_roles(project_id, user_id)):
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(t.role_assignments).values(user_id=user_id, project_id=project_id, role_id=role_id))
        except IntegrityError:
            pass  # assigned concurrently: the same result
        self._forget_user(user_id)

    def has_assignment(self, project_id: str, user_id: str, role_id: str) -> bool:
        self._check_assignment_refs(project_id, user_id, role_id)
        return any(role["id"] == role_id for role in self.assigned_roles(project_id, user_id))

    def unassign(self, project_id: str, user_id: str, role_id: str) -> None:
        if not self.has_assignment(project_id, user_id, role_id):
            raise IdentityError(
                404,
                f"Could not find role assignment with role: {role_id}, user or group: "
                f"{user_id}, project, domain, or system: {project_id}.",
            )
        with self.engine.begin() as conn:
            conn.execute(
                delete(t.role_assignments).where(
                    t.role_assignments.c.user_id == user_id,
                    t.role_assignments.c.project_id == project_id,
                    t.role_assignments.c.role_id == role_id,
                )
            )
        self._forget_user(user_id)

    def role_assignments(self, query: AssignmentQuery, base_url: str) -> list[dict[str, Any]]:
        """``GET /v3/role_assignments`` (``base_url`` ends in ``/v3``)."""
        with self.reads.connect() as conn:
            return list_assignments(conn, query, base_url)

    def _check_assignment_refs(self, project_id: str, user_id: str, role_id: str) -> None:
        self.get_project(project_id)
        self.get_user(user_id)
        self.get_role(role_id)

    def _insert(self, table: Any, values: dict[str, Any], duplicate: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table).values(values))
        except IntegrityError:
            raise IdentityError(409, duplicate) from None


def project_doc(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "description": row.description,
        "enabled": row.enabled,
        "is_domain": False,
        "parent_id": row.domain_id,
        "tags": [],
        "options": {},
    }


def user_doc(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "domain_id": row.domain_id,
        "enabled": row.enabled,
        "default_project_id": row.default_project_id,
        "description": row.description,
        "password_expires_at": None,
        "options": {},
    }


def _required_name(body: dict[str, Any], kind: str) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64 and kind == "project":
        raise IdentityError(400, f"Invalid input for field 'name': the {kind} needs a name (1 to 64 characters).")
    if len(name) > 255:
        raise IdentityError(400, "Invalid input for field 'name': longer than 255 characters.")
    return name
