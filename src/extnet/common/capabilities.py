"""What a host agent reports of its host (``Host.getCapabilities``): a typed, versioned structure, its fields declared
once and (de)serialized from the declaration (``extnet.common.codec``), written by the agent and read by the engine's
scheduling and API.

Versioned ``MAJOR.MINOR`` as the VIF contract: fields are only ever added within a major version; a reader ignores
what it does not know and defaults what it does not get. It is a report, so reading never fails: a field of the
wrong type reads as its default. 1.0: the first; 1.1 adds ``vif_kinds``, ``ovs_hybrid_plug``, ``tunnel_ip`` and
``cleaned``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from extnet.common.codec import decode, encode

VERSION = "1.1"


@dataclass(frozen=True)
class HostCapabilities:
    hostname: str = ""
    unique_id: str = ""
    agent_version: str = ""
    protocol_version: str = ""
    vif_versions: tuple[str, ...] = ()
    runtime: str = ""
    binding_host_ids: dict[str, str] = field(default_factory=dict)  # plugin type -> binding:host_id
    plugin_types: tuple[str, ...] = ()
    vif_types: tuple[str, ...] = ()  # binding:vif_type values it can plug
    vif_kinds: tuple[str, ...] = ()  # kinds of plugging it can do (extnet.common.vif.KINDS)
    bridges: tuple[str, ...] = ()
    bridge_mappings: dict[str, str] = field(default_factory=dict)
    tunnel_types: tuple[str, ...] = ()
    datapath_type: str = ""
    integration_bridge: str = ""
    ovs_hybrid_plug: bool = False
    tunnel_ip: str = ""
    cleaned: tuple[str, ...] = ()  # what the agent found at its start that no VM owned, and removed
    version: str = VERSION

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value, default = getattr(self, item.name), _default(item)
            object.__setattr__(self, item.name, _coerced(value, default))

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = encode(self)
        return document

    @classmethod
    def read(cls, data: Any) -> HostCapabilities:
        """What a host reported (a stored report, or an agent's answer), never failing."""
        if not isinstance(data, dict):
            return cls()
        problems: list[str] = []
        read = decode(cls, data, "host capabilities", problems)
        return read if read is not None else cls()

    def binding(self, plugin_type: str) -> str | None:
        """The ``binding:host_id`` of ports plugged on this host for ``plugin_type``: the id the host reports for it,
        else (a plugin type it plugs without reporting an id) its host name; None when it cannot plug it."""
        wanted = plugin_type.lower()
        for key, value in self.binding_host_ids.items():
            if key.lower() == wanted and value:
                return value
        if wanted in (p.lower() for p in self.plugin_types):
            return self.hostname or None
        return None


def _default(item: dataclasses.Field[Any]) -> Any:
    return item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default


def _coerced(value: Any, default: Any) -> Any:
    """``value`` in the type of ``default``, or ``default`` when it cannot be."""
    if isinstance(default, bool):
        return value if isinstance(value, bool) else default
    if isinstance(default, str):
        return value if isinstance(value, str) else default
    if isinstance(default, tuple):
        return tuple(str(v) for v in value) if isinstance(value, list | tuple) else default
    if isinstance(default, dict):
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else default
    return value
