"""What the agent reports of its host (``Host.getCapabilities``), and its stable unique id."""

from __future__ import annotations

import functools
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

from extnet.common.capabilities import HostCapabilities
from extnet.common.hostrpc import PROTOCOL_VERSION
from extnet.common.vif import VERSION as VIF_VERSION
from extnet.host.files import write_private
from extnet.host.runtime.base import Runtime
from extnet.host.settings import HostSettings

ID_FILE = "host-id"


@functools.cache  # reading the installed package's metadata costs milliseconds; it cannot change while running
def agent_version() -> str:
    try:
        return metadata.version("extnet")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def unique_id(data_dir: Path) -> str:
    """The agent's id, generated at its first start and kept in the data dir (oVirt's host unique id)."""
    path = data_dir / ID_FILE
    if path.exists():
        text = path.read_text().strip()
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise ValueError(f"{path} does not hold a UUID; remove it to generate a new one") from None
    value = str(uuid.uuid4())
    write_private(path, value + "\n")
    return value


def capabilities(settings: HostSettings, runtime: Runtime, host_unique_id: str) -> dict[str, Any]:
    facts = runtime.facts()
    return HostCapabilities(
        hostname=settings.effective_hostname, unique_id=host_unique_id, agent_version=agent_version(),
        protocol_version=PROTOCOL_VERSION, vif_versions=(VIF_VERSION,), runtime=runtime.name,
        binding_host_ids=dict(facts.binding_host_ids), plugin_types=tuple(settings.plugin_type_list),
        vif_types=tuple(facts.vif_types), vif_kinds=tuple(facts.vif_kinds), bridges=tuple(facts.bridges),
        bridge_mappings=settings.mapping_dict, tunnel_types=tuple(settings.tunnel_type_list),
        datapath_type=facts.datapath_type, integration_bridge=settings.integration_bridge,
        ovs_hybrid_plug=settings.ovs_hybrid_plug, tunnel_ip=settings.tunnel_ip or "",
        cleaned=tuple(getattr(runtime, "cleaned", ())),
    ).to_json()  # fmt: skip
