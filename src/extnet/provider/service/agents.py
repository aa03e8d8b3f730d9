"""Agents: hosts report themselves (and their ports' data-plane state) with an admin-only heartbeat; an agent whose
last heartbeat is older than the configured down time is not alive, and ports no longer bind to its host."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extnet.common.host_accounts import HOST_AGENT, reported_host
from extnet.provider.errors import bad_request, forbidden
from extnet.provider.service import binding, common, ports
from extnet.provider.service.common import Ctx, ListRequest
from extnet.provider.store.backend import AllOf, Cond, In, Kind, Page, Query, Record

KIND = Kind.AGENT
HEARTBEAT_REFRESH_S = 1.0
HEARTBEAT_KEYS = {
    "host",
    "agent_type",
    "binary",
    "configurations",
    "topic",
    "availability_zone",
    "description",
    "start_flag",
    "devices_up",
    "devices_down",
    "devices_digest",
    "devices_since",
    "devices_full",
}
DIGEST_KEYS = ("devices_digest", "devices_since")
HEX = frozenset("0123456789abcdef")


@dataclass
class Beat:
    """What a heartbeat did: the agent, whether it was new, what the reported ports did, and whether the agent must
    report all its devices again (None: it sent no digest)."""

    agent: Record
    created: bool
    followed: ports.Followed
    resync: bool | None = None


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _with_alive(ctx: Ctx, records: list[Record]) -> list[Record]:
    now = time.time()
    for record in records:
        record["alive"] = binding.alive(record, ctx.config.agent_down_time, now)
    return records


def get(ctx: Ctx, id_: str, want: frozenset[str] | None = None) -> Record:
    return _with_alive(ctx, [common.load(ctx, KIND, id_, want)])[0]


def listing(ctx: Ctx, request: ListRequest, want: frozenset[str] | None) -> Page:
    alive_filter = [c for c in request.where if isinstance(c, In) and c.field == "alive"]
    request.where = [c for c in request.where if c not in alive_filter]
    page = common.listing(ctx, KIND, request, want)
    page.records = _with_alive(ctx, page.records)
    for cond in alive_filter:
        page.records = [r for r in page.records if r["alive"] in cond.values]
    return page


def update(ctx: Ctx, id_: str, values: dict[str, Any], if_match: int | None) -> Record:
    if not ctx.admin:
        raise forbidden("rule:update_agent is disallowed by policy")
    record = common.load(ctx, KIND, id_, lock=True)
    ctx.tx.update(KIND, id_, values)
    return _with_alive(ctx, [{**record, **values}])[0]


def delete(ctx: Ctx, id_: str, if_match: int | None) -> None:
    if not ctx.admin:
        raise forbidden("rule:delete_agent is disallowed by policy")
    common.load(ctx, KIND, id_, lock=True)
    ctx.tx.delete(KIND, [id_])


def heartbeat(ctx: Ctx, body: Any) -> Beat:
    """Create or refresh the agent ``body["agent"]`` describes, and set the status of the ports it reports up or
    down; with a device digest, keep the digest of the agent's devices the provider holds (docs/host-agent.md)."""
    if not ctx.admin:
        raise forbidden("rule:create_agent_heartbeat is disallowed by policy")
    report = _report(body)
    _check_reporter(ctx, report["host"])
    now = time.time()
    stamp = _time(now)
    where: Cond = AllOf((In("agent_type", (report["agent_type"],)), In("host", (report["host"],))))
    found = ctx.tx.find(KIND, Query(where=where, lock=True)).records
    changes: dict[str, Any] = {
        "heartbeat_timestamp": stamp,
        "heartbeat_epoch": now,
        "configurations": report.get("configurations", {}),
        "binary": report["binary"],
    }
    for key in ("topic", "availability_zone", "description"):
        if key in report:
            changes[key] = report[key]
    resync = _digest(report, found[0].get("devices_digest") if found else None, changes)
    if found:
        record = found[0]
        if report.get("start_flag"):
            changes["started_at"] = stamp
        if _worth_writing(record, changes, now):
            ctx.tx.update(KIND, record["id"], changes)
            record = {**record, **changes}
        created = False
    else:
        record = {
            "id": common.new_id(),
            "agent_type": report["agent_type"],
            "host": report["host"],
            "topic": "N/A",
            "admin_state_up": True,
            "description": None,
            "availability_zone": None,
            "created_at": stamp,
            "started_at": stamp,
            **changes,
        }
        ctx.tx.insert(KIND, [record])
        created = True
    followed = ports.Followed()
    if ctx.config.device_reports:
        followed = ports.set_status(ctx, report["host"], report.get("devices_up", []), report.get("devices_down", []))
    return Beat(_with_alive(ctx, [record])[0], created, followed, resync)


def _digest(report: dict[str, Any], held: str | None, changes: dict[str, Any]) -> bool | None:
    """The digest the provider holds after this report (into ``changes``), and whether the agent must report all its
    devices again: a full report is taken as it is; changes only in step with what the provider holds (the agent
    says which digest it started from), else the provider holds none until the agent reports all again."""
    digest = report.get("devices_digest")
    if digest is None:
        return None  # an agent without digests reports all its devices every time
    resync = not report.get("devices_full") and (held is None or report.get("devices_since") != held)
    changes["devices_digest"] = None if resync else digest
    return resync


def _worth_writing(record: Record, changes: dict[str, Any], now: float) -> bool:
    """Whether a beat changes the agent: anything but its time, or its time by a second or more (beats that report
    plugs come many a second; liveness is counted in tens of seconds)."""
    if any(
        record.get(key) != value
        for key, value in changes.items()
        if key not in ("heartbeat_timestamp", "heartbeat_epoch")
    ):
        return True
    return now - float(record.get("heartbeat_epoch") or 0) >= HEARTBEAT_REFRESH_S


def _check_reporter(ctx: Ctx, host: str) -> None:
    """A host agent's own account reports its own agent only."""
    if HOST_AGENT not in {name for _, name in ctx.principal.roles}:
        return
    allowed = reported_host(ctx.principal.user_name)
    if allowed != host:
        raise forbidden(f"rule:create_agent_heartbeat is disallowed by policy: user {ctx.principal.user_name} may "
                        f"report agent host {allowed or '(none)'} only, not {host}")  # fmt: skip


def _report(body: Any) -> dict[str, Any]:
    report = body.get("agent") if isinstance(body, dict) and len(body) == 1 else None
    if not isinstance(report, dict):
        raise bad_request("Unable to find 'agent' in request body")
    unknown = sorted(set(report) - HEARTBEAT_KEYS)
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    for key in ("host", "agent_type", "binary"):
        value = report.get(key)
        if not isinstance(value, str) or not value or len(value) > 255:
            raise bad_request(
                f"Invalid input for {key}. Reason: a non-empty string of at most 255 characters is required."
            )
    for key in ("topic", "availability_zone", "description"):
        if key in report and report[key] is not None and not isinstance(report[key], str):
            raise bad_request(f"Invalid input for {key}. Reason: '{report[key]}' is not a valid string.")
    if not isinstance(report.get("configurations", {}), dict):
        raise bad_request("Invalid input for configurations. Reason: it must be an object.")
    for key in ("devices_up", "devices_down"):
        value = report.get(key, [])
        if not isinstance(value, list) or not set(map(type, value)) <= {str}:
            raise bad_request(f"Invalid input for {key}. Reason: it must be a list of port ids.")
    for key in DIGEST_KEYS:
        value = report.get(key)
        if value is not None and not (isinstance(value, str) and len(value) == 64 and set(value) <= HEX):
            raise bad_request(f"Invalid input for {key}. Reason: '{value}' is not a SHA-256 digest (64 hex digits).")
    if not isinstance(report.get("devices_full", False), bool):
        raise bad_request(f"Invalid input for devices_full. Reason: '{report['devices_full']}' is not a boolean.")
    return report
