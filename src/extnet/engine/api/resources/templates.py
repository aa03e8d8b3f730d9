"""``/templates`` (read-only): the Blank template every VM starts from.

The Blank template belongs to every data center, so ``datacenter=X`` matches it whenever data center X exists;
``vm.name=X`` matches the template VM X was created from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import exists, literal, select

from extnet.engine.api.hrefs import ref
from extnet.engine.api.mappers import Field, Mapper, const, identity, link_fields
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.search import Matcher, string_match
from extnet.engine.commands.vms import BLANK_TEMPLATE_ID, BLANK_TEMPLATE_NAME
from extnet.engine.errors import NotFound
from extnet.engine.store.models import DataCenter, Vm
from extnet.engine.store.queries import Entity, parse_uuid

BLANK_DESCRIPTION = "Blank template"
BLANK_CREATED = datetime(2008, 4, 1, tzinfo=UTC)

_TEMPLATES = select(
    literal(BLANK_TEMPLATE_ID).label("id"),
    literal(BLANK_TEMPLATE_NAME).label("name"),
    literal(BLANK_DESCRIPTION).label("description"),
).subquery("templates")


def _datacenter_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    clause = exists(select(DataCenter.id).where(string_match(DataCenter.name, "=", value, case_sensitive)))
    return ~clause if op == "!=" else clause


def _vm_name_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    clause = exists(
        select(Vm.id).where(Vm.template_id == _TEMPLATES.c.id, string_match(Vm.name, "=", value, case_sensitive))
    )
    return ~clause if op == "!=" else clause


@dataclass(frozen=True)
class Template:
    """A template as the API shows it (the Blank template is the only one: its other fields are fixed)."""

    id: str
    name: str
    description: str


BLANK = Template(BLANK_TEMPLATE_ID, BLANK_TEMPLATE_NAME, BLANK_DESCRIPTION)
VM_TYPES = ("desktop", "server", "high_performance")

TEMPLATE = Mapper("Template", "template", "templates", (
    *identity("templates", _TEMPLATES.c, name_required=False, comment=False),
    Field("status", ("ok", "locked", "illegal"), const("ok"), "out"),
    Field("memory", "int", const(1024 * 1024 * 1024)),
    Field("cpu", "Cpu", const({"topology": {"sockets": 1, "cores": 1, "threads": 1}, "architecture": "x86_64"})),
    Field("os", "OperatingSystem", const({"type": "other"})),
    Field("type", VM_TYPES, const("server")),
    Field("creation_time", "date", const(BLANK_CREATED), "out"),
    Field("version", "TemplateVersion", lambda template, extra: {
        "version_number": 1, "version_name": "base version", "base_template": ref("templates", template.id)}),
    Field("cluster", "Cluster"),
    *link_fields("templates"),
))  # fmt: skip


def render_blank() -> Entity:
    return TEMPLATE.render(BLANK)


class Templates(Collection):
    type_name = TEMPLATE.type_name
    what = "template"
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **TEMPLATE.search_fields(),
        "datacenter": _datacenter_matcher,
        "vm.name": _vm_name_matcher,
    }

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt = self.apply_search(ctx, select(_TEMPLATES.c.id), {"name": _TEMPLATES.c.name})
        return [render_blank() for _ in ctx.db.scalars(stmt)]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        if parse_uuid(entity_id, "template") != BLANK_TEMPLATE_ID:
            raise NotFound(f"Entity not found: template '{entity_id}'")
        return render_blank()
