"""``/events``: the audit log (oVirt's shape: integer ids, code, severity, description, time)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sqlalchemy import delete, select

from extnet.engine.api.resources.base import Collection, Ctx, href, ref
from extnet.engine.api.search import Matcher, column_matcher
from extnet.engine.errors import BadRequest, NotFound
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Event
from extnet.engine.store.queries import Entity

SEVERITIES = ("normal", "warning", "error", "alert")
_EVENT_ID = re.compile(r"[0-9]{1,18}")


def render_event(event: Event) -> Entity:
    return {
        "href": href("events", str(event.id)),
        "id": str(event.id),
        "code": event.code,
        "description": event.description,
        "severity": event.severity,
        "time": event.time,
        "origin": "extnet",
        "index": event.id,
        "correlation_id": event.correlation_id,
        "data_center": ref("datacenters", event.data_center_id),
        "cluster": ref("clusters", event.cluster_id),
        "host": ref("hosts", event.host_id),
        "vm": ref("vms", event.vm_id),
        "custom_data": f"provider={event.provider_id}" if event.provider_id else None,
    }


def _event_id(text: str) -> int:
    if not _EVENT_ID.fullmatch(text):
        raise BadRequest(f"Invalid event id '{text}': event ids are whole numbers")
    return int(text)


class Events(Collection):
    type_name = "Event"
    what = "event"
    id_kind = "int"
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        "severity": column_matcher(Event.severity),
        "type": column_matcher(Event.code, "int"),
        "code": column_matcher(Event.code, "int"),
        "description": column_matcher(Event.description),
        "message": column_matcher(Event.description),
        "provider": column_matcher(Event.provider_id),
        "vm.id": column_matcher(Event.vm_id),
        "network.id": column_matcher(Event.network_id),
    }

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt: Any = select(Event).order_by(Event.id.desc())
        since = ctx.query.get("from")
        if since is not None:
            stmt = stmt.where(Event.id > _event_id(since))
        stmt = self.apply_search(ctx, stmt, {"time": Event.time, "severity": Event.severity})
        return [render_event(event) for event in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        event = ctx.db.get(Event, _event_id(entity_id))
        if event is None:
            raise NotFound(f"Entity not found: event '{entity_id}'")
        return render_event(event)

    def add(self, ctx: Ctx, parents: list[str], body: Entity) -> Entity:
        description = body.get("description")
        if not description:
            raise BadRequest("An event needs a description")
        severity = body.get("severity", "normal")
        event = record(ctx.db, Code.CUSTOM, description, severity)
        ctx.db.flush()
        return render_event(event)

    def remove(self, ctx: Ctx, parents: list[str], entity_id: str) -> None:
        result = ctx.db.execute(delete(Event).where(Event.id == _event_id(entity_id)))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"Entity not found: event '{entity_id}'")
