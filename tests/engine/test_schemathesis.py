"""Schemathesis against a running engine: the OpenAPI document it serves is exact.

``st run`` with all its checks, the coverage and fuzzing phases (5 examples per operation in fuzzing, seeded so that
CI runs are reproducible) on an engine of its own (schemathesis adds, changes and removes what it likes). It fails
on any finding: a server error, a response (status, content type, header, body) outside the document, a request
outside it accepted, or a valid one refused.

How "a valid request refused" is judged: the document states the form of every request exactly (types, enums,
patterns, required fields, what an empty or null value means), but no schema can say that an object a body names
exists, nor the rules of the model (a supported compatibility version, a MAC range that overlaps none, a network
attached once), nor the search language's grammar. oVirt answers those with a 400 "Operation Failed" fault (a 404
for a path that names nothing, a 409 for a name in use), and each operation documents them. So a schema-valid
request may get a 400 (``schemathesis.toml``), but never one of the faults that refuse a request for its form:
``st_hooks.refused_for_its_form`` fails those.

The engine runs with ``login_cooldown`` 0: schemathesis sends many wrong credentials (``ignored_auth``), and after 5
the throttle's lockout (a 429, tested in test_auth) would answer instead of the 401 the check expects.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import EngineProcess, engine_token, run_engine, scratch_database

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXAMPLES = int(os.environ.get("EXTNET_SCHEMATHESIS_EXAMPLES", "5"))


@pytest.fixture(scope="module")
def st_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    no_lockout = {"EXTNET_LOGIN_COOLDOWN": "0"}
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_engine(tmp_path_factory.mktemp("schemathesis"), url, env=no_lockout) as engine,
    ):
        yield engine



# About 45,000 requests: 250 s here while a CI run shared the two cores, more under heavier load; its own limit, not
# the suite's 300 s, so that a slow machine does not fail a check of correctness
@pytest.mark.timeout(600)
def test_the_document_is_exact(st_engine: EngineProcess, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "--no-color", "--config-file", str(HERE / "schemathesis.toml"), "run",
        f"{st_engine.base}/ovirt-engine/api-docs/openapi.json",
        "--header", f"Authorization: Bearer {engine_token(st_engine)}",
        "--header", "Accept: application/json",  # the schemas describe JSON (the document lists XML without one)
        "--checks", "all", "--phases", "coverage,fuzzing", "--max-examples", str(EXAMPLES), "--seed", "1",
        "--workers", "2", "--request-timeout", "30", "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.engine.st_hooks", "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=570)
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    assert result.returncode == 0, output[-20000:]
    assert "Tested: " in summary and "Errored" not in summary, summary
    log = st_engine.log()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:4000]
