"""The engine's welcome page at ``/ovirt-engine/``: what is running and where to go (authenticated, like the API).

Browsers get a Basic-auth prompt; the page shows the inventory's size, the providers and hosts with their state,
and links to the administration portal (``portal/``), the API and its description.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from extnet.engine.auth import Principal
from extnet.engine.errors import Fault
from extnet.engine.store.db import Database
from extnet.engine.store.overview import overview


def welcome_page(
    db: Database, authenticate: Callable[[Request], Awaitable[Principal]], version: str
) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        try:
            principal = await authenticate(request)
        except Fault as fault:
            return HTMLResponse(f"<h1>{escape(fault.reason)}</h1><p>{escape(fault.detail)}</p>",
                                status_code=fault.status,
                                headers={"WWW-Authenticate": 'Basic realm="extnet engine"'})  # fmt: skip
        body = await run_in_threadpool(_render, db, principal, version)
        return HTMLResponse(body)

    return page


def _render(db: Database, principal: Principal, version: str) -> str:
    seen = overview(db)
    provider_rows = "".join(
        f"<tr><td>{escape(p.name)}</td><td>{escape(p.url)}</td><td>{'on' if p.auto_sync else 'off'}</td></tr>"
        for p in seen.providers
    )
    host_rows = "".join(
        f"<tr><td>{escape(h.name)}</td><td>{escape(h.address)}:{h.port}</td><td>{escape(h.status)}</td></tr>"
        for h in seen.hosts
    )
    count_rows = "".join(f"<tr><td>{label}</td><td>{count}</td></tr>" for label, count in seen.counts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>extnet engine</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:.3em .8em;text-align:left}}</style></head>
<body><h1>extnet engine {escape(version)}</h1>
<p>Signed in as <b>{escape(principal.name)}</b>{" (read-only)" if principal.read_only else ""}.</p>
<p><a href="/ovirt-engine/webadmin/">Administration portal</a> · <a href="/ovirt-engine/api">REST API (oVirt v4)</a> ·
<a href="/ovirt-engine/api-docs/openapi.json">API description (OpenAPI)</a></p>
<h2>Inventory</h2><table>{count_rows}</table>
<h2>Network providers</h2><table><tr><th>name</th><th>url</th><th>auto-sync</th></tr>{provider_rows}</table>
<h2>Hosts</h2><table><tr><th>name</th><th>agent</th><th>status</th></tr>{host_rows}</table>
</body></html>"""
