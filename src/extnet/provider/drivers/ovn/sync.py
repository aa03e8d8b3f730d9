"""``extnet provider sync-ovn [--repair]``: every difference between the API (the SQL store) and OVN Northbound,
column by column, reported (and repaired)."""

from __future__ import annotations

import sys

from extnet.common.progress import Progress
from extnet.provider.drivers.ovn.driver import OvnDriver
from extnet.provider.drivers.ovn.nb import Northbound, OvnUnavailable
from extnet.provider.settings import ProviderSettings
from extnet.provider.store.db import migrate
from extnet.provider.store.sql import SqlBackend


def sync_ovn(settings: ProviderSettings, repair: bool) -> int:
    """0: nothing differed (or everything was repaired); 1: differences left; 2: OVN unreachable."""
    url = settings.effective_database_url()
    migrate(url)
    backend = SqlBackend(url, 2)
    driver = OvnDriver(backend, settings.ovn_nb, settings.ovn_sb)
    try:
        with Progress("sync-ovn") as progress:
            progress("reading OVN Northbound", 0, 0)  # the connection reads the whole database first
            driver.nb = Northbound(settings.ovn_nb)
            try:
                report = driver.check(repair=repair, full=True, progress=progress)
            finally:
                driver.nb.close()
    except OvnUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        backend.dispose()
    for line in report.differences:
        print(line)
    verb = "repaired" if repair else "found"
    print(f"{len(report.differences)} differences {verb} in {len(report.units)} resources", flush=True)
    return 0 if repair or not report.differences else 1
