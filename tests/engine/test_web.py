"""The welcome page at /ovirt-engine/ (what `extnet up` prints as the web URL)."""

from __future__ import annotations

import httpx

from tests.servers import ADMIN_PASSWORD, EngineProcess


def test_welcome_page_needs_authentication(engine: EngineProcess) -> None:
    response = httpx.get(f"{engine.base}/ovirt-engine/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert "Default" not in response.text


def test_welcome_page_shows_inventory_and_links(engine: EngineProcess) -> None:
    response = httpx.get(f"{engine.base}/ovirt-engine/", auth=("admin@internal", ADMIN_PASSWORD))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Signed in as <b>admin@internal</b>" in page
    assert '<a href="/ovirt-engine/api">' in page and "openapi.json" in page
    assert "<td>Data centers</td>" in page and "<td>Network providers</td>" in page
