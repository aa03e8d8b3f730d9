"""The workload for counting the instructions of the engine's full listings (callgrind counts instructions, not
seconds: the same for the same code whatever else the machine does).

It seeds VMS VMs with the same ids at every run, builds the engine's app in this process (``build_engine``) and
asks ``GET /ovirt-engine/api/vms`` N+1 times in FORMAT (json or xml) through Starlette's TestClient: the whole
request (authentication, dispatch, query, rendering, encoding). The instructions of N requests are those of a run
with N+1 requests minus a run with 1 (start-up, imports and seeding cancel out):

    for n in 0 4; do
      PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python bench/listing_instructions.py $n 2000 json 2>&1 | grep Collected
    done

Run it with ``PYTHONPATH=<a worktree of another commit>/src`` to count that commit's engine.
"""

from __future__ import annotations

import random
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

_ids = random.Random(7)
uuid.uuid4 = lambda: uuid.UUID(int=_ids.getrandbits(128), version=4)  # the same ids at every run

from api_bench import seed  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from extnet.engine.app import build_engine  # noqa: E402
from extnet.engine.settings import EngineSettings  # noqa: E402

PASSWORD = "listing-instructions-1"


def main() -> int:
    requests, vms, media = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data}/engine.db"
        seed(url, vms, 10)
        engine = build_engine(EngineSettings(data_dir=data, database_url=url, admin_password=PASSWORD))
        client = TestClient(engine.app)
        for _ in range(requests + 1):
            answer = client.get("/ovirt-engine/api/vms", headers={"Accept": f"application/{media}"},
                                auth=("admin@internal", PASSWORD))  # fmt: skip
            assert answer.status_code == 200, answer.text[:300]
    return 0


if __name__ == "__main__":
    sys.exit(main())
