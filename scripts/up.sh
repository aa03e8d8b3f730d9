#!/usr/bin/env bash
# Install extnet into .venv and start everything on the embedded defaults (SQLite, 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/extnet up "$@"
