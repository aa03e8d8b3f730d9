"""One client of the fleet simulator's start storm, as a process of its own: starts VMs one after the other with
ovirtsdk4 and prints each start's latency.

    python -m bench.storm URL USERNAME IDS_FILE      # the password on stdin's first line

It reads the password, logs in, prints ``ready``, waits for a line on stdin (the go of every client at once), starts
the VMs of IDS_FILE (one id a line) in order, keeping how many it started in IDS_FILE.done (for progress lines), and
prints one JSON line: ``{"latencies": [s, ...], "failures": ["id: why", ...], "ended": <time.time() at the end>}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import ovirtsdk4 as sdk

PROGRESS_EVERY = 10  # starts between two updates of the progress file


def main() -> int:
    url, username, ids_file = sys.argv[1:4]
    password = sys.stdin.readline().strip()
    vm_ids = Path(ids_file).read_text().split()
    connection = sdk.Connection(url=url, username=username, password=password, timeout=600)
    vms = connection.system_service().vms_service()
    connection.authenticate()
    print("ready", flush=True)
    sys.stdin.readline()
    latencies: list[float] = []
    failures: list[str] = []
    done = Path(ids_file + ".done")
    for count, vm_id in enumerate(vm_ids, 1):
        began = time.perf_counter()
        try:
            vms.vm_service(vm_id).start()
        except sdk.Error as err:
            failures.append(f"{vm_id}: {str(err)[:300]}")
            continue
        latencies.append(time.perf_counter() - began)
        if count % PROGRESS_EVERY == 0:
            done.write_text(str(count))
    ended = time.time()
    connection.close()
    print(json.dumps({"latencies": latencies, "failures": failures, "ended": ended}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
