"""Property-based fuzzing of the JSON API, generated from the OpenAPI document the engine serves.

Every operation of the document (so every collection as it appears) gets generated paths (ids that exist, unknown
ids, garbage), query strings (search, max, flags) and bodies (valid-looking ones built from the schemas, and
broken ones). The property: the engine never answers 5xx, every error is a JSON fault with a reason and a detail,
every success matches the document's schema, and the engine log has no traceback. The engine is its own (fresh
database), so the fuzzer may change and remove anything, and runs are derandomized for CI.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import ADMIN_PASSWORD, EngineProcess, HostAgentProcess, run_engine, run_host_agent, scratch_database

API = "/ovirt-engine/api"
EXAMPLES = int(os.environ.get("EXTNET_FUZZ_EXAMPLES", "1000"))
TIME_BUDGET_S = 60.0
PARAM = re.compile(r"\{[^}]+\}")

# Fields that could make an engine contact something: only loopback or syntactically impossible values
NETWORK_FIELDS = ("address", "url", "authentication_url")
READ_ONLY = ("href", "link", "actions", "id")
SAFE_ADDRESSES = ["127.0.0.1", "127.0.0.2", "localhost", "::1", "", "not an address!", "http://", "300.1.1.1"]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]


@dataclass
class Entity:
    path: str
    id: str
    name: str | None


@dataclass
class World:
    """What the fuzzer knows: the document, and the entities that exist, per item path template."""

    document: dict[str, Any]
    client: httpx.Client
    entities: dict[str, list[Entity]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)

    def schema(self, ref_or_schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in ref_or_schema:
            return dict(self.document["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[1]])
        return ref_or_schema

    def validator(self, schema: dict[str, Any]) -> jsonschema.protocols.Validator:
        return jsonschema.Draft202012Validator({**schema, "components": self.document["components"]})


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url, \
            run_engine(tmp_path_factory.mktemp("fuzz"), url) as process:  # fmt: skip
        yield process


@pytest.fixture(scope="module")
def fuzz_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostAgentProcess]:
    """The agent of the seeded host (on loopback, as every address the fuzzer may make the engine contact)."""
    with run_host_agent(tmp_path_factory.mktemp("fuzz-host")) as agent:
        yield agent


@pytest.fixture(scope="module")
def world(fuzz_engine: EngineProcess, fuzz_agent: HostAgentProcess) -> Iterator[World]:
    token = httpx.post(f"{fuzz_engine.base}/ovirt-engine/sso/oauth/token", data={
        "grant_type": "password", "scope": "ovirt-app-api", "username": "admin@internal",
        "password": ADMIN_PASSWORD}).json()["access_token"]  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Content-Type": "application/json"}
    with httpx.Client(base_url=fuzz_engine.base, headers=headers, timeout=30) as client:
        document = client.get("/ovirt-engine/api-docs/openapi.json").json()
        found = World(document, client)
        _seed(client, fuzz_agent)
        _discover(found)
        yield found


def _seed(client: httpx.Client, agent: HostAgentProcess) -> None:
    """Give the nested collections something to work on: a host, and a VM with a vNIC and a snapshot."""

    def add(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(f"{API}/{path}", json=body)
        assert response.status_code in (201, 202), f"seeding {path}: {response.text}"
        return dict(response.json())

    add("datacenters", {"name": "fz-dc"})
    add("hosts", {"name": "fz-host", **agent.host_fields(), "cluster": {"name": "Default"}})
    vm = add("vms", {"name": "fz-vm", "cluster": {"name": "Default"}, "template": {"name": "Blank"}})
    network = client.get(f"{API}/networks", params={"search": "name=ovirtmgmt and datacenter=Default"}).json()
    profile = client.get(f"{API}/networks/{network['network'][0]['id']}/vnicprofiles").json()["vnic_profile"][0]
    add(f"vms/{vm['id']}/nics", {"name": "nic1", "vnic_profile": {"id": profile["id"]}})
    add(f"vms/{vm['id']}/snapshots", {"description": "fuzz"})


def _discover(world: World) -> None:
    """Walk the listable collections and remember every entity (path, id, name)."""
    for template in sorted(world.document["paths"], key=lambda t: (t.count("{"), len(t))):
        if not template.startswith(API + "/") or not template.endswith("}"):
            continue
        collection = template.rsplit("/", 1)[0]
        if "get" not in world.document["paths"].get(collection, {}):
            continue
        for parent in _concrete_collections(world, collection)[:3]:
            listed = world.client.get(parent)
            if listed.status_code == 200:
                for item in next(iter(listed.json().values()), []):
                    world.entities.setdefault(template, []).append(Entity(f"{parent}/{item['id']}", item["id"],
                                                                          item.get("name")))  # fmt: skip


def _concrete_collections(world: World, template: str) -> list[str]:
    params = list(PARAM.finditer(template))
    if not params:
        return [template]
    item, rest = template[: params[-1].end()], template[params[-1].end() :]
    return [entity.path + rest for entity in world.entities.get(item, [])]


def _operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of the API; those that build or change are weighted over removals, so things exist."""
    weight = {"get": 2, "post": 3, "put": 3, "delete": 1}
    return [Operation(method, template, spec) for template, ops in document["paths"].items()
            if template.startswith(API) for method, spec in ops.items() for _ in range(weight[method])]  # fmt: skip


# --- strategies --------------------------------------------------------------------------------------------

INDEX = st.integers(0, 2**16)
NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,14}", fullmatch=True)
JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12)
)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)  # fmt: skip


def _value(world: World, schema: dict[str, Any], name: str, depth: int) -> st.SearchStrategy[Any]:
    if name in NETWORK_FIELDS:
        return st.sampled_from(SAFE_ADDRESSES)
    if "$ref" in schema:
        return _reference(world, schema, depth)
    kind = schema.get("type")
    if kind == "array":
        return st.lists(_value(world, schema["items"], name, depth + 1), max_size=2)
    if kind == "object":
        return _object(world, schema, depth)
    if "enum" in schema:
        return st.sampled_from([*schema["enum"], "bogus"])
    if schema.get("pattern") == "^-?[0-9]+$":
        return st.one_of(st.integers(-10, 5000).map(str), st.integers(-(2**64), 2**64), st.just("12x"))
    if schema.get("format") == "date-time":
        return st.sampled_from(["2024-01-02T03:04:05.000+00:00", "yesterday", ""])
    if name == "name":
        return st.one_of(NAMES, NAMES, st.text(max_size=20))
    return st.text(max_size=20)


def _object(world: World, schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    """Objects with a name (usually) and a few other fields of the schema: few enough that some are accepted."""
    properties = {key: sub for key, sub in schema.get("properties", {}).items() if key not in READ_ONLY}
    if depth > 2 or not properties:
        return st.just({})
    keys = sorted(properties)
    chosen = st.lists(st.sampled_from(keys), max_size=3, unique=True).map(
        lambda ks: (["name"] if "name" in keys and "name" not in ks else []) + ks
    )
    return chosen.flatmap(lambda ks: st.fixed_dictionaries(
        {key: _value(world, properties[key], key, depth + 1) for key in ks}))  # fmt: skip


@st.composite
def _reference(draw: st.DrawFn, world: World, schema: dict[str, Any], depth: int) -> Any:
    # The draws never depend on what exists (Hypothesis replays draws): an index picks among what exists now
    choice, index = draw(st.integers(0, 4)), draw(INDEX)
    inline = draw(_object(world, world.schema(schema), depth + 1))
    broken = draw(st.sampled_from([{"id": str(uuid.UUID(int=7))}, {"id": "not-a-uuid"}, {}, "flat"]))
    known = _entities_of_type(world, schema["$ref"].rsplit("/", 1)[1])
    if choice in (1, 2) and known:
        entity = known[index % len(known)]
        return {"id": entity.id} if choice == 1 or not entity.name else {"name": entity.name}
    return inline if choice == 0 else broken


def _entities_of_type(world: World, type_name: str) -> list[Entity]:
    found: list[Entity] = []
    for template, entities in world.entities.items():
        get = world.document["paths"].get(template, {}).get("get", {})
        ref = get.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
        if ref.get("schema", {}).get("$ref", "").endswith(f"/{type_name}"):
            found += entities
    return found


def _body(world: World, op: Operation) -> st.SearchStrategy[bytes]:
    schema = op.spec["requestBody"]["content"]["application/json"]["schema"]
    tag = world.schema(schema)
    valid_ish = _object(world, tag, 0)
    mutated = st.tuples(valid_ish, st.text(min_size=1, max_size=8), ANY_JSON).map(lambda t: {**t[0], t[1]: t[2]})
    raw = st.sampled_from([b"", b"{", b"<xml/>", b"\xff\xfe", b"[]", b'{"a":' * 50, b'{"name": "\\ud800"}'])
    return st.one_of(*[valid_ish] * 8, mutated, ANY_JSON).map(lambda v: json.dumps(v).encode()) | raw


def _search(op: Operation) -> st.SearchStrategy[str]:
    described = next((p.get("description", "") for p in op.spec.get("parameters", []) if p["name"] == "search"), "")
    fields = [f.strip() for f in described.removeprefix("fields: ").split(",") if f.strip()] or ["name"]
    term = st.tuples(st.sampled_from([*fields, "colour"]), st.sampled_from(["=", "!=", "<", ">=", " "]),
                     st.one_of(NAMES, st.sampled_from(["*", "Default", '"a b"', "1", "true", "up"]))).map(
        lambda t: f"{t[0]}{t[1]}{t[2]}")  # fmt: skip
    query = st.lists(term, min_size=1, max_size=3).flatmap(
        lambda terms: st.sampled_from([" and ", " or "]).map(lambda joiner: joiner.join(terms))
    )
    with_sort = st.tuples(query, st.sampled_from(["", " sortby name", " sortby name desc", " sortby"])).map("".join)
    return st.one_of(with_sort, with_sort, st.text(max_size=20))


def _query(op: Operation) -> st.SearchStrategy[dict[str, str]]:
    optional: dict[str, st.SearchStrategy[str]] = {}
    for param in op.spec.get("parameters", []):
        if param["in"] != "query":
            continue
        if param["name"] == "search":
            optional["search"] = _search(op)
        elif param["name"] == "max":
            optional["max"] = st.one_of(st.integers(-2, 5).map(str), st.sampled_from(["x", "", "1e3", "9" * 25]))
        else:
            optional[param["name"]] = st.sampled_from(["true", "false", "maybe", ""])
    optional["async"] = st.sampled_from(["true", "false"])
    return st.fixed_dictionaries({}, optional=optional)


@st.composite
def _path(draw: st.DrawFn, world: World, op: Operation) -> str:
    params = list(PARAM.finditer(op.template))
    if not params:
        return op.template
    choice, index = draw(st.integers(0, 9)), draw(INDEX)
    filler = st.one_of(st.uuids().map(str), st.sampled_from(["not-a-uuid", "0", "%00", "%C2%B2", "9" * 23, "x" * 99]))
    random_path = _fill(op.template, draw(st.lists(filler, min_size=len(params), max_size=len(params))))
    item, rest = op.template[: params[-1].end()], op.template[params[-1].end() :]
    known = world.entities.get(item, [])
    return known[index % len(known)].path + rest if choice < 8 and known else random_path


def _fill(template: str, ids: list[str]) -> str:
    parts = iter(ids)
    return PARAM.sub(lambda _: next(parts), template)


@st.composite
def requests(draw: st.DrawFn, world: World, operations: list[Operation]) -> tuple[str, str, dict[str, str], bytes]:
    if draw(st.integers(0, 19)) == 0:  # now and then, a path or method the document does not have
        segment = draw(st.sampled_from(["nosuch", "datacenters/x/y/z", "vms/" + str(uuid.UUID(int=1)) + "/fly"]))
        return draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])), f"{API}/{segment}", {}, b"{}"
    op = draw(st.sampled_from(operations))
    body = draw(_body(world, op)) if "requestBody" in op.spec else b""
    return op.method.upper(), draw(_path(world, op)), draw(_query(op)), body


# --- the property ------------------------------------------------------------------------------------------


def _check(world: World, method: str, path: str, response: httpx.Response) -> None:
    world.statuses[response.status_code] = world.statuses.get(response.status_code, 0) + 1
    assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        fault = response.json()
        assert isinstance(fault.get("reason"), str) and isinstance(fault.get("detail"), str), response.text
        assert "Traceback" not in response.text
        return
    template, op = _operation_for(world, method, path)
    responses = op.get("responses", {})
    declared = responses.get(str(response.status_code), {}).get("content", {}).get("application/json")
    if declared and response.content:
        errors = [e.message for e in world.validator(declared["schema"]).iter_errors(response.json())]
        assert not errors, f"{method} {path}: {errors[:5]} in {response.text[:500]}"
    _learn(world, method, path, template, response)


def _operation_for(world: World, method: str, path: str) -> tuple[str, dict[str, Any]]:
    for template, ops in world.document["paths"].items():
        if re.fullmatch(PARAM.sub("[^/]+", template), path) and method.lower() in ops:
            return template, ops[method.lower()]
    raise AssertionError(f"{method} {path} succeeded but the document has no such operation")


def _learn(world: World, method: str, path: str, template: str, response: httpx.Response) -> None:
    item = f"{template}/{{"
    if method == "POST" and response.status_code == 201:
        created = response.json()
        for candidate in world.document["paths"]:
            if candidate.startswith(item) and candidate.count("/") == template.count("/") + 1:
                world.entities.setdefault(candidate, []).append(Entity(f"{path}/{created['id']}", created["id"],
                                                                       created.get("name")))  # fmt: skip


def test_fuzz_the_json_api(world: World, fuzz_engine: EngineProcess) -> None:
    operations = _operations(world.document)
    assert len({(op.method, op.template) for op in operations}) > 20, "the document lists too few operations"
    started = time.monotonic()

    slow = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
            HealthCheck.large_base_example]  # fmt: skip

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=slow)
    @given(request=requests(world, operations))
    def check(request: tuple[str, str, dict[str, str], bytes]) -> None:
        method, path, query, body = request
        response = world.client.request(method, path, params=query, content=body or None)
        _check(world, method, path, response)

    check()
    elapsed = time.monotonic() - started
    print(f"fuzz: {EXAMPLES} examples in {elapsed:.1f}s, statuses {sorted(world.statuses.items())}")
    log = fuzz_engine.log()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:4000]
    # the database's own refusal is a safety net (a 400 all the same): every value should be checked before it
    assert "database refused a value" not in log, [line for line in log.splitlines() if "database refused" in line]
    # the generator reached both outcomes: successes and refusals
    assert sum(n for s, n in world.statuses.items() if s < 300) >= EXAMPLES // 20, world.statuses
    assert sum(n for s, n in world.statuses.items() if 400 <= s < 500) >= EXAMPLES // 4, world.statuses
    assert elapsed < TIME_BUDGET_S, f"fuzzing took {elapsed:.0f}s"
