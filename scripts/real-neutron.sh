#!/usr/bin/env bash
# A real OpenStack Neutron 29 API server (and a real Keystone 30) from PyPI, on 127.0.0.1, for the provider's
# conformance suite and the benchmark baseline.
#
#   scripts/real-neutron.sh install          venv with neutron==29.0.0 + keystone==30.0.0 (idempotent)
#   scripts/real-neutron.sh start            install if needed, fresh Neutron database, start Keystone + Neutron,
#                                            register live "Open vSwitch agent" rows for the agent hosts
#   scripts/real-neutron.sh stop             stop what `start` started (by pid file)
#   scripts/real-neutron.sh status           which of the servers answer
#   scripts/real-neutron.sh agents HOST...   register (or refresh) live OVS agents on these hosts
#   scripts/real-neutron.sh env              print the EXTNET_CONFORMANCE_* variables for tests/conformance
#   scripts/real-neutron.sh agent-start HOST OVSDB_SOCKET
#                                            start a real neutron-openvswitch-agent for HOST on that Open vSwitch
#                                            (needs REAL_NEUTRON_RPC=rabbit at start; root; Debian's OVS)
#   scripts/real-neutron.sh agent-stop       stop the agents agent-start started (and their privsep helpers)
#
# Knobs (environment):
#   REAL_NEUTRON_DIR      where its configuration, state and logs live (default: <repo>/.cache/real-neutron)
#   REAL_NEUTRON_VENV     its virtualenv (default: ~/.cache/extnet/real-neutron-<versions>, shared by clones)
#   REAL_NEUTRON_DB       mariadb | sqlite | auto (default auto: MariaDB when 127.0.0.1:3306 answers)
#   REAL_NEUTRON_DB_URL   MariaDB server URL (default mysql+pymysql://root@127.0.0.1:3306); the database is
#                         REAL_NEUTRON_DB_NAME (default extnet_real_neutron_<port>), dropped and recreated at start
#   REAL_NEUTRON_AUTH     keystone | noauth (default keystone)
#   REAL_NEUTRON_PORT     Neutron's port (default 19696);  REAL_KEYSTONE_PORT  Keystone's port (default 15000)
#   REAL_NEUTRON_WORKERS  gunicorn workers for Neutron (default 2; SQLite always runs 1 worker, 1 thread)
#   REAL_NEUTRON_AGENTS   hosts given a live OVS agent at start (default "conformance-host-1 conformance-host-2")
#   REAL_NEUTRON_PASSWORD the admin password in Keystone (default extnet-conformance)
#   REAL_NEUTRON_RPC      fake | rabbit (default fake: no message bus, agents are rows written at start; rabbit:
#                         RabbitMQ on 127.0.0.1:5672 as the bus, neutron-rpc-server started too, for real agents)
#   PYTHON                interpreter for the venv (Python >= 3.11; default python3)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB=${REAL_NEUTRON_DIR:-$REPO/.cache/real-neutron}
PYTHON=${PYTHON:-python3}
NEUTRON_PORT=${REAL_NEUTRON_PORT:-19696}
KEYSTONE_PORT=${REAL_KEYSTONE_PORT:-15000}
AUTH=${REAL_NEUTRON_AUTH:-keystone}
DB_MODE=${REAL_NEUTRON_DB:-auto}
DB_SERVER=${REAL_NEUTRON_DB_URL:-mysql+pymysql://root@127.0.0.1:3306}
DB_NAME=${REAL_NEUTRON_DB_NAME:-extnet_real_neutron_$NEUTRON_PORT}
WORKERS=${REAL_NEUTRON_WORKERS:-2}
AGENTS=${REAL_NEUTRON_AGENTS:-conformance-host-1 conformance-host-2}
PASSWORD=${REAL_NEUTRON_PASSWORD:-extnet-conformance}
RPC=${REAL_NEUTRON_RPC:-fake}
# gunicorn closes a kept-alive connection after 2 s idle by default: a client (requests, keystoneauth) that sends on
# it at that moment gets "Connection reset by peer" (seen once in CI, in test_quotas.py::test_security_group_rules).
# Idle connections cost no thread in gthread workers: kept much longer than any pause of the tests.
KEEP_ALIVE=120
NEUTRON_VERSION=29.0.0
KEYSTONE_VERSION=30.0.0
# the venv depends only on the versions: kept in the user's cache, so that a fresh clone does not install it again
VENV=${REAL_NEUTRON_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/extnet/real-neutron-$NEUTRON_VERSION-keystone-$KEYSTONE_VERSION}
VPY=$VENV/bin/python
export PYTHONWARNINGS=ignore

log() { echo "real-neutron: $*" >&2; }

write_files() {
  mkdir -p "$LAB"/{etc/neutron/plugins/ml2,etc/keystone,state/lock,log,bin}
  echo '*' >"$LAB/.gitignore"   # nothing in here belongs in the repository

  cat >"$LAB/bin/neutron_wsgi.py" <<'EOF'
"""gunicorn entry point of the Neutron API: oslo.config must not see gunicorn's own command line."""
import sys

sys.argv = sys.argv[:1]
from neutron.wsgi.api import application  # noqa: E402,F401
from neutron import policy  # noqa: E402

# Neutron builds its policy enforcer on the first request that needs it, with no lock: two threads of a fresh
# worker that meet there check against half-registered rules and refuse a project member's create_network
# ("rule:create_network is disallowed by policy"). Built here, before the worker serves anything.
policy.init()
EOF
  cat >"$LAB/bin/keystone_wsgi.py" <<'EOF'
"""gunicorn entry point of Keystone (same sys.argv problem as Neutron)."""
import sys

sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
EOF
  cat >"$LAB/bin/register_agents.py" <<'EOF'
"""Write live 'Open vSwitch agent' rows the way the agent's RPC report_state would (there is no REST API for it)."""
import sys

from neutron.common import config as common_config
from neutron.db import agents_db
from neutron_lib import context

files, hosts = sys.argv[1].split(";"), sys.argv[2:]
args = []
for name in files:
    args += ["--config-file", name]
common_config.register_common_config_options()
common_config.init(args)
ctx = context.get_admin_context()
for host in hosts:
    state = {
        "binary": "neutron-openvswitch-agent",
        "host": host,
        "topic": "N/A",
        "agent_type": "Open vSwitch agent",
        "start_flag": True,
        "configurations": {
            "bridge_mappings": {"physnet1": "br-ex"},
            "integration_bridge": "br-int",
            "tunnel_types": ["vxlan", "geneve"],
            "datapath_type": "system",
            "ovs_hybrid_plug": False,
            "ovs_capabilities": {"datapath_types": ["netdev", "system"], "iface_types": ["geneve", "vxlan"]},
            "l2_population": False,
            "enable_distributed_routing": False,
            "devices": 0,
        },
    }
    agents_db.AgentDbMixin().create_or_update_agent(ctx, state)
    print(f"agent registered on {host}")
# a DHCP and an L3 agent in an availability zone (the conformance suite's availability_zones; no host runs them)
for agent_type, binary, topic in (("DHCP agent", "neutron-dhcp-agent", "dhcp_agent"),
                                  ("L3 agent", "neutron-l3-agent", "l3_agent")):
    state = {"binary": binary, "host": "conformance-az-host", "topic": topic, "agent_type": agent_type,
             "start_flag": True, "availability_zone": "conformance-az", "configurations": {}}
    agents_db.AgentDbMixin().create_or_update_agent(ctx, state)
    print(f"{agent_type} registered in availability zone conformance-az")
EOF
  cat >"$LAB/bin/init_sqlite.py" <<'EOF'
"""Neutron's migrations cannot ALTER constraints on SQLite: build the schema from the models, as its unit tests do."""
import sys

from neutron.db.migration.models import head
from sqlalchemy import create_engine

engine = create_engine(sys.argv[1])
head.get_metadata().create_all(engine)
EOF
  cat >"$LAB/bin/prepare_mariadb.py" <<'EOF'
"""Drop and create the Neutron database on the MariaDB server."""
import sys

from sqlalchemy import create_engine, text

server, name = sys.argv[1], sys.argv[2]
engine = create_engine(server, isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
EOF
  cat >"$LAB/bin/keystone_catalog.py" <<'EOF'
"""Add the 'network' service and its endpoints to Keystone's catalog (idempotent), with the stdlib only."""
import json
import sys
import urllib.request

keystone, neutron, password = sys.argv[1], sys.argv[2], sys.argv[3]


def call(method, path, body=None, token=None):
    req = urllib.request.Request(keystone + path, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers, json.loads(resp.read() or b"{}")


auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": "admin", "domain": {"id": "default"}, "password": password}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
headers, _ = call("POST", "/v3/auth/tokens", auth)
token = headers["X-Subject-Token"]
services = call("GET", "/v3/services?type=network", token=token)[1]["services"]
if services:
    service_id = services[0]["id"]
else:
    service_id = call("POST", "/v3/services", {"service": {"type": "network", "name": "neutron"}}, token)[1][
        "service"]["id"]
endpoints = call("GET", f"/v3/endpoints?service_id={service_id}", token=token)[1]["endpoints"]
for endpoint in endpoints:
    if endpoint["url"] != neutron:
        call("DELETE", f"/v3/endpoints/{endpoint['id']}", token=token)
present = {e["interface"] for e in endpoints if e["url"] == neutron}
for interface in ("public", "internal", "admin"):
    if interface not in present:
        call("POST", "/v3/endpoints", {"endpoint": {"service_id": service_id, "interface": interface,
                                                    "url": neutron, "region_id": "RegionOne"}}, token)
print("network endpoint:", neutron)
EOF
}

write_config() {
  local db_url=$1
  cat >"$LAB/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
core_plugin = ml2
service_plugins = router,segments
auth_strategy = $AUTH
transport_url = $(transport_url)
control_exchange = extnet_$NEUTRON_PORT
state_path = $LAB/state
api_paste_config = $VENV/etc/neutron/api-paste.ini
host = real-neutron
api_workers = 1
rpc_workers = $([ "$RPC" = rabbit ] && echo 1 || echo 0)
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
debug = false
log_file = $LAB/log/neutron-api.log
allow_overlapping_ips = true
# the largest value Neutron accepts: registered agents stay alive for about 24 days
agent_down_time = 2147483

[database]
connection = $db_url

[quotas]
# the conformance suite and the benchmark create thousands of ports in the admin project
quota_network = -1
quota_subnet = -1
quota_port = -1
quota_router = -1
quota_security_group = -1
quota_security_group_rule = -1

[oslo_concurrency]
lock_path = $LAB/state/lock

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false

[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KEYSTONE_PORT
auth_url = http://127.0.0.1:$KEYSTONE_PORT
auth_type = password
username = admin
password = $PASSWORD
project_name = admin
user_domain_id = default
project_domain_id = default
EOF
  cat >"$LAB/etc/neutron/plugins/ml2/ml2_conf.ini" <<'EOF'
[ml2]
type_drivers = flat,vlan,vxlan,geneve
tenant_network_types = vxlan
mechanism_drivers = openvswitch
extension_drivers = port_security

[ml2_type_flat]
flat_networks = *

[ml2_type_vlan]
network_vlan_ranges = physnet1:100:200

[ml2_type_vxlan]
vni_ranges = 1:1000

[ml2_type_geneve]
vni_ranges = 1:1000

[securitygroup]
enable_security_group = true
EOF
  cat >"$LAB/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LAB/log/keystone.log

[database]
connection = sqlite:///$LAB/state/keystone.sqlite

[token]
provider = fernet
expiration = 3600

[fernet_tokens]
key_repository = $LAB/state/fernet-keys

[credential]
key_repository = $LAB/state/credential-keys
EOF
}

transport_url() {
  if [ "$RPC" = rabbit ]; then echo "rabbit://guest:guest@127.0.0.1:5672/"; else echo "fake:/"; fi
}

# the RPC server: what answers the agents (their state reports, device details, port up/down) over RabbitMQ
start_rpc_server() {
  setsid "$VENV/bin/neutron-rpc-server" --config-file "$LAB/etc/neutron/neutron.conf" \
    --config-file "$LAB/etc/neutron/plugins/ml2/ml2_conf.ini" >"$LAB/log/rpc-server.out" 2>&1 &
  echo $! >"$LAB/state/rpc-server.pid"
}

cmd_agent_start() {  # HOST OVSDB_SOCKET
  local host=$1 socket=$2
  [ "$RPC" = rabbit ] || { log "agent-start needs a Neutron started with REAL_NEUTRON_RPC=rabbit"; exit 2; }
  cat >"$LAB/etc/neutron/ovs_agent-$host.ini" <<AGENT_EOF
[DEFAULT]
host = $host
log_file = $LAB/log/ovs-agent-$host.log

[agent]
tunnel_types = vxlan
# there is no sudo here; privsep's default "sudo privsep-helper" fails
root_helper = env

[ovs]
ovsdb_connection = unix:$socket
datapath_type = netdev
integration_bridge = br-int
tunnel_bridge = br-tun
local_ip = 127.0.0.1
of_listen_address = 127.0.0.1
of_listen_port = 6633

[securitygroup]
firewall_driver = noop
enable_security_group = true
AGENT_EOF
  PATH="$VENV/bin:/usr/sbin:/sbin:$PATH" OVS_RUNDIR=$(dirname "$socket") setsid "$VENV/bin/neutron-openvswitch-agent" \
    --config-file "$LAB/etc/neutron/neutron.conf" --config-file "$LAB/etc/neutron/ovs_agent-$host.ini" \
    >"$LAB/log/ovs-agent-$host.out" 2>&1 &
  echo $! >"$LAB/state/agent-$host.pid"
  log "neutron-openvswitch-agent for host $host on $socket (log $LAB/log/ovs-agent-$host.log)"
}

cmd_agent_stop() {
  local pidfile pid
  for pidfile in "$LAB"/state/agent-*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true   # it ignores SIGTERM for a long while: SIGKILL after a grace period
    for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  # its privsep helpers were re-parented to PID 1; they carry this lab's configuration files on their command line
  pkill -9 -f "privsep-helper.*$LAB/etc" 2>/dev/null || true
}

cmd_install() {
  write_files
  if [ -x "$VPY" ] && "$VPY" -c "import neutron, keystone, gunicorn, pymysql" 2>/dev/null \
      && [ "$("$VENV/bin/pip" show neutron 2>/dev/null | sed -n 's/^Version: //p')" = "$NEUTRON_VERSION" ]; then
    return 0
  fi
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Neutron 29 needs Python >= 3.11"'
  log "installing neutron==$NEUTRON_VERSION keystone==$KEYSTONE_VERSION into $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "neutron==$NEUTRON_VERSION" "keystone==$KEYSTONE_VERSION" gunicorn PyMySQL
}

db_url() {
  if [ "$1" = mariadb ]; then echo "$DB_SERVER/$DB_NAME?charset=utf8mb4"; else echo "sqlite:///$LAB/state/neutron.sqlite"; fi
}

db_mode() {
  if [ "$DB_MODE" != auto ]; then echo "$DB_MODE"; return; fi
  if "$VPY" -c "import socket; socket.create_connection(('127.0.0.1', 3306), 2).close()" 2>/dev/null; then
    echo mariadb
  else
    echo sqlite
  fi
}

wait_http() {  # url pidfile name
  local deadline=$((SECONDS + 120))
  until "$VPY" -c "import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass" "$1" 2>/dev/null; do
    if ! kill -0 "$(cat "$2" 2>/dev/null || echo 0)" 2>/dev/null; then
      log "$3 exited; see $LAB/log"; tail -n 30 "$LAB/log/$3.out" >&2 || true; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then log "$3 did not answer at $1"; exit 1; fi
    sleep 0.3
  done
}

# Keystone keeps its state in SQLite: one request at a time (two threads issuing tokens at once met "database is
# locked", a 500, in CI)
start_keystone() {
  local ks="$VENV/bin/keystone-manage --config-file $LAB/etc/keystone/keystone.conf"
  if [ ! -f "$LAB/state/keystone.bootstrapped" ]; then
    log "bootstrapping Keystone (SQLite)"
    rm -rf "$LAB/state/keystone.sqlite" "$LAB/state/fernet-keys" "$LAB/state/credential-keys"
    $ks db_sync >>"$LAB/log/keystone-manage.out" 2>&1
    $ks fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >>"$LAB/log/keystone-manage.out" 2>&1
    $ks credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" \
      >>"$LAB/log/keystone-manage.out" 2>&1
    $ks bootstrap --bootstrap-password "$PASSWORD" --bootstrap-region-id RegionOne \
      --bootstrap-admin-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
      --bootstrap-internal-url "http://127.0.0.1:$KEYSTONE_PORT/v3" \
      --bootstrap-public-url "http://127.0.0.1:$KEYSTONE_PORT/v3" >>"$LAB/log/keystone-manage.out" 2>&1
    touch "$LAB/state/keystone.bootstrapped"
  fi
  OS_KEYSTONE_CONFIG_FILES="$LAB/etc/keystone/keystone.conf" \
    setsid "$VENV/bin/gunicorn" --chdir "$LAB/bin" --bind "127.0.0.1:$KEYSTONE_PORT" --workers 1 \
    --worker-class gthread --threads 1 --keep-alive "$KEEP_ALIVE" --no-control-socket --pid "$LAB/state/keystone.pid" \
    keystone_wsgi:application >"$LAB/log/keystone.out" 2>&1 &
  echo $! >"$LAB/state/keystone.pid"
  wait_http "http://127.0.0.1:$KEYSTONE_PORT/v3" "$LAB/state/keystone.pid" keystone
  "$VPY" "$LAB/bin/keystone_catalog.py" "http://127.0.0.1:$KEYSTONE_PORT" "http://127.0.0.1:$NEUTRON_PORT" \
    "$PASSWORD" >>"$LAB/log/keystone-manage.out"
}

config_files() {
  echo "$LAB/etc/neutron/neutron.conf;$LAB/etc/neutron/plugins/ml2/ml2_conf.ini"
}

prepare_neutron_db() {
  local mode=$1
  local manage=("$VENV/bin/neutron-db-manage" --config-file "$LAB/etc/neutron/neutron.conf"
                --config-file "$LAB/etc/neutron/plugins/ml2/ml2_conf.ini")
  if [ "$mode" = mariadb ]; then
    "$VPY" "$LAB/bin/prepare_mariadb.py" "$DB_SERVER" "$DB_NAME"
    log "running Neutron's migrations on MariaDB"
    "${manage[@]}" upgrade heads >"$LAB/log/db-manage.out" 2>&1
  else
    rm -f "$LAB/state/neutron.sqlite"
    "$VPY" "$LAB/bin/init_sqlite.py" "$(db_url sqlite)"
    "${manage[@]}" stamp heads >"$LAB/log/db-manage.out" 2>&1
  fi
}

# SQLite skipped the data migration that seeds the default security-group rule templates: add them over the API.
seed_default_rules() {
  "$VPY" - "http://127.0.0.1:$NEUTRON_PORT" "$(token_or_empty)" <<'EOF'
import json
import sys
import urllib.request

base, token = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


if not call("GET", "/v2.0/default-security-group-rules")["default_security_group_rules"]:
    for ethertype in ("IPv4", "IPv6"):
        call("POST", "/v2.0/default-security-group-rules", {"default_security_group_rule": {
            "direction": "ingress", "ethertype": ethertype, "remote_group_id": "PARENT",
            "used_in_default_sg": True, "used_in_non_default_sg": False}})
        call("POST", "/v2.0/default-security-group-rules", {"default_security_group_rule": {
            "direction": "egress", "ethertype": ethertype,
            "used_in_default_sg": True, "used_in_non_default_sg": True}})
EOF
}

token_or_empty() {
  if [ "$AUTH" != keystone ]; then echo ""; return; fi
  "$VPY" - "http://127.0.0.1:$KEYSTONE_PORT" "$PASSWORD" <<'EOF'
import json
import sys
import urllib.request

body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": "admin", "domain": {"id": "default"}, "password": sys.argv[2]}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
req = urllib.request.Request(sys.argv[1] + "/v3/auth/tokens", data=json.dumps(body).encode(), method="POST")
req.add_header("Content-Type", "application/json")
with urllib.request.urlopen(req, timeout=30) as resp:
    print(resp.headers["X-Subject-Token"])
EOF
}

cmd_start() {
  cmd_install
  cmd_stop >/dev/null 2>&1 || true
  write_files
  local mode; mode=$(db_mode)
  write_config "$(db_url "$mode")"
  if [ "$AUTH" = keystone ]; then start_keystone; fi
  prepare_neutron_db "$mode"
  local workers=$WORKERS threads=4
  if [ "$mode" = sqlite ]; then workers=1; threads=1; fi   # SQLite + concurrent writers = "database is locked"
  OS_NEUTRON_CONFIG_DIR="$LAB/etc/neutron" OS_NEUTRON_CONFIG_FILES="neutron.conf;plugins/ml2/ml2_conf.ini" \
    setsid "$VENV/bin/gunicorn" --chdir "$LAB/bin" --bind "127.0.0.1:$NEUTRON_PORT" --workers "$workers" \
    --worker-class gthread --threads "$threads" --timeout 300 --keep-alive "$KEEP_ALIVE" --no-control-socket \
    --pid "$LAB/state/neutron.pid" \
    neutron_wsgi:application >"$LAB/log/neutron.out" 2>&1 &
  echo $! >"$LAB/state/neutron.pid"
  wait_http "http://127.0.0.1:$NEUTRON_PORT/" "$LAB/state/neutron.pid" neutron
  if [ "$RPC" = rabbit ]; then start_rpc_server; fi
  if [ "$mode" = sqlite ]; then seed_default_rules; fi
  # shellcheck disable=SC2086
  cmd_agents $AGENTS
  log "Neutron $NEUTRON_VERSION ($mode, auth $AUTH) on http://127.0.0.1:$NEUTRON_PORT"
  if [ "$AUTH" = keystone ]; then log "Keystone $KEYSTONE_VERSION on http://127.0.0.1:$KEYSTONE_PORT/v3"; fi
}

stop_one() {  # pidfile name
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    log "stopped $2"
  fi
  rm -f "$1"
}

cmd_stop() {
  cmd_agent_stop
  stop_one "$LAB/state/rpc-server.pid" "neutron RPC server"
  stop_one "$LAB/state/neutron.pid" neutron
  stop_one "$LAB/state/keystone.pid" keystone
}

cmd_agents() {
  [ $# -gt 0 ] || return 0
  "$VPY" "$LAB/bin/register_agents.py" "$(config_files)" "$@" >>"$LAB/log/agents.out" 2>&1 \
    || { tail -n 20 "$LAB/log/agents.out" >&2; exit 1; }
}

cmd_status() {
  for what in "neutron http://127.0.0.1:$NEUTRON_PORT/" "keystone http://127.0.0.1:$KEYSTONE_PORT/v3"; do
    set -- $what
    if "$VPY" -c "import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass" "$2" 2>/dev/null; then echo "$1: up ($2)"; else echo "$1: down"; fi
  done
}

cmd_env() {
  if [ "$AUTH" = keystone ]; then
    echo "export EXTNET_CONFORMANCE_URL=http://127.0.0.1:$KEYSTONE_PORT/v3"
    echo "export EXTNET_CONFORMANCE_USERNAME=admin"
    echo "export EXTNET_CONFORMANCE_PASSWORD=$PASSWORD"
    echo "export EXTNET_CONFORMANCE_PROJECT=admin"
  else
    echo "export EXTNET_CONFORMANCE_URL=http://127.0.0.1:$NEUTRON_PORT"
    echo "export EXTNET_CONFORMANCE_AUTH=none"
  fi
  echo "export EXTNET_CONFORMANCE_AGENT_HOSTS='$AGENTS'"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  agents) shift; cmd_agents "$@" ;;
  env) cmd_env ;;
  agent-start) shift; cmd_agent_start "$@" ;;
  agent-stop) cmd_agent_stop ;;
  *) sed -n '2,25p' "$0" >&2; exit 2 ;;
esac
