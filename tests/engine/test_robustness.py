"""Bad input of every kind gets a fault (XML or JSON, as the client accepts) with a useful detail: never a 5xx,
never a stack trace. Checked over real sockets against the session's engine, in both formats."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from extnet.engine.api.openapi import openapi_document
from extnet.engine.api.root import ROOTS
from tests.servers import ADMIN_PASSWORD, EngineProcess, run_engine

XML_HEADERS = {"Content-Type": "application/xml", "Accept": "application/xml"}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
UNKNOWN_ID = "6c6d3e2a-0000-4000-8000-00000000dead"

# The collections as the code describes them; the served document is checked against this in test_openapi.py
DOC = openapi_document(ROOTS)
API_PATHS = {path: ops for path, ops in DOC["paths"].items() if path.startswith("/ovirt-engine/api/")}
TOP_ITEM_PATHS = [p for p, ops in API_PATHS.items() if p.count("{") == 1 and p.endswith("}") and "get" in ops]
LIST_PATHS = [p for p, ops in API_PATHS.items() if "get" in ops and not p.endswith("}")]
ADD_PATHS = [p for p, ops in API_PATHS.items() if "post" in ops and not p.endswith("}") and "requestBody" in ops["post"]
             and ops["post"]["operationId"].endswith("_add")]  # fmt: skip


def _fault(response: httpx.Response, status: int, fragment: str = "", fmt: str = "xml") -> str:
    """Check that ``response`` is a fault in ``fmt`` with ``status`` and a detail containing ``fragment``."""
    assert response.status_code == status, f"{response.status_code} {response.text[:500]}"
    assert "Traceback" not in response.text and 'File "' not in response.text
    content_type = response.headers.get("content-type", "")
    if fmt == "json":
        assert content_type.startswith("application/json"), content_type
        body = response.json()
        reason, detail = body["reason"], body["detail"]
    else:
        assert content_type.startswith("application/xml"), content_type
        root = ElementTree.fromstring(response.content)
        assert root.tag == "fault"
        reason, detail = root.findtext("reason"), root.findtext("detail")
    assert reason and detail, response.text
    assert fragment in detail, f"{fragment!r} not in {detail!r}"
    return str(detail)


@pytest.fixture
def api(engine: EngineProcess, token: str) -> Iterator[httpx.Client]:
    """A client for the API root with a bearer token; each request sets its own content headers."""
    with httpx.Client(base_url=engine.url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        yield client


@pytest.fixture(autouse=True)
def no_tracebacks(engine: EngineProcess) -> Iterator[None]:
    """The engine logs no unexpected error while a test of this module runs."""
    start = len(engine.log())
    yield
    new = engine.log()[start:]
    assert "Traceback" not in new and "unexpected error" not in new, new[-3000:]
    assert "database refused a value" not in new, new[-3000:]


def _send(api: httpx.Client, method: str, path: str, body: bytes | str | None = None, fmt: str = "xml",
          **kwargs: Any) -> httpx.Response:  # fmt: skip
    headers = JSON_HEADERS if fmt == "json" else XML_HEADERS
    return api.request(method, path, content=body, headers=headers, **kwargs)


def _dc_names(api: httpx.Client, name: str) -> list[str]:
    listed = api.get("datacenters", params={"search": f'name="{name}"'}, headers=JSON_HEADERS).json()
    return [dc["name"] for dc in listed.get("data_center", [])]


# --- malformed XML -----------------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]><data_center><name>&lol9;</name></data_center>"
)
XXE = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><data_center><name>&x;</name></data_center>'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(b"<data_center><name>NAME</name>", "Malformed XML", id="truncated"),
        pytest.param(b"<data_center><name>NAME</nom></data_center>", "Malformed XML", id="mismatched-tag"),
        pytest.param(b"hello", "Malformed XML", id="not-xml"),
        pytest.param(b"<cluster><name>NAME</name></cluster>", "Expected a <data_center> element", id="wrong-root"),
        pytest.param(b'<data_center xmlns="urn:x"><name>NAME</name></data_center>', "Expected a <data_center>",
                     id="namespaced-root"),
        pytest.param(BILLION_LAUGHS.encode(), "document type declarations and entities", id="billion-laughs"),
        pytest.param(XXE.encode(), "document type declarations and entities", id="external-entity"),
        pytest.param(b'<?xml version="1.0"?><!DOCTYPE data_center SYSTEM "http://127.0.0.1:9/x.dtd">'
                     b"<data_center><name>NAME</name></data_center>", "document type declarations", id="dtd"),
        pytest.param(b"<data_center><name>&undefined;</name></data_center>", "Malformed XML", id="undefined-entity"),
        pytest.param(b"<data_center><name>NAME\xff\xfe</name></data_center>", "Malformed XML", id="not-utf8"),
        pytest.param(b"<data_center><name>a&#1;b</name></data_center>", "Malformed XML", id="control-char-ref"),
        pytest.param(b"<data_center><name>NAME</name><colour>red</colour></data_center>", "Unknown field 'colour'",
                     id="unknown-element"),
        pytest.param(b'<data_center colour="red"><name>NAME</name></data_center>', "Unknown attribute 'colour'",
                     id="unknown-attribute"),
        pytest.param(b"<data_center><name>NAME</name><local>maybe</local></data_center>", "Invalid boolean 'maybe'",
                     id="bad-boolean"),
        pytest.param(b"<data_center><name>NAME</name><version><major>four</major></version></data_center>",
                     "Invalid integer 'four' for 'data_center.version.major'", id="bad-integer"),
        pytest.param(b"<data_center><name>NAME</name><version>4.7</version></data_center>",
                     "'data_center.version' must be an object", id="scalar-for-object"),
        pytest.param(b"<data_center><name><first>a</first></name></data_center>", "'data_center.name' must be a single",
                     id="object-for-scalar"),
        pytest.param(b"<data_center><name>NAME</name><name>again</name></data_center>", "must be a single value",
                     id="repeated-scalar"),
        pytest.param(b"<data_center><name>NAME</name><quota_mode>sometimes</quota_mode></data_center>",
                     "expected one of: disabled, audit, enabled", id="bad-enum"),
        pytest.param(b"<data_center>" + b"<version>" * 40 + b"</version>" * 40 + b"</data_center>",
                     "nests deeper than", id="deep-nesting"),
    ],
)  # fmt: skip
def test_malformed_xml_is_a_400_fault(api: httpx.Client, unique: Callable[[str], str], body: bytes,
                                      fragment: str) -> None:  # fmt: skip
    name = unique("xml")
    response = _send(api, "POST", "datacenters", body.replace(b"NAME", name.encode()))
    _fault(response, 400, fragment)
    assert _dc_names(api, name) == []


def test_xml_in_another_declared_encoding_is_read(api: httpx.Client, unique: Callable[[str], str]) -> None:
    name = unique("latin")
    body = f'<?xml version="1.0" encoding="ISO-8859-1"?><data_center><name>{name}</name>' \
           "<description>caf\xe9</description></data_center>"  # fmt: skip
    created = _send(api, "POST", "datacenters", body.encode("latin-1"))
    assert created.status_code == 201, created.text
    dc = ElementTree.fromstring(created.content)
    assert dc.findtext("description") == "caf\u00e9"
    assert api.delete(f"datacenters/{dc.get('id')}").status_code == 200


# --- malformed JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(b'{"name": "NAME"', "Malformed JSON", id="truncated"),
        pytest.param(b"{'name': 'NAME'}", "Malformed JSON", id="single-quotes"),
        pytest.param(b'{"name": "NAME\xff"}', "Malformed JSON", id="not-utf8"),
        pytest.param(b'["NAME"]', "Expected a JSON object for 'data_center'", id="array"),
        pytest.param(b'"NAME"', "Expected a JSON object", id="string"),
        pytest.param(b"42", "Expected a JSON object", id="number"),
        pytest.param(b"null", "Expected a JSON object", id="null"),
        pytest.param(b'{"name": "NAME", "colour": "red"}', "Unknown field 'colour' in 'data_center'", id="unknown"),
        pytest.param(b'{"data_center": {"name": "NAME"}, "x": 1}', "Unknown field 'data_center'", id="bad-wrapper"),
        pytest.param(b'{"name": "NAME", "local": "maybe"}', "Invalid boolean 'maybe'", id="bad-boolean"),
        pytest.param(b'{"name": "NAME", "local": 2}', "Invalid boolean '2'", id="number-for-boolean"),
        pytest.param(b'{"name": "NAME", "version": {"major": "four"}}', "Invalid integer 'four'", id="bad-integer"),
        pytest.param(b'{"name": "NAME", "version": {"major": 4.5}}', "Invalid integer 4.5", id="float-for-integer"),
        pytest.param(b'{"name": "NAME", "version": {"major": true}}', "Invalid integer True", id="bool-for-integer"),
        pytest.param(b'{"name": "NAME", "version": {"major": 1e400}}', "Invalid integer", id="infinite"),
        pytest.param(b'{"name": "NAME", "version": {"major": 123456789012345678901234567890}}', "out of range",
                     id="huge-integer"),
        pytest.param(b'{"name": "NAME", "version": "4.7"}', "must be an object", id="str-for-obj"),
        pytest.param(b'{"name": ["NAME"]}', "'data_center.name' must be a single value, not a list", id="list"),
        pytest.param(b'{"name": {"first": "NAME"}}', "must be a single value, not an object", id="obj-for-str"),
        pytest.param(b'{"name": "NAME\\u0000"}', "control character", id="nul-char"),
        pytest.param(b'{"name": "NAME", "description": "\\ud800"}', "invalid code point", id="lone-surrogate"),
        pytest.param(b'{"name": "NAME", "comment": "\\uffff"}', "invalid code point", id="non-character"),
        pytest.param(b'{"name": "NAME", "mac_pool": "default"}', "'data_center.mac_pool' must be an object",
                     id="str-for-reference"),
        pytest.param(b'{"name": "NAME", "quota_mode": "sometimes"}', "expected one of", id="bad-enum"),
        pytest.param(b'{"name": "NAME", "supported_versions": {"release": []}}', "Unknown field 'release'",
                     id="bad-list-wrapper"),
        pytest.param(b'{"name": "NAME", "version": ' + b'{"major": ' * 40 + b"1" + b"}" * 41, "nests deeper than",
                     id="deep-nesting"),
        pytest.param(b"[" * 100000 + b"]" * 100000, "Malformed JSON", id="recursion-bomb"),
    ],
)  # fmt: skip
def test_malformed_json_is_a_400_fault(api: httpx.Client, unique: Callable[[str], str], body: bytes,
                                       fragment: str) -> None:  # fmt: skip
    name = unique("json")
    response = _send(api, "POST", "datacenters", body.replace(b"NAME", name.encode()), fmt="json")
    _fault(response, 400, fragment, fmt="json")
    assert _dc_names(api, name) == []


def test_json_null_means_not_given(api: httpx.Client, unique: Callable[[str], str]) -> None:
    name = unique("jnull")
    created = _send(api, "POST", "datacenters", f'{{"name": "{name}", "description": null}}', fmt="json")
    assert created.status_code == 201, created.text
    assert "description" not in created.json()
    assert api.delete(f"datacenters/{created.json()['id']}").status_code == 200


@pytest.mark.parametrize(("content_type", "accept", "expected"), [
    ("application/json", "application/xml", "xml"),
    ("application/xml", "application/json", "json"),
    ("application/json", "", "json"),
    ("application/xml", "", "xml"),
])  # fmt: skip
def test_fault_format_follows_accept(api: httpx.Client, content_type: str, accept: str, expected: str) -> None:
    body = b"<data_center" if "xml" in content_type else b'{"name": '
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    response = api.post("datacenters", content=body, headers=headers)
    _fault(response, 400, "Malformed", fmt=expected)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/yaml"])
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unsupported_content_type_is_a_415_naming_the_accepted_ones(
    api: httpx.Client, unique: Callable[[str], str], content_type: str, fmt: str
) -> None:
    name = unique("ctype")
    body = f"<data_center><name>{name}</name></data_center>" if fmt == "xml" else f'{{"name": "{name}"}}'
    accept = "application/json" if fmt == "json" else "application/xml"
    response = api.post("datacenters", content=body, headers={"Content-Type": content_type, "Accept": accept})
    detail = _fault(response, 415, f"The request body's Content-Type '{content_type}' is not supported", fmt)
    assert detail.endswith("send one of: application/xml, text/xml, application/json")
    if fmt == "json":
        assert response.json()["reason"] == "Unsupported Media Type"
    assert _dc_names(api, name) == []  # nothing added


def test_a_body_without_content_type_is_xml_and_an_empty_body_needs_none(
    api: httpx.Client, unique: Callable[[str], str]
) -> None:
    name = unique("untyped")
    created = api.post("datacenters", content=f"<data_center><name>{name}</name></data_center>")
    assert created.status_code == 201, created.text
    dc_id = ElementTree.fromstring(created.content).get("id")
    assert api.post(f"datacenters/{dc_id}/nosuchaction", headers={"Content-Type": "text/plain"}).status_code == 404
    assert api.delete(f"datacenters/{dc_id}", headers={"Content-Type": "text/plain"}).status_code == 200


# --- ids in paths and references ---------------------------------------------------------------------------


MALFORMED_IDS = ["not-an-id", "%00", "'; DROP TABLE x; --", "%C2%B2", "-1", "1.5"]
HUGE_ID = "99999999999999999999999"


@pytest.mark.parametrize("path", TOP_ITEM_PATHS)
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_bad_and_unknown_ids_in_paths(api: httpx.Client, path: str, fmt: str) -> None:
    ops = API_PATHS[path]
    id_schema = [p for p in ops["get"]["parameters"] if p["in"] == "path"][-1]["schema"]
    for bad in [*MALFORMED_IDS, HUGE_ID, *(["1"] if id_schema.get("format") == "uuid" else [])]:
        for method in ("get", "put", "delete"):
            if method not in ops:
                continue
            body = "{}" if fmt == "json" else f"<{_tag(path)}/>"
            response = _send(api, method.upper(), _concrete(path, bad), body if method == "put" else None, fmt)
            if bad == HUGE_ID and id_schema.get("format") != "uuid":
                assert response.status_code in (400, 404), f"{method} {bad}: {response.text}"
                _fault(response, response.status_code, bad, fmt)
            else:  # a malformed id is a 400 that says what is wrong with it
                detail = _fault(response, 400, "id", fmt)
                assert "%" in bad or bad in detail, detail
    unknown = UNKNOWN_ID if id_schema.get("format") == "uuid" else "2147483646"
    for method in ("get", "delete"):
        if method in ops:
            _fault(_send(api, method.upper(), _concrete(path, unknown), fmt=fmt), 404, unknown, fmt)


def _concrete(path: str, entity_id: str) -> str:
    template = path.removeprefix("/ovirt-engine/api/")
    return template.split("{")[0] + entity_id + template.split("}", 1)[1]


def _tag(path: str) -> str:
    return path.rsplit("{", 1)[1].removesuffix("_id}")


def test_bad_references_name_the_reference(api: httpx.Client, unique: Callable[[str], str]) -> None:
    name = unique("ref")
    for ref, fragment in (({"id": "zzz"}, "'zzz'"), ({"id": UNKNOWN_ID}, UNKNOWN_ID),
                          ({"name": unique("nopool")}, "does not exist"), ({}, "")):  # fmt: skip
        response = _send(api, "POST", "datacenters", f'{{"name": "{name}", "mac_pool": {_js(ref)}}}', fmt="json")
        if ref:
            detail = _fault(response, 400, fragment, fmt="json")
            assert "MAC pool" in detail
        else:  # an empty reference is no reference
            assert response.status_code == 201, response.text
            assert api.delete(f"datacenters/{response.json()['id']}").status_code == 200


REFERENCES = [
    # (collection, body without the reference, reference field, what the fault calls it)
    ("clusters", {"cpu": {"type": "Intel Nehalem Family"}}, "data_center", "data center"),
    ("networks", {}, "data_center", "data center"),
    ("vnicprofiles", {}, "network", "network"),
    ("vms", {"template": {"name": "Blank"}}, "cluster", "cluster"),
    ("vms", {"cluster": {"name": "Default"}}, "template", "template"),
]


@pytest.mark.parametrize(("collection", "body", "field", "what"), REFERENCES, ids=lambda v: str(v)[:20])
@pytest.mark.parametrize("bad", ["not-a-uuid", UNKNOWN_ID])
def test_bad_references_in_other_collections(
    api: httpx.Client, unique: Callable[[str], str], collection: str, body: dict[str, Any], field: str, what: str,
    bad: str,
) -> None:  # fmt: skip
    payload = {"name": unique("ref"), **body, field: {"id": bad}}
    response = _send(api, "POST", collection, _js(payload), fmt="json")
    assert response.status_code in (400, 404, 409), response.text
    detail = _fault(response, response.status_code, bad, fmt="json")
    assert what in detail.lower()


def _js(value: Any) -> str:
    import json

    return json.dumps(value)


# --- oversized bodies --------------------------------------------------------------------------------------


def test_oversized_body_is_a_400_fault(api: httpx.Client) -> None:
    big = b"<data_center><name>" + b"x" * (1024 * 1024 + 1) + b"</name></data_center>"
    _fault(_send(api, "POST", "datacenters", big), 400, "larger than the limit of 1048576 bytes")
    _fault(_send(api, "POST", "datacenters", big, fmt="json"), 400, "larger than the limit", fmt="json")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for _ in range(20):
            yield b"y" * 65536

    _fault(api.post("datacenters", content=chunks(), headers=XML_HEADERS), 400, "larger than the limit")


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    with run_engine(tmp_path_factory.mktemp("small"), env={"EXTNET_MAX_BODY_BYTES": "2048"}) as process:
        yield process


def test_max_body_bytes_setting(small_engine: EngineProcess, unique: Callable[[str], str]) -> None:
    auth = ("admin@internal", ADMIN_PASSWORD)
    name = unique("small")
    fits = f"<data_center><name>{name}</name><description>{'d' * 1500}</description></data_center>"
    created = httpx.post(small_engine.url + "/datacenters", content=fits, headers=XML_HEADERS, auth=auth)
    assert created.status_code == 201, created.text
    too_big = fits.replace("d" * 1500, "d" * 2100)
    _fault(httpx.post(small_engine.url + "/datacenters", content=too_big, headers=XML_HEADERS, auth=auth), 400,
           "larger than the limit of 2048 bytes")  # fmt: skip
    form = {"grant_type": "password", "username": "admin@internal", "password": "p" * 3000}
    token = httpx.post(f"{small_engine.base}/ovirt-engine/sso/oauth/token", data=form)
    assert token.status_code == 400 and token.json()["error"] == "invalid_request"
    assert "larger than the limit" in token.json()["error_description"]
    assert "Traceback" not in small_engine.log()


# --- unknown paths and wrong methods -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(("method", "path", "status", "fragment"), [
    ("GET", "nonexistent", 404, "No such collection: 'nonexistent'"),
    ("POST", "nonexistent", 404, "No such collection"),
    ("GET", f"datacenters/{UNKNOWN_ID}/nosuch", 404, "No such sub-collection or action: 'nosuch'"),
    ("GET", f"datacenters/{UNKNOWN_ID}/nosuch/{UNKNOWN_ID}/deeper", 404, "'nosuch'"),
    ("POST", f"datacenters/{UNKNOWN_ID}/explode", 404, "No such sub-collection or action: 'explode'"),
    ("GET", "v4/nonexistent", 404, "No such collection: 'nonexistent'"),
    ("GET", "v4/datacenters/not-a-uuid", 400, "must be a UUID"),
    ("GET", f"v4/datacenters/{UNKNOWN_ID}", 404, UNKNOWN_ID),
    ("PUT", "datacenters", 405, "PUT is not allowed on a collection"),
    ("DELETE", "datacenters", 405, "DELETE is not allowed on a collection"),
    ("POST", f"datacenters/{UNKNOWN_ID}", 405, "POST is not allowed on an entity"),
    ("GET", f"datacenters/{UNKNOWN_ID}/cleanfinishedtasks", 405, "needs POST"),
    ("PATCH", "datacenters", 405, "PATCH is not supported"),
    ("OPTIONS", f"datacenters/{UNKNOWN_ID}", 405, "OPTIONS is not supported"),
    ("POST", "", 405, "The API root only answers GET"),
    ("DELETE", "v4", 405, "The API root only answers GET"),
])  # fmt: skip
def test_unknown_paths_and_wrong_methods(api: httpx.Client, method: str, path: str, status: int, fragment: str,
                                         fmt: str) -> None:  # fmt: skip
    body = None if method in ("GET", "DELETE", "OPTIONS") else ("{}" if fmt == "json" else "<data_center/>")
    _fault(_send(api, method, path, body, fmt), status, fragment, fmt)


def test_v4_alias_serves_the_same_api(api: httpx.Client) -> None:
    for path in ("", "datacenters"):
        plain = api.get(path, headers=JSON_HEADERS)
        aliased = api.get(f"v4/{path}".rstrip("/"), headers=JSON_HEADERS)
        assert plain.status_code == aliased.status_code == 200
        assert plain.json().keys() == aliased.json().keys()
    default = api.get("datacenters", params={"search": "name=Default"}, headers=JSON_HEADERS).json()["data_center"][0]
    assert api.get(f"v4/datacenters/{default['id']}", headers=JSON_HEADERS).json()["name"] == "Default"


def test_post_to_a_collection_without_add_is_405_before_parsing(api: httpx.Client) -> None:
    unsupported = [p for p, ops in API_PATHS.items() if "get" in ops and "post" not in ops and not p.endswith("}")]
    if not unsupported:
        pytest.skip("every collection that lists also adds")
    for path in unsupported[:5]:
        concrete = path.removeprefix("/ovirt-engine/api/")
        while "{" in concrete:
            concrete = _concrete("/ovirt-engine/api/" + concrete, UNKNOWN_ID)
        _fault(_send(api, "POST", concrete, b"<garbage", fmt="xml"), 405, "not supported")


# --- search, max and flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("search", "fragment"), [
    ("name=", "ends too early"),
    ("name", "ends too early"),
    ("(name=x", "ends too early"),
    ("name=x)", "Unexpected ')'"),
    ('name="abc', "Cannot parse search query"),
    ("name=x and", "ends too early"),
    ("name=x or or name=y", "Unknown search field 'or'"),
    ("=x", "Expected a field name"),
    ("name x", "Expected an operator after 'name'"),
    ("name==x", "Expected a value after 'name='"),
    ("name!x", "Cannot parse search query"),
    ("sortby", "ends too early"),
    ("name=x sortby name up", "Unexpected 'up'"),
    ("name=x sortby colour", "Cannot sort by 'colour'"),
    ("colour=red", "Unknown search field 'colour'"),
    ("name=x and colour=red", "Unknown search field 'colour'"),
    ("local=maybe", "must be true or false"),
    ("status=exploded", "Unknown data center status 'exploded'"),
    ("name=a\x01b", "control character"),
    ("(" * 40 + "name=x" + ")" * 40, "deeper than 16"),
    (" or ".join(f"name=n{i}" for i in range(200)), "more than 64 comparisons"),
])  # fmt: skip
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_search_errors_are_400(api: httpx.Client, search: str, fragment: str, fmt: str) -> None:
    response = _send(api, "GET", "datacenters", params={"search": search}, fmt=fmt)
    _fault(response, 400, fragment, fmt)


def test_unknown_search_field_lists_the_known_ones(api: httpx.Client) -> None:
    detail = _fault(_send(api, "GET", "datacenters", params={"search": "colour=red"}), 400)
    assert "can be searched by" in detail and "name" in detail


@pytest.mark.parametrize("path", [p for p in LIST_PATHS if "{" not in p])
def test_search_never_matches_everything(api: httpx.Client, path: str) -> None:
    concrete = path.removeprefix("/ovirt-engine/api/")
    params = {p["name"] for p in API_PATHS[path]["get"].get("parameters", [])}
    if "search" not in params:
        _fault(_send(api, "GET", concrete, params={"search": "name=x"}), 400, "does not support search")
        return
    _fault(_send(api, "GET", concrete, params={"search": "colour=red"}), 400, "Unknown search field 'colour'")
    fields = next(p.get("description", "") for p in API_PATHS[path]["get"]["parameters"] if p["name"] == "search")
    if "name" not in fields.removeprefix("fields: ").split(", "):
        return
    nobody = _send(api, "GET", concrete, params={"search": f"name={uuid.uuid4().hex}"}, fmt="json")
    assert nobody.status_code == 200, nobody.text
    assert all(not v for v in nobody.json().values()), nobody.text


NESTED_LIST_PATHS = [p for p in LIST_PATHS if p.count("{") == 1]


@pytest.mark.parametrize("path", NESTED_LIST_PATHS)
def test_search_on_nested_collections(api: httpx.Client, path: str) -> None:
    params = {p["name"] for p in API_PATHS[path]["get"].get("parameters", [])}
    if "search" not in params:  # refused before the parent is even looked up
        response = _send(api, "GET", _concrete(path, UNKNOWN_ID), params={"search": "name=x"})
        _fault(response, 400, "does not support search")
        return
    parent = path.removeprefix("/ovirt-engine/api/").split("/")[0]
    items: list[Any] = next(iter(api.get(parent, headers=JSON_HEADERS).json().values()), [])
    if not items:
        pytest.skip(f"/{parent} is empty")
    response = _send(api, "GET", _concrete(path, items[0]["id"]), params={"search": "colour=red"})
    _fault(response, 400, "Unknown search field 'colour'")


@pytest.mark.parametrize(("value", "fragment"), [
    ("abc", "'max' must be a number, not 'abc'"),
    ("1.5", "must be a number"),
    ("", "must be a number"),
    ("\u00b2", "must be a number"),
    ("-5", "must not be negative"),
    ("99999999999999999999999999", "must be at most 2147483647"),
    ("2147483648", "must be at most 2147483647"),
])  # fmt: skip
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_max_must_be_a_number(api: httpx.Client, value: str, fragment: str, fmt: str) -> None:
    _fault(_send(api, "GET", "datacenters", params={"max": value}, fmt=fmt), 400, fragment, fmt)


@pytest.mark.parametrize("path", LIST_PATHS)
def test_max_is_checked_on_every_list(api: httpx.Client, path: str) -> None:
    concrete = path.removeprefix("/ovirt-engine/api/")
    while "{" in concrete:
        concrete = _concrete("/ovirt-engine/api/" + concrete, UNKNOWN_ID)
    _fault(_send(api, "GET", concrete, params={"max": "lots"}), 400, "'max' must be a number")


def test_max_limits_and_minus_one_means_all(api: httpx.Client) -> None:
    everything = api.get("datacenters", headers=JSON_HEADERS).json()["data_center"]
    assert len(api.get("datacenters", params={"max": "-1"}, headers=JSON_HEADERS).json()["data_center"]) == len(
        everything
    )
    assert len(api.get("datacenters", params={"max": "1"}, headers=JSON_HEADERS).json()["data_center"]) == 1
    assert api.get("datacenters", params={"max": "0"}, headers=JSON_HEADERS).json().get("data_center", []) == []


def test_bad_flags_are_400_and_change_nothing(api: httpx.Client, unique: Callable[[str], str]) -> None:
    created = _send(api, "POST", "datacenters", _js({"name": unique("flag")}), fmt="json").json()
    _fault(_send(api, "DELETE", f"datacenters/{created['id']}", params={"force": "maybe"}), 400,
           "'force' must be true or false")  # fmt: skip
    assert api.get(f"datacenters/{created['id']}", headers=JSON_HEADERS).status_code == 200
    _fault(_send(api, "GET", "datacenters", params={"search": "name=x", "case_sensitive": "perhaps"}), 400,
           "'case_sensitive' must be true or false")  # fmt: skip
    assert api.delete(f"datacenters/{created['id']}").status_code == 200


# --- authentication faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(("authorization", "fragment"), [
    (None, "Authentication required"),
    ("Bearer not-a-token", "not valid"),
    ("Basic !!!", "Malformed HTTP Basic credentials"),
    ("Basic bm9jb2xvbg==", "Malformed HTTP Basic credentials"),  # "nocolon"
    ("Negotiate abc", "Authentication required"),
])  # fmt: skip
def test_authentication_faults(engine: EngineProcess, fmt: str, authorization: str | None, fragment: str) -> None:
    headers = dict(JSON_HEADERS if fmt == "json" else XML_HEADERS)
    if authorization:
        headers["Authorization"] = authorization
    response = httpx.get(engine.url + "/datacenters", headers=headers)
    _fault(response, 401, fragment, fmt)
    assert response.headers["www-authenticate"].startswith("Bearer")
