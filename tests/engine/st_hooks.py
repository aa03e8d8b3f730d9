"""Schemathesis hooks of tests/engine/test_schemathesis.py (loaded through ``SCHEMATHESIS_HOOKS``).

``refused_for_its_form``: a request that the document calls valid may be refused with a 400 only for what a schema
cannot say (an object it names does not exist, or is named by a malformed id, a rule of the model, the search
language): never for its form, the faults of ``api/schema.coerce``, the codec, the path and the query, which the
document states exactly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import schemathesis

SYNTAX = re.compile(
    r"Unknown field|Unknown attribute|Invalid value '|Invalid boolean|Invalid integer|Integer .* is out of range"
    r"|Invalid date|must be an object, not|must be a single value|contains a control character|Malformed"
    r"|Expected a JSON object|Expected a <|nests deeper|it must be a whole number"
    r"|Query parameter|must be true or false|name is required|is longer than \d+ characters"
    r"|may contain only letters|needs a description|Content-Type"
)


@schemathesis.check
def refused_for_its_form(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    try:
        detail = str(json.loads(response.content).get("detail", ""))
    except (ValueError, AttributeError):
        detail = response.text
    if SYNTAX.search(detail):
        raise AssertionError(f"A request valid by the document was refused for its form: {detail}")
    return None
