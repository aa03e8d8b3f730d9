"""The web administration portal at ``/ovirt-engine/webadmin/``.

Static files only: an HTML page, a style sheet and JavaScript modules the browser loads as they are (no build
step). The page logs in through the engine's SSO (``/ovirt-engine/sso/oauth/token``) and then uses only the public
API, in JSON, with the token: anything it shows or does can be scripted too. ``/`` and ``/ovirt-engine/webadmin``
lead to it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

PORTAL = "/ovirt-engine/webadmin/"
STATIC = Path(__file__).resolve().parent / "static"
# The page runs only its own scripts and styles and talks only to its engine; nothing may frame it
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated each time: an upgraded engine serves its own files at once
}


async def _to_portal(request: Request) -> Response:
    return RedirectResponse(PORTAL, status_code=302)


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


class _Static(StaticFiles):
    """The portal's files, with the page's security and caching headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(key.lower().encode(), value.encode()) for key, value in HEADERS.items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await super().__call__(scope, receive, with_headers)


def portal_routes() -> list[BaseRoute]:
    return [
        Route("/", _to_portal),
        Route(PORTAL.rstrip("/"), _to_portal),
        Route(PORTAL, _index),
        Mount(PORTAL + "static", _Static(directory=STATIC), name="portal"),
    ]
