"""``/jobs``: the actions run in the background (``async``), newest first (oVirt's Job; read-only, no steps)."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import select

from extnet.engine.api.mappers import Field, Mapper, Source, attr, href_field
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.resources.vms import utc
from extnet.engine.api.schema import JOB_STATUS
from extnet.engine.api.search import Matcher, column_matcher
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import Job
from extnet.engine.store.queries import Entity, load


def _owner(job: Job, extra: Entity) -> Entity | None:
    if job.owner_id is None:
        return None
    name = job.owner_name or ""
    user_name, _, domain = name.partition("@")
    return {"id": job.owner_id, "user_name": user_name or None, "domain": domain or None, "principal": name or None}


def _status_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    status = value.lower()
    if status not in JOB_STATUS:
        raise BadRequest(f"Unknown job status '{value}'; known: {', '.join(JOB_STATUS)}")
    return Job.status != status if op == "!=" else Job.status == status


def _time(name: str) -> Source:
    return lambda job, extra: utc(getattr(job, name))


JOB = Mapper("Job", "job", "jobs", (
    href_field("jobs"),
    Field("id", "id", attr("id"), search=column_matcher(Job.id)),
    Field("name", "str"),
    Field("description", "str", attr("description"), search=column_matcher(Job.description)),
    Field("comment", "str", attr("comment")),  # why the job failed
    Field("status", JOB_STATUS, attr("status"), "out", search=_status_matcher),
    Field("start_time", "date", _time("start_time"), "out"),
    Field("end_time", "date", _time("end_time"), "out"),
    Field("last_updated", "date", _time("last_updated"), "out"),
    Field("auto_cleared", "bool", attr("auto_cleared")),
    Field("external", "bool", attr("external")),
    Field("owner", "User", _owner, search=column_matcher(Job.owner_name)),
))  # fmt: skip


def render_job(job: Job) -> Entity:
    return JOB.render(job)


class Jobs(Collection):
    type_name = JOB.type_name
    what = "job"
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        **JOB.search_fields(),
        "correlation_id": column_matcher(Job.correlation_id),
    }

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt: Any = select(Job).order_by(Job.start_time.desc(), Job.id.desc())
        sortable = {"start_time": Job.start_time, "end_time": Job.end_time, "status": Job.status,
                    "description": Job.description}  # fmt: skip
        return [render_job(job) for job in ctx.db.scalars(self.apply_search(ctx, stmt, sortable))]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_job(load(ctx.db, Job, entity_id, "job"))
