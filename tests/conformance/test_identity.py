"""Keystone v3 as networking clients use it: password tokens with a catalog, validation, revocation, 401s."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conformance.conftest import Target


@pytest.fixture
def auth_url(target: Target) -> str:
    if not target.auth_url:
        pytest.skip("the target runs without Keystone")
    return target.auth_url


def _password_body(username: str, password: str, project: str) -> dict[str, object]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": username, "domain": {"id": "default"}, "password": password}},
            },
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }


def test_token_lifecycle(auth_url: str, target: Target) -> None:
    conn, project_id = target.member("identity")
    name = conn.config.auth["username"]
    issued = httpx.post(f"{auth_url}/auth/tokens", json=_password_body(name, f"pw-{name}", name), timeout=30)
    assert issued.status_code == 201, issued.text
    token = issued.headers["X-Subject-Token"]
    document = issued.json()["token"]
    assert document["methods"] == ["password"] and document["user"]["name"] == name
    assert document["project"]["id"] == project_id and document["project"]["domain"]["id"] == "default"
    assert "member" in {role["name"] for role in document["roles"]}
    assert document["expires_at"] > document["issued_at"]
    network = [service for service in document["catalog"] if service["type"] == "network"]
    urls = {endpoint["url"].rstrip("/") for endpoint in network[0]["endpoints"]}
    assert target.network_url in urls

    admin_token = target.admin.session.get_token()
    checked = httpx.get(f"{auth_url}/auth/tokens", headers={"X-Auth-Token": admin_token, "X-Subject-Token": token})
    assert checked.status_code == 200 and checked.json()["token"]["user"]["name"] == name
    own = httpx.head(f"{auth_url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token})
    assert own.status_code == 200

    with target.raw(token=token) as raw:
        assert raw.get("/networks").status_code == 200
        revoked = httpx.delete(
            f"{auth_url}/auth/tokens", headers={"X-Auth-Token": admin_token, "X-Subject-Token": token}
        )
        assert revoked.status_code == 204
        if target.is_extnet:  # Neutron's keystonemiddleware keeps accepting it from its cache for minutes
            assert raw.get("/networks").status_code == 401
    gone = httpx.get(f"{auth_url}/auth/tokens", headers={"X-Auth-Token": admin_token, "X-Subject-Token": token})
    assert gone.status_code == 404
    conn.close()


def test_wrong_password_and_bad_tokens(auth_url: str, target: Target) -> None:
    wrong = httpx.post(f"{auth_url}/auth/tokens", json=_password_body("admin", "not-the-password", "admin"))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401
    for headers in ({}, {"X-Auth-Token": "garbage"}):
        response = httpx.get(f"{target.network_url}/v2.0/networks", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == 401


def test_version_documents(auth_url: str) -> None:
    version = httpx.get(auth_url).json()["version"]
    assert version["id"].startswith("v3.") and version["status"] == "stable"
    assert version["links"][0]["href"].rstrip("/") == auth_url.rstrip("/")


def test_a_token_request_that_is_not_declared_json(auth_url: str, target: Target) -> None:
    conn, _project_id = target.member("ctype")
    name = conn.config.auth["username"]
    body = json.dumps(_password_body(name, f"pw-{name}", name)).encode()
    refused = httpx.post(f"{auth_url}/auth/tokens", content=body, headers={"Content-Type": "text/plain"}, timeout=30)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["title"]) == (400, "Bad Request")
    assert error["message"].startswith("Expecting to find application/json in Content-Type header.")
    undeclared = httpx.post(f"{auth_url}/auth/tokens", content=body, timeout=30)  # no Content-Type at all: JSON
    assert undeclared.status_code == 201, undeclared.text
