#!/usr/bin/env bash
# Install extnet with its test tools into .venv and run every test: lint, types, then the suite on SQLite
# and the database-backed suites again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

need_apt=()
[ -f /usr/include/libxml2/libxml/xmlreader.h ] || need_apt+=(libxml2-dev)   # ovirtsdk4 compiles against it
command -v gcc >/dev/null || need_apt+=(gcc)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "missing system packages: ${need_apt[*]} (install them with apt-get)" >&2; exit 1
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"; ruff check src tests bench
echo "== mypy"; mypy

echo "== tests on SQLite"
pytest -q "$@"

PG_URL=${EXTNET_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && ls /etc/postgresql >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "== engine, provider, host agent, end-to-end and conformance tests on PostgreSQL"
  EXTNET_TEST_DATABASE_URL="$PG_URL" pytest -q -m "not sqlite_only" tests/engine tests/provider tests/host tests/e2e tests/conformance "$@"
else
  echo "PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL pass cannot run" >&2
  exit 1
fi

# The original: real OpenStack Neutron 29 + Keystone 30 from PyPI (installed once into .cache/real-neutron).
# EXTNET_SKIP_REAL_NEUTRON=1 skips this pass (e.g. on a machine without MariaDB or network access to PyPI).
if [ "${EXTNET_SKIP_REAL_NEUTRON:-0}" != 1 ]; then
  echo "== conformance suite against real Neutron 29 + Keystone 30"
  bash scripts/real-neutron.sh start
  trap 'bash scripts/real-neutron.sh stop >/dev/null 2>&1 || true' EXIT
  (
    eval "$(bash scripts/real-neutron.sh env)"
    pytest -q tests/conformance "$@"
    # the engine's provider tests with the real Neutron as their provider (tests/real_neutron.py); those marked
    # builtin_provider_only are skipped
    echo "== engine provider tests against real Neutron 29 + Keystone 30"
    EXTNET_ENGINE_PROVIDER=neutron pytest -q tests/engine/test_providers.py tests/engine/test_provider_networks.py \
      tests/engine/test_provider_subnets.py tests/engine/test_external_rules.py tests/engine/test_security_groups.py \
      tests/engine/test_provider_sync.py tests/engine/test_provider_tls.py tests/engine/test_ansible_providers.py "$@"
  )
  bash scripts/real-neutron.sh stop
  trap - EXIT
fi
