"""The chassis OVN knows (Southbound ``Chassis``) as the provider's ``OVN Controller agent`` rows, as Neutron's OVN
driver shows them: the host is the chassis' host name, the configuration its bridge mappings and datapath type, and
it is alive while its ovn-controller keeps up with the ``nb_cfg`` the provider asks for."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from extnet.common.ovn_sb import Chassis, Southbound
from extnet.provider.service.binding import OVN_AGENT
from extnet.provider.service.common import new_id
from extnet.provider.store.backend import In, Kind, Query
from extnet.provider.store.sql import SqlBackend


def configuration(chassis: Chassis) -> dict[str, Any]:
    config = chassis.config
    return {"chassis_name": chassis.name, "bridge-mappings": config.get("ovn-bridge-mappings", ""),
            "datapath-type": config.get("datapath-type", ""), "iface-types": config.get("iface-types", ""),
            "ovn-cms-options": config.get("ovn-cms-options", "")}  # fmt: skip


def refresh_agents(backend: SqlBackend, sb: Southbound, asked: int | None) -> bool:
    """One agent row per chassis; its heartbeat refreshed when the chassis confirmed the ``nb_cfg`` asked last or
    the one before (before the first question: when it is there); the rows of chassis that are gone removed.
    Whether a chassis came or went (or changed its configuration)."""
    now = time.time()
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S")
    seen = sb.chassis()
    changed = False
    with backend.transaction(write=True) as tx:
        rows = {r["host"]: r for r in tx.find(Kind.AGENT, Query(where=In("agent_type", (OVN_AGENT,)))).records}
        for chassis in seen:
            alive = asked is None or (chassis.nb_cfg is not None and chassis.nb_cfg >= asked - 1)
            values: dict[str, Any] = {"configurations": configuration(chassis)}
            if alive:
                values.update(heartbeat_timestamp=stamp, heartbeat_epoch=now)
            row = rows.pop(chassis.hostname, None)
            changed = changed or row is None or row.get("configurations") != values["configurations"]
            if row is None:
                tx.insert(Kind.AGENT, [{"id": new_id(), "agent_type": OVN_AGENT, "host": chassis.hostname,
                                        "binary": "ovn-controller", "topic": "N/A", "admin_state_up": True,
                                        "description": None, "availability_zone": None, "created_at": stamp,
                                        "started_at": stamp, "heartbeat_timestamp": stamp,
                                        "heartbeat_epoch": now if alive else 0.0, **values}])  # fmt: skip
            else:
                tx.update(Kind.AGENT, row["id"], values)
        gone = [r["id"] for r in rows.values()]
        if gone:
            tx.delete(Kind.AGENT, gone)
    return changed or bool(gone)
