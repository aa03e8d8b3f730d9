"""The portal's JavaScript modules pass ESLint (tests/portal/eslint.config.mjs): the browser runs them as they are,
with no build step that would catch an undefined name or a dead import first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ESLINT = ROOT / "tests/portal/node_modules/.bin/eslint"
MODULES = ROOT / "src/extnet/engine/portal/static"


def test_the_portal_modules_pass_eslint() -> None:
    if not ESLINT.is_file():
        pytest.skip("ESLint is not installed (npm ci --prefix tests/portal)")
    result = subprocess.run([str(ESLINT), "--config", str(ROOT / "tests/portal/eslint.config.mjs"), "js"],
                            cwd=MODULES, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (MODULES / "js/main.js").is_file()  # it linted the modules, not an empty folder
