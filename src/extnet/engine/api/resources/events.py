"""``/events``: the audit log (oVirt's shape: integer ids, code, severity, description, time)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sqlalchemy import delete, select

from extnet.engine.api.hrefs import href
from extnet.engine.api.mappers import Field, Mapper, attr, const, link_fields, reference
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.search import Matcher, column_matcher
from extnet.engine.errors import BadRequest, NotFound
from extnet.engine.store.events import Code, record
from extnet.engine.store.models import Event
from extnet.engine.store.queries import Entity

SEVERITIES = ("normal", "warning", "error", "alert")
_EVENT_ID = re.compile(r"[0-9]{1,18}")


EVENT = Mapper("Event", "event", "events", (
    Field("href", "str", lambda event, extra: href("events", str(event.id)), "out"),
    Field("id", "id", lambda event, extra: str(event.id)),
    Field("name", "str"),
    Field("code", "int", attr("code"), search=column_matcher(Event.code, "int")),
    Field("description", "str", attr("description"), required=True, search=column_matcher(Event.description)),
    Field("comment", "str"),
    Field("severity", SEVERITIES, attr("severity"), search=column_matcher(Event.severity)),
    Field("time", "date", attr("time"), "out"),
    Field("origin", "str", const("extnet")),
    Field("custom_id", "int"),
    Field("flood_rate", "int"),
    Field("index", "int", attr("id"), "out"),
    Field("correlation_id", "str", attr("correlation_id")),
    Field("log_on_host", "bool"),
    Field("data_center", "DataCenter", reference("datacenters", "data_center_id")),
    Field("cluster", "Cluster", reference("clusters", "cluster_id")),
    Field("host", "Host", reference("hosts", "host_id")),
    Field("vm", "Vm", reference("vms", "vm_id")),
    Field("custom_data", "str", lambda event, extra: f"provider={event.provider_id}" if event.provider_id else None),
    Field("user", "User"),
    *link_fields("events"),
))  # fmt: skip


def render_event(event: Event) -> Entity:
    return EVENT.render(event)


def _event_id(text: str) -> int:
    if not _EVENT_ID.fullmatch(text):
        raise BadRequest(f"Invalid event id '{text}': event ids are whole numbers")
    return int(text)


class Events(Collection):
    required_on_add = EVENT.required()
    list_parameters: ClassVar[dict[str, dict[str, Any]]] = {
        "from": {"type": "string", "pattern": "^[0-9]{1,18}$", "description": "Only the events after this index"},
    }
    type_name = EVENT.type_name
    what = "event"
    id_kind = "int"
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **EVENT.search_fields(),
        "type": column_matcher(Event.code, "int"),
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
