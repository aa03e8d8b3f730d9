#!/usr/bin/env bash
# Install extnet with its test tools into .venv and run every test: lint and types; the whole suite on SQLite; on
# PostgreSQL what touches the database (not the tests marked database_agnostic); the conformance suite and the
# engine's provider tests against a real Neutron 29 + Keystone 30. Suites run on parallel workers (pytest-xdist,
# EXTNET_TEST_WORKERS, default 3); each pass's time is printed at the end. Arguments go to every pytest run.
# One part alone: docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WORKERS=${EXTNET_TEST_WORKERS:-3}
PG_URL=${EXTNET_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}

timings=()
began=$SECONDS
report() {
  local status=$?
  if [ ${#timings[@]} -gt 0 ]; then
    echo "== time of each pass"
    printf '  %s\n' "${timings[@]}"
    printf '  %-64s %5d s\n' "all" $((SECONDS - began))
  fi
  return $status
}
trap report EXIT
# pass NAME COMMAND...: run a pass (a subshell that stops at its first failing command) and keep its time; a
# failing pass ends the run, with the times so far. Call it as a plain command: behind || or && the shell would
# ignore a failure inside it.
pass() {
  local name=$1 start=$SECONDS status
  shift
  echo "== $name"
  set +e
  (set -e; "$@")
  status=$?
  set -e
  timings+=("$(printf '%-64s %5d s%s' "$name" $((SECONDS - start)) "$([ $status = 0 ] || echo '  FAILED')")")
  return $status
}

install() {
  local need_apt=()
  [ -f /usr/include/libxml2/libxml/xmlreader.h ] || need_apt+=(libxml2-dev)   # ovirtsdk4 compiles against it
  command -v gcc >/dev/null || need_apt+=(gcc)
  command -v openssl >/dev/null || need_apt+=(openssl)
  # the data plane's tests (run as root): Open vSwitch, netlink tools, packets; libvirt, QEMU and what builds a
  # real guest (a Debian kernel and a busybox initramfs)
  if [ "$(id -u)" = 0 ]; then
    command -v ovs-vswitchd >/dev/null || need_apt+=(openvswitch-switch)
    command -v ip >/dev/null || need_apt+=(iproute2)
    command -v ethtool >/dev/null || need_apt+=(ethtool)
    command -v ping >/dev/null || need_apt+=(iputils-ping)
    command -v libvirtd >/dev/null || need_apt+=(libvirt-daemon-system)
    command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86 qemu-utils)
    command -v virsh >/dev/null || need_apt+=(libvirt-clients)
    command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
    [ -f /usr/include/libvirt/libvirt.h ] || need_apt+=(libvirt-dev pkg-config)
    command -v cpio >/dev/null || need_apt+=(cpio)
    # OVN (the provider's ovn driver and its data plane); busybox's udhcpc for guests that ask DHCP; dnsmasq as
    # the DHCP server of the ovs_agent data-plane test
    command -v ovn-northd >/dev/null || need_apt+=(ovn-central)
    command -v ovn-controller >/dev/null || need_apt+=(ovn-host)
    command -v busybox >/dev/null || need_apt+=(busybox)
    command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
    # the portal's browser tests: Debian's Chromium (Playwright's own browser download cannot work here) and npm
    # for axe-core; without them (not root) those tests skip, saying so
    command -v chromium >/dev/null || need_apt+=(chromium)
    command -v npm >/dev/null || need_apt+=(npm)
  fi
  if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "missing system packages: ${need_apt[*]} (install them with apt-get)" >&2
      return 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  fi
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  local extras=test
  [ -f /usr/include/libvirt/libvirt.h ] && extras=test,libvirt   # libvirt-python compiles against it
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
  # axe-core, from the npm registry, at the version package-lock.json pins
  if command -v npm >/dev/null; then npm ci --silent --no-audit --no-fund --prefix tests/portal; fi
}

# libvirtd for the libvirt runtime's tests (no systemd here: started by hand, as root, when not running)
libvirt_up() {
  # what udev would do: /dev/kvm for group kvm. Left root-only, libvirt finds KVM at every probe as root but not as
  # libvirt-qemu, throws its capabilities cache away each time, and a domain takes a minute to start
  if [ "$(id -u)" = 0 ] && [ -c /dev/kvm ] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
  if [ "$(id -u)" = 0 ] && command -v libvirtd >/dev/null && ! virsh -c qemu:///system version >/dev/null 2>&1; then
    virtlogd -d || true
    libvirtd -d || true
    for _ in $(seq 1 50); do
      if virsh -c qemu:///system version >/dev/null 2>&1; then break; fi
      sleep 0.2
    done
  fi
}

postgres_up() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && [ "$(id -u)" = 0 ] && ls /etc/postgresql >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do
      if pg_isready -q -h 127.0.0.1 -p 5432; then break; fi
      sleep 1
    done
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL pass cannot run" >&2
    return 1
  fi
}

# pytest, with "no test selected" (exit 5: arguments that select nothing in this pass) not counted as a failure
run_pytest() {
  local status=0
  pytest "$@" || status=$?
  [ $status = 0 ] || [ $status = 5 ]
}

lint() {
  ruff check src tests bench
  mypy
  lint-imports --no-cache  # the layer rule and no import cycle (pyproject.toml [tool.importlinter])
}

on_postgres() {
  postgres_up
  # several engines and providers per worker share one server (100 connections by default): small pools
  EXTNET_TEST_DATABASE_URL="$PG_URL" EXTNET_DATABASE_POOL_SIZE=2 EXTNET_PROVIDER_DATABASE_POOL_SIZE=2 \
    run_pytest -q -n "$WORKERS" --dist loadfile -m "not database_agnostic and not dataplane" \
    tests/engine tests/provider tests/e2e tests/conformance "$@"
}

# The conformance suite once more, the built-in provider on its ovn driver (an OVN central of the session's own)
on_ovn() {
  if ! command -v ovn-northd >/dev/null || ! command -v ovsdb-server >/dev/null; then
    echo "skipped: OVN is not installed (apt-get install -y ovn-central ovn-host)"
    return 0
  fi
  EXTNET_CONFORMANCE_DRIVER=ovn run_pytest -q -n "$WORKERS" --dist loadfile tests/conformance "$@"
}

# The original: real OpenStack Neutron 29 + Keystone 30 from PyPI (its venv installed once, in ~/.cache/extnet).
against_real_neutron() {
  bash scripts/real-neutron.sh start
  (
    eval "$(bash scripts/real-neutron.sh env)"
    run_pytest -q -n "$WORKERS" --dist loadfile tests/conformance "$@"
    # the engine's provider tests with the real Neutron as their provider (tests/real_neutron.py); those marked
    # builtin_provider_only are skipped
    EXTNET_ENGINE_PROVIDER=neutron run_pytest -q -n "$WORKERS" --dist loadfile tests/engine/test_providers.py \
      tests/engine/test_provider_networks.py tests/engine/test_provider_subnets.py tests/engine/test_external_rules.py \
      tests/engine/test_security_groups.py tests/engine/test_provider_sync.py tests/engine/test_provider_tls.py \
      tests/engine/test_ansible_providers.py tests/engine/test_portal_api.py "$@"
    # the seed's own set-up: a second real Neutron with RabbitMQ as its bus and a real neutron-openvswitch-agent on
    # this machine's Open vSwitch, driven through the engine (skipped, saying why, without root or OVS)
    EXTNET_REAL_NEUTRON_AGENT=1 run_pytest -q tests/e2e/test_real_neutron_agent.py "$@"
  )
}

# RabbitMQ: the message bus of the real Neutron whose real Open vSwitch agent the data plane is tested with
rabbitmq_up() {
  if [ "$(id -u)" = 0 ] && command -v rabbitmq-server >/dev/null \
      && ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    rabbitmq-server -detached || true
    for _ in $(seq 1 60); do
      if (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then break; fi
      sleep 1
    done
  fi
}

pass "install (.venv, pip)" install
export PATH="$PWD/.venv/bin:$PATH"
pass "ruff and mypy" lint
libvirt_up
pass "all tests on SQLite ($WORKERS workers)" run_pytest -q -n "$WORKERS" --dist loadfile "$@"
pass "conformance on the provider's ovn driver" on_ovn "$@"
pass "database tests on PostgreSQL ($WORKERS workers)" on_postgres "$@"
# EXTNET_SKIP_REAL_NEUTRON=1 skips this pass (e.g. on a machine without access to PyPI).
if [ "${EXTNET_SKIP_REAL_NEUTRON:-0}" != 1 ]; then
  rabbitmq_up
  trap 'bash scripts/real-neutron.sh stop >/dev/null 2>&1 || true; report' EXIT
  pass "conformance and engine provider tests against real Neutron 29" against_real_neutron "$@"
  bash scripts/real-neutron.sh stop
  trap report EXIT
fi
