"""XML and JSON on the wire, both mapped to one canonical shape (oVirt's JSON shape).

Output values keep their Python types until rendering; both renderings write them as oVirt does (booleans as
``true``/``false``, numbers and dates as text).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from extnet.engine.errors import BadRequest

XML_ATTRIBUTES = ("id", "href", "rel")
# No type of the model nests anywhere near this deep; the limit keeps the mapping's recursion bounded.
MAX_DEPTH = 32
# Characters XML 1.0 cannot carry at all (not even escaped); they can reach output through echoed input
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime):  # the store keeps UTC; SQLite gives it back without its zone
        zoned = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return zoned.isoformat(timespec="milliseconds")
    return str(value)


# Anything that needs escaping or replacing; most text has none, and one C-level search says so
_NEEDS_WORK = re.compile('[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def _escape(text: str) -> str:
    if not _NEEDS_WORK.search(text):
        return text
    text = _NOT_XML.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    return _escape(text).replace('"', "&quot;")


_ATTRIBUTE_KEYS = frozenset(XML_ATTRIBUTES)
_CONTAINERS = (dict, list)


def _write(tag: str, obj: Any, out: list[str]) -> None:
    kind = type(obj)
    if obj is None:
        return
    if kind is list:
        for item in obj:
            _write(tag, item, out)
        return
    if kind is not dict:
        out.append(f"<{tag}>{_escape(obj if kind is str else _text(obj))}</{tag}>")
        return
    attrs = ""
    for key in XML_ATTRIBUTES:
        value = obj.get(key)
        if value is not None and not isinstance(value, _CONTAINERS):
            attrs += f' {key}="{_escape_attr(value if type(value) is str else _text(value))}"'
    opened = len(out)
    out.append(f"<{tag}{attrs}>")
    for key, value in obj.items():
        if value is None or (key in _ATTRIBUTE_KEYS and not isinstance(value, _CONTAINERS)):
            continue
        _write(key, value, out)
    if len(out) == opened + 1:
        out[opened] = f"<{tag}{attrs}/>"
    else:
        out.append(f"</{tag}>")


def render_xml(tag: str, obj: dict[str, Any]) -> bytes:
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n']
    _write(tag, obj, out)
    return "".join(out).encode()


def render_xml_collection(plural: str, tag: str, items: list[dict[str, Any]]) -> bytes:
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n', f"<{plural}>"]
    for item in items:
        _write(tag, item, out)
    out.append(f"</{plural}>")
    return "".join(out).encode()


def _jsonable(obj: Any) -> Any:
    kind = type(obj)
    if kind is dict:
        return {key: _jsonable(value) for key, value in obj.items() if value is not None}
    if kind is list:
        return [_jsonable(item) for item in obj]
    if kind is str:
        return obj
    return _text(obj)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # e.g. a lone surrogate that came from a provider: json escapes it
        return json.dumps(value, separators=(",", ":")).encode()


def render_json(obj: dict[str, Any]) -> bytes:
    return _dumps(_jsonable(obj))


def render_json_collection(tag: str, items: list[dict[str, Any]]) -> bytes:
    return _dumps({tag: [_jsonable(item) for item in items]})


def _element_to_value(elem: Element) -> Any:
    children = list(elem)
    attrs = {key: value for key, value in elem.attrib.items() if key in XML_ATTRIBUTES}
    unknown_attrs = set(elem.attrib) - set(XML_ATTRIBUTES)
    if unknown_attrs:
        raise BadRequest(f"Unknown attribute '{sorted(unknown_attrs)[0]}' on element '{elem.tag}'")
    if not children and not attrs:
        return (elem.text or "").strip()
    result: dict[str, Any] = dict(attrs)
    for child in children:
        value = _element_to_value(child)
        if child.tag in result:
            existing = result[child.tag]
            if isinstance(existing, list):
                existing.append(value)
            else:
                result[child.tag] = [existing, value]
        else:
            result[child.tag] = value
    return result


def parse_xml(body: bytes, expected_tag: str) -> Any:
    try:
        root = fromstring(body, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise BadRequest(
            "Malformed XML: document type declarations and entities are not accepted",
            reason="Request syntactically incorrect.",
        ) from None
    except (ParseError, DefusedXmlException, ValueError) as err:
        raise BadRequest(f"Malformed XML: {err}", reason="Request syntactically incorrect.") from None
    if not isinstance(root.tag, str) or root.tag != expected_tag:
        raise BadRequest(f"Expected a <{expected_tag}> element, got <{root.tag}>")
    _check_depth(root, expected_tag)
    value = _element_to_value(root)
    return value if isinstance(value, dict) else {}


def _check_depth(root: Element, tag: str) -> None:
    level: list[Element] = [root]
    for _ in range(MAX_DEPTH):
        level = [child for elem in level for child in elem]
        if not level:
            return
    raise BadRequest(f"The <{tag}> document nests deeper than {MAX_DEPTH} levels")


def parse_json(body: bytes, expected_tag: str) -> Any:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise BadRequest(f"Malformed JSON: {_json_error(err)}", reason="Request syntactically incorrect.") from None
    if not isinstance(value, dict):
        raise BadRequest(f"Expected a JSON object for '{expected_tag}'")
    # Accept both the bare object (oVirt's form) and {"<tag>": {...}}
    if set(value) == {expected_tag} and isinstance(value[expected_tag], dict):
        value = value[expected_tag]
    if _depth(value) > MAX_DEPTH:
        raise BadRequest(f"The '{expected_tag}' object nests deeper than {MAX_DEPTH} levels")
    return value


def _json_error(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return "nested too deeply"
    if isinstance(err, UnicodeDecodeError):
        return "the body is not UTF-8"
    return str(err)


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, computed without recursion."""
    depth, level = 0, [value]
    while level and depth <= MAX_DEPTH:
        depth += 1
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
        ]
    return depth
