"""Host agents' own accounts on a provider (role ``host_agent``), shared by the engine that makes them and the
built-in provider that honours them: the one agent host each may report, in its user name.

The engine names a host's account ``extnet-host-<provider registration id>@<agent host>``, ``<agent host>`` being the
``host`` its agent's heartbeats carry (``heartbeat_host``); such an account may report that agent only
(provider/api/host_access.py says what else it may do)."""

from __future__ import annotations

from typing import Any

from extnet.common import hostrpc

HOST_AGENT = "host_agent"
ACCOUNT_PREFIX = "extnet-host-"


def account_name(registration: str, agent_host: str) -> str:
    return f"{ACCOUNT_PREFIX}{registration}@{agent_host}"


def reported_host(user_name: str) -> str | None:
    """The agent host a host account may report (None for a user name that is not a host account's)."""
    if not user_name.startswith(ACCOUNT_PREFIX) or "@" not in user_name:
        return None
    return user_name.rpartition("@")[2] or None


def heartbeat_host(capabilities: dict[str, Any]) -> str:
    """The ``host`` of an agent's heartbeats, from its capabilities (``Host.getCapabilities``): the binding host id of
    its Open vSwitch plugging (Linux bridge when that is all it does), else its host name."""
    plugins = capabilities.get("plugin_types") or []
    bridge_only = hostrpc.LINUX_BRIDGE in plugins and hostrpc.OPEN_VSWITCH not in plugins
    plugin = hostrpc.LINUX_BRIDGE if bridge_only else hostrpc.OPEN_VSWITCH
    return str((capabilities.get("binding_host_ids") or {}).get(plugin) or capabilities.get("hostname") or "")
