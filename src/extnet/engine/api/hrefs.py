"""Where things are in the API: hrefs, references to other entities, and links to sub-collections."""

from __future__ import annotations

from typing import Any

API = "/ovirt-engine/api"
Entity = dict[str, Any]


def href(*parts: str) -> str:
    return "/".join((API, *parts))


def ref(collection: str, entity_id: str | None) -> Entity | None:
    """A reference to another entity: ``<data_center id=".." href=".."/>``."""
    if entity_id is None:
        return None
    return {"href": href(collection, entity_id), "id": entity_id}


def links(base: str, *rels: str) -> list[Entity]:
    return [{"href": f"{base}/{rel}", "rel": rel} for rel in rels]
