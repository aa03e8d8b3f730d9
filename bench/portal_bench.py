"""The administration portal with 10,000 VMs and 10,000 networks, in Debian's Chromium driven by Playwright.

The engine runs as a real process on 127.0.0.1 with its database seeded directly (as bench/api_bench.py does). Each
case is timed in the browser, from the user's click to the table showing what was asked; the baseline is the API
request the portal makes for it (JSON, from Python's httpx with a keep-alive connection), measured in the same run:
the ratio says what the browser adds (JSON parsing, sorting, rendering a page of rows).

    python bench/portal_bench.py [--vms 10000] [--networks 10000] [--repeat 5] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_bench import seed  # noqa: E402
from tests.servers import ADMIN_PASSWORD, run_engine  # noqa: E402

from extnet.common.progress import Progress  # noqa: E402

Case = tuple[Callable[[], None], Callable[[], None]]  # (set the screen up, untimed; the timed work)


def median_ms(case: Case, repeat: int) -> float:
    prepare, run = case
    times = []
    for _ in range(repeat):
        prepare()
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def nothing() -> None:
    pass


def api_case(client: httpx.Client, *requests: tuple[str, dict[str, str]]) -> Case:
    def run() -> None:
        for path, params in requests:
            response = client.get(path, params=params)
            response.raise_for_status()
            response.json()

    return nothing, run


def loaded(page: Any, action: Callable[[], None]) -> None:
    """Do ``action`` and wait until the main panel's load it started has ended (the panel counts them)."""
    before = int(page.locator("#main-panel").get_attribute("data-loads") or 0)
    action()
    page.wait_for_function(f"() => Number(document.getElementById('main-panel').dataset.loads || 0) > {before}")


def portal_cases(page: Any, total_vms: int, total_networks: int) -> dict[str, Case]:
    status = page.locator(".page-status")
    first_row = page.locator("#main-panel tbody tr").first

    def on_tab(tab_id: str, total: int) -> Callable[[], None]:
        def show() -> None:
            loaded(page, lambda: page.locator(f"#tab-{tab_id}").click())
            status.filter(has_text=f"1-100 of {total}").wait_for()

        return show

    def away() -> None:
        loaded(page, lambda: page.locator("#tab-datacenters").click())
        status.filter(has_text="1-1 of 1").wait_for()

    def sort_twice() -> None:
        page.get_by_role("button", name="Name").click()  # sorted ascending already: descending, then back
        first_row.filter(has_text=f"vm-{total_vms - 1:05d}").wait_for()
        page.get_by_role("button", name="Name").click()
        first_row.filter(has_text="vm-00000").wait_for()

    def next_and_back() -> None:
        page.get_by_role("button", name="Next ›").click()
        status.filter(has_text=f"101-200 of {total_vms}").wait_for()
        page.get_by_role("button", name="‹ Previous").click()
        status.filter(has_text=f"1-100 of {total_vms}").wait_for()

    def search_and_clear() -> None:
        page.locator("#search").fill("name = vm-0001*")
        loaded(page, lambda: page.get_by_role("button", name="Search", exact=True).click())
        status.filter(has_text="1-10 of 10").wait_for()
        page.locator("#search").fill("")
        loaded(page, lambda: page.get_by_role("button", name="Search", exact=True).click())
        status.filter(has_text=f"1-100 of {total_vms}").wait_for()

    vms = on_tab("vms", total_vms)
    return {
        f"open Virtual Machines ({total_vms:,})": (away, vms),
        f"open Networks ({total_networks + 1:,})": (away, on_tab("networks", total_networks + 1)),
        f"sort {total_vms:,} VMs by name, twice": (vms, sort_twice),
        "next page and back": (vms, next_and_back),
        "search name = vm-0001*, then all again": (vms, search_and_clear),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--networks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "engine"
        data.mkdir()
        url = f"sqlite:///{data}/engine.db"
        with Progress("portal benchmark") as progress:
            progress("seeding the engine's database", 0, 0)
            seed(url, args.vms, args.networks)
        with run_engine(data, url) as engine, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(engine.base + "/ovirt-engine/webadmin/")
            page.get_by_label("Password").fill(ADMIN_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.locator("#tab-datacenters").wait_for()
            cases = portal_cases(page, args.vms, args.networks)
            with httpx.Client(base_url=engine.url + "/", auth=("admin@internal", ADMIN_PASSWORD), timeout=120,
                              headers={"Accept": "application/json"}) as client:  # fmt: skip
                baselines: list[Case | None] = [
                    api_case(client, ("vms", {})),
                    api_case(client, ("networks", {})),
                    None,  # in the browser only
                    None,
                    api_case(client, ("vms", {"search": "name = vm-0001*"}), ("vms", {})),
                ]
                rows = []
                with Progress("portal benchmark") as progress:
                    for done, ((name, case), baseline) in enumerate(zip(cases.items(), baselines, strict=True)):
                        progress(name, done, len(cases))
                        prepare, run = case
                        prepare()
                        run()  # warm up
                        portal = median_ms(case, args.repeat)
                        api = median_ms(baseline, args.repeat) if baseline else None
                        rows.append((name, portal, api))
            browser.close()
    print(f"\nportal in Chromium vs the API request it makes (httpx), median of {args.repeat}, ms\n")
    print(f"| {'case':<40} | {'portal':>8} | {'API':>8} | {'ratio':>6} |")
    print(f"|{'-' * 42}|{'-' * 10}:|{'-' * 10}:|{'-' * 8}:|")
    for name, portal, api in rows:
        ratio = f"{portal / api:.2f}" if api else "-"
        api_text = f"{api:.1f}" if api else "-"
        print(f"| {name:<40} | {portal:8.1f} | {api_text:>8} | {ratio:>6} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
