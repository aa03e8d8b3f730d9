"""The served OpenAPI document: valid OpenAPI 3, complete (every collection, method and action the engine serves,
and nothing it doesn't), and its schemas describe what the API really returns."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate

from extnet.engine.api.openapi import openapi_document
from extnet.engine.api.root import ROOTS
from tests.servers import EngineProcess

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

API = "/ovirt-engine/api"
UNKNOWN_ID = "6c6d3e2a-0000-4000-8000-00000000beef"
METHODS = ("get", "post", "put", "delete")


@pytest.fixture(scope="module")
def document(engine: EngineProcess, token: str) -> dict[str, Any]:
    response = httpx.get(f"{engine.base}/ovirt-engine/api-docs/openapi.json",
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    return dict(response.json())


@pytest.fixture(scope="module")
def vm_tree(engine: EngineProcess, token: str) -> Iterator[str]:
    """A VM with a vNIC and a snapshot, so that the walk below reaches the VM's sub-collections."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with httpx.Client(base_url=engine.url + "/", headers=headers, timeout=60) as client:
        vm = client.post("vms", json={"name": f"oa-{uuid.uuid4().hex[:8]}", "cluster": {"name": "Default"},
                                      "template": {"name": "Blank"}})  # fmt: skip
        assert vm.status_code == 201, vm.text
        vm_id = vm.json()["id"]
        network = client.get("networks", params={"search": "name=ovirtmgmt and datacenter=Default"}).json()
        profile = client.get(f"networks/{network['network'][0]['id']}/vnicprofiles").json()["vnic_profile"][0]
        nic = client.post(f"vms/{vm_id}/nics", json={"name": "nic1", "vnic_profile": {"id": profile["id"]}})
        assert nic.status_code == 201, nic.text
        snapshot = client.post(f"vms/{vm_id}/snapshots", json={"description": "openapi"})
        assert snapshot.status_code in (201, 202), snapshot.text
        yield vm_id
        client.delete(f"vms/{vm_id}")


@pytest.fixture(scope="module")
def concrete(engine: EngineProcess, token: str, document: dict[str, Any], vm_tree: str) -> dict[str, list[str]]:
    """For each path template, up to 3 concrete paths to things that exist, found by listing collections."""
    found: dict[str, list[str]] = {}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    templates = sorted(document["paths"], key=lambda t: (t.count("{"), len(t)))
    with httpx.Client(base_url=engine.base, headers=headers, timeout=60) as client:
        for template in templates:
            found[template] = _concretes(client, template, found)[:3]
    return found


def _concretes(client: httpx.Client, template: str, found: dict[str, list[str]]) -> list[str]:
    params = list(re.finditer(r"\{[^}]+\}", template))
    if not params:
        return [template]
    last = params[-1]
    item, rest = template[: last.end()], template[last.end() :]
    if rest:  # a sub-collection or action below an item
        return [path + rest for path in found.get(item, [])]
    paths = []
    for collection in found.get(item.rsplit("/", 1)[0], []):
        listed = client.get(collection)
        if listed.status_code == 200:
            entities: list[Any] = next(iter(listed.json().values()), [])
            paths += [f"{collection}/{e['id']}" for e in entities if isinstance(e, dict) and "id" in e]
    return paths


def _unknown(template: str) -> str:
    return re.sub(r"\{[^}]+\}", UNKNOWN_ID, template)


def _schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    # The document is the root, so "#/components/schemas/X" references resolve inside it
    root = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(root)


def _response_schema(document: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    return dict(document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"])


# --- validity and completeness -----------------------------------------------------------------------------


def test_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")
    op_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(op_ids) == len(set(op_ids))


def test_document_is_what_the_code_describes(document: dict[str, Any]) -> None:
    assert document == json.loads(json.dumps(openapi_document(ROOTS)))


def test_every_root_collection_is_documented(rest: httpx.Client, document: dict[str, Any]) -> None:
    root = rest.get("").json()
    rels = {link["rel"] for link in root["link"]}
    assert rels >= {"datacenters", "clusters", "networks", "vnicprofiles", "vms", "hosts"}
    missing = {rel for rel in rels if f"{API}/{rel}" not in document["paths"]}
    assert not missing, f"collections the API root links to but the document lacks: {missing}"


def test_documented_methods_are_served_and_others_refused(rest: httpx.Client, document: dict[str, Any]) -> None:
    problems = []
    for template, ops in document["paths"].items():
        if not template.startswith(API + "/"):
            continue
        path = _unknown(template).removeprefix(API + "/")
        for method in METHODS:
            response = rest.request(method.upper(), path, content=b"{}" if method in ("post", "put") else None)
            served = response.status_code != 405 and "No such sub-collection or action" not in response.text
            assert response.status_code < 500, f"{method} {path}: {response.text}"
            if served != (method in ops):
                problems.append(f"{method.upper()} {template}: documented={method in ops}, got {response.status_code}"
                                f" {response.text[:150]}")  # fmt: skip
    assert not problems, "\n".join(problems)


def test_entity_links_to_documented_subcollections(rest: httpx.Client, document: dict[str, Any],
                                                   concrete: dict[str, list[str]]) -> None:  # fmt: skip
    """Each sub-collection the document lists is also linked from its entity, so the SDK's follow_link finds it."""
    problems = []
    for template in document["paths"]:
        parent, _, name = template.rpartition("/")
        if not parent.endswith("}") or "{" in name or parent.count("{") != 1:
            continue
        for path in concrete.get(parent, [])[:1]:
            entity = rest.get(path.removeprefix(API + "/")).json()
            rels = {link["rel"] for link in entity.get("link", [])}
            if name not in rels and name not in _actions(document, parent):
                problems.append(f"{parent} has no link rel='{name}'")
    assert not problems, "\n".join(problems)


def _actions(document: dict[str, Any], item: str) -> set[str]:
    return {p.rsplit("/", 1)[1] for p, ops in document["paths"].items()
            if p.startswith(item + "/") and p.count("/") == item.count("/") + 1 and "operationId" in ops.get("post", {})
            and not ops["post"]["operationId"].endswith("_add")}  # fmt: skip


# --- schemas against real responses ------------------------------------------------------------------------


def test_api_root_matches_its_schema(rest: httpx.Client, document: dict[str, Any]) -> None:
    schema = _response_schema(document, API, "get", "200")
    _schema_validator(document, schema).validate(rest.get("").json())


def test_faults_match_the_fault_schema(rest: httpx.Client, document: dict[str, Any]) -> None:
    fault = rest.get(f"datacenters/{UNKNOWN_ID}")
    assert fault.status_code == 404
    schema = document["paths"][f"{API}/datacenters/{{data_center_id}}"]["get"]["responses"]["404"]
    _schema_validator(document, schema["content"]["application/json"]["schema"]).validate(fault.json())


def test_lists_and_entities_match_their_schemas(rest: httpx.Client, document: dict[str, Any],
                                                concrete: dict[str, list[str]]) -> None:  # fmt: skip
    checked: list[str] = []
    errors: list[str] = []
    for template, ops in document["paths"].items():
        if not template.startswith(API + "/") or "get" not in ops:
            continue
        schema = _response_schema(document, template, "get", "200")
        validator = _schema_validator(document, schema)
        for path in concrete.get(template, [])[:2]:
            response = rest.get(path.removeprefix(API + "/"))
            assert response.status_code == 200, f"GET {path}: {response.text[:300]}"
            errors += [f"GET {path}: {e.message} at {list(e.absolute_path)}"
                       for e in validator.iter_errors(response.json())]  # fmt: skip
            checked.append(template)
    assert not errors, "\n".join(errors[:30])
    # the walk reached the collections of the default inventory and their entities
    for must in (
        "datacenters",
        "datacenters/{data_center_id}",
        "clusters/{cluster_id}",
        "networks/{network_id}",
        "vnicprofiles/{vnic_profile_id}",
        "macpools/{mac_pool_id}",
        "datacenters/{data_center_id}/networks",
    ):
        assert f"{API}/{must}" in checked, f"{must} was not checked"


def test_created_entities_match_their_schemas(rest: httpx.Client, document: dict[str, Any],
                                              unique: Callable[[str], str]) -> None:  # fmt: skip
    created = rest.post("datacenters", json={"name": unique("oa"), "description": "schema"})
    assert created.status_code == 201, created.text
    dc = created.json()
    try:
        _schema_validator(document, _response_schema(document, f"{API}/datacenters", "post", "201")).validate(dc)
        network = rest.post("networks", json={"name": unique("oan"), "data_center": {"id": dc["id"]},
                                              "vlan": {"id": "10"}, "usages": {"usage": ["vm"]}})  # fmt: skip
        assert network.status_code == 201, network.text
        _schema_validator(document, _response_schema(document, f"{API}/networks", "post", "201")).validate(
            network.json()
        )
        action_schema = _response_schema(document, f"{API}/datacenters/{{data_center_id}}/cleanfinishedtasks", "post",
                                         "200")  # fmt: skip
        done = rest.post(f"datacenters/{dc['id']}/cleanfinishedtasks", json={})
        assert done.status_code == 200, done.text
        _schema_validator(document, action_schema).validate(done.json())
    finally:
        assert rest.delete(f"datacenters/{dc['id']}", params={"force": "true"}).status_code == 200


def test_schema_rejects_what_the_api_would_not_return(document: dict[str, Any]) -> None:
    """The schemas are strict enough to catch a wrong shape (so the checks above can fail)."""
    schema = _response_schema(document, f"{API}/datacenters/{{data_center_id}}", "get", "200")
    validator = _schema_validator(document, schema)
    good = {"id": UNKNOWN_ID, "name": "x", "local": "false", "link": [{"rel": "clusters", "href": "/x"}],
            "supported_versions": {"version": [{"major": "4", "minor": "7"}]}}  # fmt: skip
    validator.validate(good)
    bad: dict[str, Any]
    for bad in ({"colour": "red"}, {"local": "maybe"}, {"local": True}, {"link": {"link": []}},
                {"supported_versions": [{"major": "4"}]}, {"version": {"major": "four"}}):  # fmt: skip
        assert list(validator.iter_errors({**good, **bad})), bad


@pytest.fixture(autouse=True)
def no_tracebacks(engine: EngineProcess) -> Iterator[None]:
    start = len(engine.log())
    yield
    new = engine.log()[start:]
    assert "Traceback" not in new, new[-3000:]
