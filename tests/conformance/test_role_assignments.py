"""Keystone's ``GET /v3/role_assignments``: documents, filters, ``effective``, ``include_names``, errors, policy.

Every check is about users and projects the module creates, so the target's other assignments (the real
Keystone's admin has its own, system ones too) never matter. Keystone 30's default roles put ``manager`` between
``admin`` and ``member``; extnet has no ``manager``, so ``effective`` checks follow the chain rather than name it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.conformance.conftest import Target
from tests.provider.process import connect


@dataclass
class World:
    url: str  # Keystone v3, no trailing slash
    admin: Connection
    worker_conn: Connection  # the worker, scoped to p1 (role member: no admin)
    roles: dict[str, str]  # name -> id
    p1: Any
    p2: Any
    chief: Any  # admin on p1
    worker: Any  # member on p1, reader on p2
    password: str  # both users'

    def get(self, query: str, token: str | None = None) -> httpx.Response:
        token = token or self.admin.session.get_token()
        return httpx.get(f"{self.url}/role_assignments{query}", headers={"X-Auth-Token": token}, timeout=60)

    def listed(self, query: str) -> list[dict[str, Any]]:
        response = self.get(query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["links"] == {"self": f"{self.url}/role_assignments{query}", "previous": None, "next": None}
        return list(body["role_assignments"])

    def direct(self, user: Any, project: Any, role: str) -> dict[str, Any]:
        """Keystone's document of a direct grant (no names)."""
        return {
            "links": {"assignment": f"{self.url}/projects/{project.id}/users/{user.id}/roles/{self.roles[role]}"},
            "scope": {"project": {"id": project.id}},
            "user": {"id": user.id},
            "role": {"id": self.roles[role]},
        }


@pytest.fixture(scope="module")
def world(target: Target) -> Iterator[World]:
    if not target.auth_url:
        pytest.skip("the target runs without Keystone")
    identity = target.admin.identity
    run = uuid.uuid4().hex[:8]
    made: list[Any] = []
    try:
        p1 = identity.create_project(name=f"cf-ra-p1-{run}", domain_id="default")
        made.append(p1)
        p2 = identity.create_project(name=f"cf-ra-p2-{run}", domain_id="default")
        made.append(p2)
        chief = identity.create_user(name=f"cf-ra-chief-{run}", password=f"pw-{run}", domain_id="default")
        made.append(chief)
        worker = identity.create_user(name=f"cf-ra-worker-{run}", password=f"pw-{run}", domain_id="default")
        made.append(worker)
        roles = {name: identity.find_role(name, ignore_missing=False).id for name in ("admin", "member", "reader")}
        identity.assign_project_role_to_user(p1, chief, roles["admin"])
        identity.assign_project_role_to_user(p1, worker, roles["member"])
        identity.assign_project_role_to_user(p2, worker, roles["reader"])
        worker_conn = connect(target.auth_url, worker.name, f"pw-{run}", p1.name)
        yield World(target.auth_url, target.admin, worker_conn, roles, p1, p2, chief, worker, f"pw-{run}")
        worker_conn.close()
    finally:
        for thing in reversed(made):
            if thing.__class__.__name__ == "User":
                identity.delete_user(thing, ignore_missing=True)
            else:
                identity.delete_project(thing, ignore_missing=True)


def _sorted(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (e["user"]["id"], e["scope"]["project"]["id"], e["role"]["id"]))


def _error(response: httpx.Response, code: int, message: str) -> None:
    title = {400: "Bad Request", 403: "Forbidden"}[code]
    assert response.status_code == code, response.text
    assert response.json() == {"error": {"code": code, "title": title, "message": message}}


def test_documents_and_filters(world: World) -> None:
    w = world
    assert _sorted(w.listed(f"?user.id={w.worker.id}")) == _sorted(
        [w.direct(w.worker, w.p1, "member"), w.direct(w.worker, w.p2, "reader")]
    )
    assert _sorted(w.listed(f"?scope.project.id={w.p1.id}")) == _sorted(
        [w.direct(w.chief, w.p1, "admin"), w.direct(w.worker, w.p1, "member")]
    )
    assert w.listed(f"?scope.project.id={w.p1.id}&role.id={w.roles['member']}") == [w.direct(w.worker, w.p1, "member")]
    assert w.listed(f"?user.id={w.worker.id}&scope.project.id={w.p2.id}") == [w.direct(w.worker, w.p2, "reader")]
    assert w.listed(f"?user.id={w.worker.id}&role.id={w.roles['reader']}") == [w.direct(w.worker, w.p2, "reader")]
    # a role the user has only by implication: not a direct grant
    assert w.listed(f"?user.id={w.chief.id}&role.id={w.roles['member']}") == []
    # only project grants exist here: domain, system, group and inherited filters match none of them
    assert w.listed(f"?user.id={w.worker.id}&scope.domain.id=default") == []
    assert w.listed(f"?user.id={w.worker.id}&scope.domain.id=default&effective") == []
    assert w.listed(f"?user.id={w.worker.id}&scope.system=all") == []
    assert w.listed("?group.id=nosuchgroup") == []
    assert w.listed(f"?user.id={w.worker.id}&scope.OS-INHERIT:inherited_to=projects") == []
    # unknown parameters are ignored; a repeated one counts with its first value; an unknown id matches nothing
    assert len(w.listed(f"?user.id={w.worker.id}&foo=bar&effective=0")) == 2
    assert len(w.listed(f"?user.id={w.worker.id}&user.id={w.chief.id}")) == 2
    assert w.listed(f"?user.id={uuid.uuid4().hex}") == []
    assert w.listed(f"?scope.project.id={uuid.uuid4().hex}") == []
    # include_subtree: these projects have no children
    assert _sorted(w.listed(f"?include_subtree=1&scope.project.id={w.p1.id}")) == _sorted(
        w.listed(f"?scope.project.id={w.p1.id}")
    )


def test_effective(world: World) -> None:
    w = world
    member, reader = w.roles["member"], w.roles["reader"]
    implied_reader = {
        "links": {
            "assignment": f"{w.url}/projects/{w.p1.id}/users/{w.worker.id}/roles/{member}",
            "prior_role": f"{w.url}/prior_role/{reader}/implies/{member}",
        },
        "scope": {"project": {"id": w.p1.id}},
        "user": {"id": w.worker.id},
        "role": {"id": reader},
    }
    assert _sorted(w.listed(f"?user.id={w.worker.id}&effective")) == _sorted(
        [w.direct(w.worker, w.p1, "member"), w.direct(w.worker, w.p2, "reader"), implied_reader]
    )
    assert w.listed(f"?user.id={w.worker.id}&role.id={reader}&scope.project.id={w.p1.id}&effective=1") == [
        implied_reader
    ]

    chief = w.listed(f"?user.id={w.chief.id}&effective")
    assert chief[0] == w.direct(w.chief, w.p1, "admin")
    prior_of: dict[str, str] = {}
    for entry in chief[1:]:
        role = entry["role"]["id"]
        prior = entry["links"]["assignment"].rsplit("/", 1)[1]
        assert entry["links"] == {
            "assignment": f"{w.url}/projects/{w.p1.id}/users/{w.chief.id}/roles/{prior}",
            "prior_role": f"{w.url}/prior_role/{role}/implies/{prior}",
        }
        assert entry["scope"] == {"project": {"id": w.p1.id}} and entry["user"] == {"id": w.chief.id}
        assert role not in prior_of
        prior_of[role] = prior
    assert {member, reader} <= set(prior_of) and prior_of[reader] == member
    chain, role = [], reader
    while role in prior_of:
        role = prior_of[role]
        chain.append(role)
    assert chain[-1] == w.roles["admin"] and set(chain[:-1]) | {reader} == set(prior_of)
    # effective filters on the role after the expansion
    assert [e["role"]["id"] for e in w.listed(f"?user.id={w.chief.id}&role.id={member}&effective")] == [member]


def test_include_names(world: World) -> None:
    w = world
    domain = {"id": "default", "name": "Default"}

    def named(project: Any, role: str, prior: str | None = None) -> dict[str, Any]:
        entry = w.direct(w.worker, project, prior or role)
        if prior:
            entry["links"]["prior_role"] = f"{w.url}/prior_role/{w.roles[role]}/implies/{w.roles[prior]}"
        entry["role"] = {"id": w.roles[role], "name": role}
        entry["user"] = {"id": w.worker.id, "name": w.worker.name, "domain": domain}
        entry["scope"] = {"project": {"id": project.id, "name": project.name, "domain": domain}}
        return entry

    assert _sorted(w.listed(f"?user.id={w.worker.id}&include_names")) == _sorted(
        [named(w.p1, "member"), named(w.p2, "reader")]
    )
    assert _sorted(w.listed(f"?user.id={w.worker.id}&include_names=true&effective")) == _sorted(
        [named(w.p1, "member"), named(w.p2, "reader"), named(w.p1, "reader", prior="member")]
    )
    assert "name" not in w.listed(f"?user.id={w.worker.id}&include_names=0")[0]["role"]


def test_errors(world: World) -> None:
    w = world
    u, p = w.worker.id, w.p1.id
    _error(w.get(f"?user.id={u}&group.id=g1"), 400,
           f"ImmutableMultiDict([('user.id', '{u}'), ('group.id', 'g1')]) is valid under each of "
           "{'required': ['group.id']}, {'required': ['user.id']}")  # fmt: skip
    _error(w.get("?effective&group.id=g1"), 400,
           "Combining effective and group filter will always result in an empty list.")  # fmt: skip
    _error(w.get("?effective&scope.domain.id=default&scope.OS-INHERIT:inherited_to=projects"), 400,
           "Combining effective, domain and inherited filters will always result in an empty list.")  # fmt: skip
    _error(w.get(f"?scope.project.id={p}&scope.domain.id=default"), 400, "Specify a domain or project, not both")
    _error(w.get(f"?scope.project.id={p}&scope.system=all"), 400, "Specify system or project, not both")
    _error(w.get("?scope.domain.id=default&scope.system=all"), 400, "Specify system or domain, not both")
    _error(w.get(f"?include_subtree&user.id={u}"), 400, "'scope.project.id' is a dependency of 'include_subtree'")
    _error(w.get("?include_subtree=0"), 400, "'scope.project.id' is a dependency of 'include_subtree'")
    _error(w.get(f"?include_subtree&scope.project.id={p}&scope.domain.id=default"), 400,
           "Specify a domain or project, not both")  # fmt: skip
    _error(w.get("?role.id=bad!id&scope.project.id=x!"), 400,
           "Invalid input for field/attribute role.id. Value: bad!id. "
           "'bad!id' does not match '^[a-zA-Z0-9-]+$'")  # fmt: skip
    _error(w.get("?scope.project.id="), 400,
           "Invalid input for field/attribute scope.project.id. Value: . '' should be non-empty")  # fmt: skip
    long = "d" * 65
    _error(w.get(f"?scope.domain.id={long}"), 400,
           f"Invalid input for field/attribute scope.domain.id. Value: {long}. '{long}' is too long")  # fmt: skip


def test_policy(world: World) -> None:
    w = world
    token = w.worker_conn.session.get_token()
    denied = "You are not authorized to perform the requested action: identity:list_role_assignments."
    _error(w.get(f"?user.id={w.worker.id}", token), 403, denied)  # not even their own
    _error(w.get("", token), 403, denied)
    _error(w.get(f"?scope.project.id={w.p1.id}", token), 403, denied)
    _error(w.get(f"?scope.project.id={w.p1.id}&include_subtree", token), 403,
           f"{denied[:-1]}_for_tree.")  # fmt: skip
    # the query schema is checked before the policy, the combination rules after it
    _error(w.get("?role.id=", token), 400, "Invalid input for field/attribute role.id. Value: . '' should be non-empty")
    _error(w.get(f"?scope.project.id={w.p1.id}&scope.domain.id=default", token), 403, denied)
    # a user holding admin on any project may list everyone's
    chief = connect(w.url, w.chief.name, w.password, w.p1.name)
    try:
        response = w.get(f"?user.id={w.worker.id}", chief.session.get_token())
        assert response.status_code == 200 and len(response.json()["role_assignments"]) == 2, response.text
    finally:
        chief.close()


def test_openstacksdk(world: World) -> None:
    w = world
    identity = w.admin.identity
    mine = {(a.role["id"], a.scope["project"]["id"]) for a in identity.role_assignments(user_id=w.worker.id)}
    assert mine == {(w.roles["member"], w.p1.id), (w.roles["reader"], w.p2.id)}
    on_p1 = list(identity.role_assignments(scope_project_id=w.p1.id, role_id=w.roles["admin"]))
    assert [(a.user["id"], a.links["assignment"]) for a in on_p1] == [
        (w.chief.id, f"{w.url}/projects/{w.p1.id}/users/{w.chief.id}/roles/{w.roles['admin']}")
    ]
    effective = {a.role["id"] for a in identity.role_assignments(user_id=w.chief.id, effective=True)}
    assert {w.roles["admin"], w.roles["member"], w.roles["reader"]} <= effective
    named = list(identity.role_assignments(user_id=w.worker.id, scope_project_id=w.p2.id, include_names=True))
    assert [(a.role["name"], a.user["name"], a.scope["project"]["name"]) for a in named] == [
        ("reader", w.worker.name, w.p2.name)
    ]
    assert list(identity.role_assignments(user_id=w.worker.id, scope_domain_id="default")) == []
    granted = identity.role_assignments_filter(project=w.p1, user=w.worker)
    assert [role.id for role in granted] == [w.roles["member"]]
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(w.worker_conn.identity.role_assignments(user_id=w.worker.id))
