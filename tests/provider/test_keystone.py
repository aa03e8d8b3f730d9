"""The provider's Keystone: v2.0 tokens, discovery, the admin password at first start, token expiry, rescoping,
and the users/projects/roles API through openstacksdk."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.provider.process import ADMIN_PASSWORD, ProviderProcess, connect, issue_token, run_provider


def test_version_discovery(provider: ProviderProcess) -> None:
    root = httpx.get(f"{provider.identity_url}/")
    assert root.status_code == 300
    versions = {v["id"]: v for v in root.json()["versions"]["values"]}
    assert set(versions) == {"v3.14", "v2.0"}
    assert versions["v3.14"]["links"][0]["href"] == f"{provider.identity_url}/v3/"
    v2 = httpx.get(f"{provider.identity_url}/v2.0").json()["version"]
    assert v2["id"] == "v2.0" and v2["links"][0]["href"] == f"{provider.identity_url}/v2.0/"


def test_v2_tokens(provider: ProviderProcess) -> None:
    body = {"auth": {"passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD}, "tenantName": "admin"}}
    response = httpx.post(f"{provider.identity_url}/v2.0/tokens", json=body)
    assert response.status_code == 200, response.text
    access = response.json()["access"]
    token = access["token"]["id"]
    assert access["token"]["tenant"]["name"] == "admin" and access["user"]["name"] == "admin"
    assert {"name": "admin"} in access["user"]["roles"]
    [network] = [s for s in access["serviceCatalog"] if s["type"] == "network"]
    assert network["endpoints"][0]["publicURL"] == provider.network_url
    ok = httpx.get(f"{provider.network_url}/v2.0/networks", headers={"X-Auth-Token": token})
    assert ok.status_code == 200
    tenants = httpx.get(f"{provider.identity_url}/v2.0/tenants", headers={"X-Auth-Token": token}).json()
    assert [t["name"] for t in tenants["tenants"]] == ["admin"]
    rescoped = httpx.post(
        f"{provider.identity_url}/v2.0/tokens", json={"auth": {"token": {"id": token}, "tenantName": "admin"}}
    )
    assert rescoped.status_code == 200 and rescoped.json()["access"]["token"]["id"] != token

    wrong = {"auth": {"passwordCredentials": {"username": "admin", "password": "nope"}, "tenantName": "admin"}}
    assert httpx.post(f"{provider.identity_url}/v2.0/tokens", json=wrong).status_code == 401
    unknown_tenant = {
        "auth": {
            "passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD},
            "tenantName": "no-such-project",
        }
    }
    assert httpx.post(f"{provider.identity_url}/v2.0/tokens", json=unknown_tenant).status_code == 401
    assert httpx.post(f"{provider.identity_url}/v2.0/tokens", json={"auth": {}}).status_code == 400


def test_unscoped_and_rescoped_v3_tokens(provider: ProviderProcess) -> None:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": ADMIN_PASSWORD}},
            }
        }
    }
    unscoped = httpx.post(f"{provider.auth_url}/auth/tokens", json=body)
    assert unscoped.status_code == 201
    assert "project" not in unscoped.json()["token"] and "catalog" not in unscoped.json()["token"]
    token = unscoped.headers["X-Subject-Token"]
    no_project = httpx.get(f"{provider.network_url}/v2.0/networks", headers={"X-Auth-Token": token})
    assert no_project.status_code == 401  # the networking API needs a project
    rescope = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    scoped = httpx.post(f"{provider.auth_url}/auth/tokens", json=rescope)
    assert scoped.status_code == 201 and scoped.json()["token"]["project"]["name"] == "admin"
    assert scoped.json()["token"]["methods"] == ["token"]
    bad = httpx.post(f"{provider.auth_url}/auth/tokens", json={"auth": {"identity": {"methods": []}}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 400
    assert httpx.post(f"{provider.auth_url}/auth/tokens", content=b"{not json").status_code == 400


def test_users_projects_roles(admin: Connection, provider: ProviderProcess) -> None:
    identity = admin.identity
    name = f"kst-{uuid.uuid4().hex[:8]}"
    project = identity.create_project(name=name, domain_id="default", description="d")
    assert identity.get_project(project.id).name == name
    assert [p.id for p in identity.projects(name=name)] == [project.id]
    user = identity.create_user(name=name, password="pw1", domain_id="default", default_project_id=project.id)
    reader = identity.find_role("reader")
    identity.assign_project_role_to_user(project, user, reader)
    assert identity.validate_user_has_project_role(project, user, reader)
    with pytest.raises(openstack.exceptions.ConflictException):
        identity.create_user(name=name, password="x", domain_id="default")

    conn = connect(provider.auth_url, name, "pw1", name)
    assert all(n.is_shared or n.is_router_external for n in conn.network.networks())
    with pytest.raises(openstack.exceptions.ForbiddenException):
        conn.network.create_network(name="readers-cannot-write")
    with pytest.raises(openstack.exceptions.ForbiddenException):
        conn.identity.create_project(name=f"{name}-2", domain_id="default")
    conn.close()

    identity.update_user(user, password="pw2")
    old = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": name, "domain": {"id": "default"}, "password": "pw1"}},
            }
        }
    }
    assert httpx.post(f"{provider.auth_url}/auth/tokens", json=old).status_code == 401
    assert issue_token(provider.auth_url, name, "pw2", name)
    identity.unassign_project_role_from_user(project, user, reader)
    assert not identity.validate_user_has_project_role(project, user, reader)
    identity.delete_user(user)
    identity.delete_project(project)
    with pytest.raises(openstack.exceptions.NotFoundException):
        identity.get_project(project.id)


def test_generated_admin_password_and_token_expiry(tmp_path: Path) -> None:
    # 5 s: long enough that a loaded machine still uses the token before it expires (1 s failed a CI run), short
    # enough to wait for
    env = {"EXTNET_ADMIN_PASSWORD": "", "EXTNET_PROVIDER_TOKEN_TTL_SECONDS": "5"}
    with run_provider(tmp_path / "p", env=env) as process:
        log = process.log()
        assert "Generated the password of the provider's user admin" in log
        password = log.split("shown once): ")[1].split()[0]
        token = process.token(password=password)
        url = f"{process.network_url}/v2.0/networks"
        assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200
        deadline = time.monotonic() + 30
        while httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200:
            assert time.monotonic() < deadline, "the token did not expire"
            time.sleep(0.2)
        assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 401
    with run_provider(tmp_path / "p", env=env) as again:
        assert "Generated the password" not in again.log()
        assert again.token(password=password)
