"""XML and JSON on the wire, both mapped to one canonical shape (oVirt's JSON shape).

Output values keep their Python types until rendering; both renderings write them as oVirt does (booleans as
``true``/``false``, numbers and dates as text).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from extnet.engine.api.faults import BadRequest

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
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return str(value)


def _escape(text: str) -> str:
    text = _NOT_XML.sub("\ufffd", text)
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
