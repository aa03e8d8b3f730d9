"""The web portal in a real browser: Debian's Chromium driven by Playwright against ``extnet up`` (the engine, the
built-in provider and a local host agent on the noop runtime), with axe-core checking each main screen.

Needs: Chromium (``apt-get install chromium``; Playwright's own browser download cannot work here, so it is launched
by ``executable_path``), the ``playwright`` Python package, and axe-core from the npm registry (``npm ci --prefix
tests/portal``, which ``scripts/test.sh`` runs). Each missing piece skips these tests, saying which.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port
from tests.up import Up, up_env

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("EXTNET_AXE_JS", ROOT / "tests/portal/node_modules/axe-core/axe.min.js"))
SCREENSHOTS = Path(os.environ.get("EXTNET_SCREENSHOT_DIR", ROOT / "docs/screenshots"))
ADMIN_PASSWORD = "portal-admin-secret"
PROVIDER_PASSWORD = "portal-provider-secret"
TIMEOUT_MS = 30_000


def chromium_path() -> str | None:
    return os.environ.get("EXTNET_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class Stack:
    """``extnet up`` as a user starts it, and what the tests need to know of it."""

    base: str
    provider_url: str
    keystone_url: str

    @property
    def portal(self) -> str:
        return f"{self.base}/ovirt-engine/webadmin/"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base}/ovirt-engine/api/", auth=("admin@internal", ADMIN_PASSWORD),
                            headers={"Accept": "application/json"}, timeout=30)  # fmt: skip

    def neutron(self) -> httpx.Client:
        """The built-in provider's Networking API with a Keystone token (what the tests check the provider with)."""
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": PROVIDER_PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}  # fmt: skip
        token = httpx.post(f"{self.keystone_url}/v3/auth/tokens", json=body, timeout=30).headers["X-Subject-Token"]
        return httpx.Client(base_url=f"{self.provider_url}/v2.0/", headers={"X-Auth-Token": token}, timeout=30)


# Module scope, not session: Playwright's sync API runs an event loop in this thread while it is open, and any test
# after it in the same worker that calls asyncio.run() would fail ("cannot be called from a running event loop")
@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE} (npm ci --prefix tests/portal)")
    with sync_playwright() as playwright:
        # as root, Chromium runs only without its sandbox
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    provider_port, keystone_port = free_port(), free_port()
    env = up_env(EXTNET_ADMIN_PASSWORD=ADMIN_PASSWORD, EXTNET_PROVIDER_ADMIN_PASSWORD=PROVIDER_PASSWORD)
    env.update(EXTNET_PROVIDER_LISTEN=f"127.0.0.1:{provider_port}",
               EXTNET_PROVIDER_KEYSTONE_LISTEN=f"127.0.0.1:{keystone_port}")  # fmt: skip
    up = Up(tmp_path_factory.mktemp("portal") / "data", env)
    try:
        up.wait_for(r"extnet is ready: network provider 'extnet-builtin', host 'local' up")
        yield Stack(up.base, f"http://127.0.0.1:{provider_port}", f"http://127.0.0.1:{keystone_port}")
    finally:
        up.interrupt()


def new_context(browser: Any) -> Any:
    """A fresh browser context at 1440x900. The portal's Content-Security-Policy allows only its own scripts; the
    context lets the tests inject axe-core beside them (``bypass_csp``), as a browser extension would."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(playwright_browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh browser context, logged in as admin@internal through the login form."""
    context = new_context(playwright_browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack.base + "/")
    page.get_by_label("User name").fill("admin@internal")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("tab", name="Data Centers").wait_for()
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def check_accessibility(page: Any, screen: str) -> None:
    """axe-core on the page as it is: no serious or critical violation (the others are printed)."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:5]) for v in results["violations"]]
    bad = [v for v in found if v[1] in ("serious", "critical")]
    for violation in found:
        print(f"axe on {screen}: {json.dumps(violation)}")
    assert not bad, f"axe-core on {screen}: {json.dumps(bad, indent=1)}"


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
