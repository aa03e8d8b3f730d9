"""The host's Open vSwitch, through ovsdbapp (native OVSDB: one IDL connection kept open, one transaction per
change, as os-vif's ``ovsdb_lib`` does; ``ovs-vsctl`` would cost a process and a round trip per call)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ovsdbapp.backend.ovs_idl import connection, idlutils
from ovsdbapp.schema.open_vswitch import impl_idl

DEFAULT_OVSDB = "unix:/run/openvswitch/db.sock"
# what the agent reads and writes: the IDL follows only these (ovs-vswitchd updates every Interface's statistics
# and status all the time; following those would keep the agent busy parsing updates it never reads)
COLUMNS = {
    "Open_vSwitch": ["bridges", "external_ids", "datapath_types", "iface_types", "cur_cfg", "next_cfg"],
    "Bridge": ["name", "ports", "datapath_type", "external_ids", "other_config", "fail_mode", "protocols"],
    "Port": ["name", "interfaces", "tag", "other_config", "external_ids"],
    "Interface": ["name", "type", "external_ids", "options", "ofport"],
}


class OvsUnavailable(Exception):
    """No Open vSwitch answers at the configured OVSDB address."""


@dataclass(frozen=True)
class OvsPort:
    name: str
    bridge: str
    iface_ids: dict[str, str]  # the Interface's external_ids
    tag: int | None
    other_config: dict[str, str]


class Ovs:
    def __init__(self, remote: str, timeout: float = 10.0) -> None:
        self.remote = remote
        if remote.startswith("unix:") and not Path(remote.removeprefix("unix:")).exists():
            raise OvsUnavailable(f"no Open vSwitch database at {remote} (no such socket); start openvswitch-switch "
                                 "or point --ovsdb (EXTNET_HOST_OVSDB) at it")  # fmt: skip
        try:
            helper = idlutils.get_schema_helper(remote, "Open_vSwitch")
            for table, columns in COLUMNS.items():
                helper.register_columns(table, columns)
            idl = connection.OvsdbIdl(remote, helper)
            self._api = impl_idl.OvsdbIdl(connection.Connection(idl=idl, timeout=timeout))
        except Exception as err:  # ovsdbapp raises a bare Exception when it cannot fetch the schema
            raise OvsUnavailable(f"no Open vSwitch database at {remote} ({err}); start openvswitch-switch or point "
                                 "--ovsdb (EXTNET_HOST_OVSDB) at it") from None  # fmt: skip
        self._lock = threading.Lock()

    def _commit(self, *commands: Any) -> None:
        with self._lock, self._api.transaction(check_error=True) as txn:
            for command in commands:
                txn.add(command)

    def _read(self, command: Any) -> Any:
        with self._lock:
            return command.execute(check_error=True)

    # --- the switch -----------------------------------------------------------------------------------------

    def external_ids(self) -> dict[str, str]:
        return dict(self._read(self._api.db_get("Open_vSwitch", ".", "external_ids")))

    def set_external_ids(self, values: dict[str, str]) -> None:
        self._commit(self._api.db_set("Open_vSwitch", ".", ("external_ids", values)))

    def datapath_types(self) -> list[str]:
        return list(self._read(self._api.db_get("Open_vSwitch", ".", "datapath_types")))

    def bridges(self) -> list[str]:
        return list(self._read(self._api.list_br()))

    def ensure_bridge(self, name: str, datapath_type: str) -> None:
        try:
            self._commit(self._api.add_br(name, may_exist=True, datapath_type=datapath_type))
        except RuntimeError as err:
            # another client (ovn-controller makes its integration bridge) made it between our look and our insert
            if "constraint violation" not in str(err) or not self._appears(name):
                raise

    def _appears(self, bridge: str, wait_s: float = 5.0) -> bool:
        deadline = time.monotonic() + wait_s
        while bridge not in self.bridges():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def bridge_datapath(self, name: str) -> str:
        return str(self._read(self._api.db_get("Bridge", name, "datapath_type")) or "system")

    # --- ports ----------------------------------------------------------------------------------------------

    def ensure_port(self, bridge: str, name: str, iface_ids: dict[str, str], tag: int | None = None,
                    other_config: dict[str, str] | None = None, iface_type: str = "",
                    options: dict[str, str] | None = None) -> None:  # fmt: skip
        """The port ``name`` on ``bridge`` with those Interface external_ids (and options), local VLAN ``tag`` (None:
        left alone) and Port other_config, in one transaction."""
        api = self._api
        commands = [api.add_port(bridge, name, may_exist=True),
                    api.db_set("Interface", name, ("external_ids", iface_ids), ("type", iface_type))]  # fmt: skip
        if options:
            commands.append(api.db_set("Interface", name, ("options", options)))
        if tag is not None:  # None: the tag is another agent's business (OVN, Neutron's OVS agent)
            commands.append(api.db_set("Port", name, ("tag", tag)))
        if other_config:
            commands.append(api.db_set("Port", name, ("other_config", other_config)))
        self._commit(*commands)

    def delete_port(self, name: str) -> None:
        self._commit(self._api.del_port(name, if_exists=True))

    def ports(self) -> list[OvsPort]:
        """Every port of every bridge, with its Interface's external_ids (the bridge's own internal port left out)."""
        found: list[OvsPort] = []
        with self._lock:
            tables = self._api.tables
            for bridge in tables["Bridge"].rows.values():
                for port in bridge.ports:
                    if port.name == bridge.name:
                        continue
                    iface = port.interfaces[0] if port.interfaces else None
                    found.append(OvsPort(port.name, bridge.name, dict(iface.external_ids) if iface else {},
                                         port.tag[0] if port.tag else None, dict(port.other_config)))  # fmt: skip
        return found

    def close(self) -> None:
        with self._lock:
            self._api.ovsdb_connection.stop()
