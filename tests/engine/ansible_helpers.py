"""Running a playbook of the ovirt.ovirt modules against the test engine, and reading what each task did."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

requires_ansible = pytest.mark.skipif(shutil.which("ansible-playbook") is None, reason="Ansible is not installed")


def run_playbook(playbook: str, extra: dict[str, Any], workdir: Path, timeout: int = 300) -> list[dict[str, Any]]:
    """Run ``playbook`` on localhost with ``extra`` vars; the result of each task, in order.

    The modules run on this interpreter, which has ovirtsdk4. The playbook must succeed.
    """
    (workdir / "play.yml").write_text(playbook)
    (workdir / "vars.json").write_text(json.dumps(extra))  # not on the command line: it holds passwords
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", "play.yml", "-e", "@vars.json",
         "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=workdir, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tasks = json.loads(result.stdout)["plays"][0]["tasks"]
    return [task["hosts"]["localhost"] for task in tasks]


def changed(results: list[dict[str, Any]]) -> list[bool]:
    return [bool(result["changed"]) for result in results]
