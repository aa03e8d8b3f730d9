"""XML and JSON on the wire, both mapped to one canonical shape (oVirt's JSON shape).

Output values keep their Python types until rendering; both renderings write them as oVirt does (booleans as
``true``/``false``, numbers and dates as text).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from extnet.engine.api.faults import BadRequest

XML_ATTRIBUTES = ("id", "href", "rel")


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return str(value)


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _escape_attr(text: str) -> str:
    return _escape(text).replace('"', "&quot;")


def _write(tag: str, obj: Any, out: list[str]) -> None:
    if obj is None:
        return
    if isinstance(obj, list):
        for item in obj:
            _write(tag, item, out)
        return
    if not isinstance(obj, dict):
        out.append(f"<{tag}>{_escape(_text(obj))}</{tag}>")
        return
    attrs = "".join(
        f' {key}="{_escape_attr(_text(obj[key]))}"'
        for key in XML_ATTRIBUTES
        if key in obj and obj[key] is not None and not isinstance(obj[key], dict | list)
    )
    children: list[str] = []
    for key, value in obj.items():
        if key in XML_ATTRIBUTES and not isinstance(value, dict | list):
            continue
        _write(key, value, children)
    if children:
        out.append(f"<{tag}{attrs}>")
        out.extend(children)
        out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}{attrs}/>")


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
    if isinstance(obj, dict):
        return {key: _jsonable(value) for key, value in obj.items() if value is not None}
    if isinstance(obj, list):
        return [_jsonable(item) for item in obj]
    return _text(obj)


def render_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(_jsonable(obj), separators=(",", ":")).encode()


def render_json_collection(tag: str, items: list[dict[str, Any]]) -> bytes:
    return json.dumps({tag: [_jsonable(item) for item in items]}, separators=(",", ":")).encode()


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
        root = fromstring(body)
    except (ParseError, DefusedXmlException, ValueError) as err:
        raise BadRequest(f"Malformed XML: {err}", reason="Request syntactically incorrect.") from None
    if not isinstance(root.tag, str) or root.tag != expected_tag:
        raise BadRequest(f"Expected a <{expected_tag}> element, got <{root.tag}>")
    value = _element_to_value(root)
    return value if isinstance(value, dict) else {}


def parse_json(body: bytes, expected_tag: str) -> Any:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise BadRequest(f"Malformed JSON: {err}", reason="Request syntactically incorrect.") from None
    if not isinstance(value, dict):
        raise BadRequest(f"Expected a JSON object for '{expected_tag}'")
    # Accept both the bare object (oVirt's form) and {"<tag>": {...}}
    if set(value) == {expected_tag} and isinstance(value[expected_tag], dict):
        value = value[expected_tag]
    return value
