"""What schemathesis found in the engine and its OpenAPI document, pinned as plain tests (test_schemathesis runs
schemathesis itself): event times carry their zone, adds mark their required fields, ``max`` has its maximum, a 405
lists the allowed methods, a control character in a path id is a fault, the SSO endpoint documents its 400."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.servers import EngineProcess

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

API = "/ovirt-engine/api"


@pytest.fixture(scope="module")
def document(engine: EngineProcess, token: str) -> dict[str, Any]:
    response = httpx.get(f"{engine.base}/ovirt-engine/api-docs/openapi.json",
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200
    return dict(response.json())


def test_event_time_has_a_zone(rest: httpx.Client) -> None:
    added = rest.post("events", json={"description": "zone", "severity": "normal", "origin": "t", "custom_id": "1"})
    assert added.status_code == 201, added.text
    assert datetime.fromisoformat(added.json()["time"]).tzinfo is not None
    listed = rest.get("events", params={"max": "1"}).json()["event"]
    assert all(datetime.fromisoformat(event["time"]).tzinfo is not None for event in listed)


def _schema(document: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    return dict(document["components"]["schemas"][name])


def test_adds_mark_their_required_fields(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path, required in ((f"{API}/datacenters", ["name"]), (f"{API}/clusters", ["name", "data_center"]),
                           (f"{API}/hosts", ["name", "address", "cluster"]), (f"{API}/macpools", ["name", "ranges"]),
                           (f"{API}/datacenters/{{data_center_id}}/networks", ["name"])):  # fmt: skip
        body = paths[path]["post"]["requestBody"]
        assert body["required"] is True
        assert _schema(document, body)["required"] == required, path
    update = paths[f"{API}/datacenters/{{data_center_id}}"]["put"]["requestBody"]
    assert update["required"] is False and "required" not in _schema(document, update)


def test_output_only_fields_are_read_only(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["HostInput"]["properties"]["status"]["readOnly"] is True
    assert schemas["EventAddDescription"]["properties"]["time"]["readOnly"] is True
    assert "readOnly" not in schemas["HostInput"]["properties"]["address"]


def test_max_has_its_maximum(rest: httpx.Client, document: dict[str, Any]) -> None:
    params = document["paths"][f"{API}/datacenters"]["get"]["parameters"]
    max_schema = next(p["schema"] for p in params if p["name"] == "max")
    assert max_schema["maximum"] == 2**31 - 1
    assert rest.get("datacenters", params={"max": str(2**31 - 1)}).status_code == 200
    assert rest.get("datacenters", params={"max": str(2**31)}).status_code == 400


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PATCH", "datacenters", "GET, POST"), ("PUT", "datacenters", "GET, POST"), ("POST", "", "GET"),
    ("DELETE", "datacenters/6c6d3e2a-0000-4000-8000-00000000beef/cleanfinishedtasks", "POST"),
    ("POST", "datacenters/6c6d3e2a-0000-4000-8000-00000000beef", "GET, PUT, DELETE"),
    ("TRACE", "events", "GET, POST"),
])  # fmt: skip
def test_405_lists_the_allowed_methods(rest: httpx.Client, method: str, path: str, allow: str) -> None:
    response = rest.request(method, path, content=b"{}" if method in ("POST", "PUT") else None)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.json()["reason"] == "Method Not Allowed"


def test_405_of_the_sso_endpoint_allows_post(engine: EngineProcess) -> None:
    response = httpx.get(f"{engine.base}/ovirt-engine/sso/oauth/token")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


@pytest.mark.parametrize("bad_id", ["a\nb", "x\r\ny", "\x01", "6c6d3e2a-0000-4000-8000-00000000beef\n"])
def test_control_character_in_a_path_id_is_a_fault(rest: httpx.Client, bad_id: str) -> None:
    for path in (f"datacenters/{bad_id}", f"datacenters/{bad_id}/clusters"):
        response = rest.get(path.replace("\n", "%0A").replace("\r", "%0D").replace("\x01", "%01"))
        assert response.status_code in (400, 404), response.text
        assert response.headers["content-type"].startswith("application/json")
        assert set(response.json()) == {"reason", "detail"}


def test_sso_errors_are_documented(engine: EngineProcess, document: dict[str, Any]) -> None:
    responses = document["paths"]["/ovirt-engine/sso/oauth/token"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(responses)
    refused = httpx.post(f"{engine.base}/ovirt-engine/sso/oauth/token",
                         data={"grant_type": "password", "username": "", "password": "x"})  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["error"] in responses["400"]["content"]["application/json"]["schema"]["properties"][
        "error"]["enum"]  # fmt: skip


def test_a_malformed_parent_id_is_refused(rest: httpx.Client) -> None:
    response = rest.get("datacenters/null,null/networks/6c6d3e2a-0000-4000-8000-00000000beef/networklabels")
    assert response.status_code == 400, response.text


def test_force_is_checked_on_every_removal(rest: httpx.Client) -> None:
    response = rest.delete("events/999999999", params={"force": "maybe"})
    assert response.status_code == 400, response.text
