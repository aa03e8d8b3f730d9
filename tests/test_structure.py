"""The source tree's shape (docs/architecture.md): modules stay small enough to read whole, and the layer rule holds.

The import contracts themselves are in pyproject.toml ([tool.importlinter]); ``lint-imports`` runs them in CI's lint
pass, and this test runs them too, so that a plain ``pytest`` catches an import that climbs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500


def test_no_module_over_500_lines_outside_migrations() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in (ROOT / "src" / "extnet").rglob("*.py")
        if "migrations" not in path.parts
    }
    assert sizes, "no source found"
    too_long = {path: lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_import_contracts_are_kept() -> None:
    beside = Path(sys.executable).parent / "lint-imports"
    lint_imports = str(beside) if beside.exists() else shutil.which("lint-imports")
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "kept" in result.stdout
