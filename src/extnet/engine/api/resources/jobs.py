"""``/jobs``: the actions run in the background (``async``), newest first (oVirt's Job; read-only, no steps)."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import select

from extnet.engine.api.hrefs import href
from extnet.engine.api.resources.base import Collection, Ctx
from extnet.engine.api.resources.vms import utc
from extnet.engine.api.schema import JOB_STATUS
from extnet.engine.api.search import Matcher, column_matcher
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import Job
from extnet.engine.store.queries import Entity, load


def _owner(job: Job) -> Entity | None:
    if job.owner_id is None:
        return None
    name = job.owner_name or ""
    user_name, _, domain = name.partition("@")
    return {"id": job.owner_id, "user_name": user_name or None, "domain": domain or None, "principal": name or None}


def render_job(job: Job) -> Entity:
    return {
        "href": href("jobs", job.id),
        "id": job.id,
        "description": job.description,
        "comment": job.comment,
        "status": job.status,
        "start_time": utc(job.start_time),
        "end_time": utc(job.end_time),
        "last_updated": utc(job.last_updated),
        "auto_cleared": job.auto_cleared,
        "external": job.external,
        "owner": _owner(job),
    }


def _status_matcher(op: str, value: str, case_sensitive: bool) -> Any:
    status = value.lower()
    if status not in JOB_STATUS:
        raise BadRequest(f"Unknown job status '{value}'; known: {', '.join(JOB_STATUS)}")
    return Job.status != status if op == "!=" else Job.status == status


class Jobs(Collection):
    type_name = "Job"
    what = "job"
    search_fields: ClassVar[dict[str, Matcher] | None] = {
        "status": _status_matcher,
        "description": column_matcher(Job.description),
        "id": column_matcher(Job.id),
        "correlation_id": column_matcher(Job.correlation_id),
        "owner": column_matcher(Job.owner_name),
    }

    def list_(self, ctx: Ctx, parents: list[str]) -> list[Entity]:
        stmt: Any = select(Job).order_by(Job.start_time.desc(), Job.id.desc())
        sortable = {"start_time": Job.start_time, "end_time": Job.end_time, "status": Job.status,
                    "description": Job.description}  # fmt: skip
        return [render_job(job) for job in ctx.db.scalars(self.apply_search(ctx, stmt, sortable))]

    def get(self, ctx: Ctx, parents: list[str], entity_id: str) -> Entity:
        return render_job(load(ctx.db, Job, entity_id, "job"))
