"""The engine <-> host agent protocol: JSON-RPC 2.0 over HTTP (``POST /jsonrpc``), shared by both sides.

Every call but ``Host.pair`` carries ``Authorization: Bearer <per-host secret>``; a caller without the secret gets
HTTP 401 with an empty body, whatever it asks. Errors are JSON-RPC errors: the standard codes for protocol
problems, and the application codes below, each with ``data.kind`` and a message an administrator can act on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from enum import IntEnum
from typing import Any

PATH = "/jsonrpc"
DEFAULT_PORT = 54321
PROTOCOL_VERSION = "1.0"
OVS_AGENT_TYPE = "Open vSwitch agent"
OVS_AGENT_BINARY = "neutron-openvswitch-agent"
OPEN_VSWITCH = "open_vswitch"
LB_AGENT_TYPE = "Linux bridge agent"
LB_AGENT_BINARY = "neutron-linuxbridge-agent"
LINUX_BRIDGE = "linux_bridge"

PAIR = "Host.pair"
IDENTIFY = "Host.identify"
UNPAIR = "Host.unpair"
PING = "Host.ping"
GET_CAPABILITIES = "Host.getCapabilities"
SET_PROVIDERS = "Host.setProviders"
VM_CREATE = "VM.create"
VM_DESTROY = "VM.destroy"
VM_HOTPLUG_NIC = "VM.hotplugNic"
VM_HOTUNPLUG_NIC = "VM.hotunplugNic"
VM_GET_STATS = "VM.getStats"
# the longest ``Host.setProviders`` may wait (``wait``) for the providers to take the first heartbeats
MAX_FIRST_BEAT_WAIT = 30.0
# methods served without the per-host secret: they authenticate with the pairing password instead
UNAUTHENTICATED = frozenset({PAIR, IDENTIFY})


class ErrorCode(IntEnum):
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    PAIRING_REFUSED = 1001  # the pairing password is wrong
    PAIRING_THROTTLED = 1002  # too many wrong pairing passwords lately
    VM_NOT_FOUND = 1010
    VM_CONFLICT = 1011  # e.g. the same vNIC id in two VMs
    VIF_INVALID = 1020
    VIF_VERSION_UNSUPPORTED = 1021
    VIF_UNBOUND = 1022  # the provider did not bind the port to this host
    PLUGIN_TYPE_UNSUPPORTED = 1023
    VIF_TYPE_UNSUPPORTED = 1024
    BRIDGE_MISSING = 1025
    RUNTIME_FAILED = 1030


KINDS = {code: code.name.lower() for code in ErrorCode}


def digest_of(value: Any) -> str:
    """A short digest of a JSON value (both sides compute it the same way to see whether it changed)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:32]


def keyed_digest(key: str, value: Any) -> str:
    """A digest of a JSON value that holds secrets, keyed so that it reveals nothing of them."""
    return hmac.new(key.encode(), json.dumps(value, sort_keys=True).encode(), hashlib.sha256).hexdigest()[:32]
