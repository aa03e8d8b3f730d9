"""The chassis of an OVN deployment as its Southbound database lists them (``Chassis``, ``Chassis_Private``): what
the provider's ``ovn`` driver shows as agents and what ``extnet host setup ovn`` waits for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ovsdbapp.backend.ovs_idl import command, connection, idlutils
from ovsdbapp.schema.ovn_southbound import impl_idl


class OvnUnavailable(Exception):
    """The OVN database does not answer at the configured address."""


class Run(command.BaseCommand):
    """A function run on an ovsdbapp connection's thread inside one transaction (reads of the IDL's replica must
    happen there: the thread changes it)."""

    def __init__(self, api: Any, work: Any) -> None:
        super().__init__(api)
        self.work = work

    def run_idl(self, txn: Any) -> None:
        self.result = self.work(txn)


TABLES = {"Chassis": ["name", "hostname", "external_ids", "other_config"],
          "Chassis_Private": ["name", "nb_cfg", "nb_cfg_timestamp"]}  # fmt: skip


@dataclass(frozen=True)
class Chassis:
    name: str
    hostname: str
    config: dict[str, str]
    nb_cfg: int | None  # what its ovn-controller last confirmed (None: no Chassis_Private row)


class _Idl(connection.OvsdbIdl):
    def __init__(self, remote: str, helper: Any, on_change: Callable[[], None] | None) -> None:
        super().__init__(remote, helper)
        self.on_change = on_change

    def cooperative_yield(self) -> None:
        """No sleep(0) per row (ovsdbapp's, for eventlet): under the GIL it slows every other thread's wait."""

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        if self.on_change is not None:
            self.on_change()


class Southbound:
    """``on_change`` is called (on the connection's thread) whenever a chassis appears, goes, or confirms an
    ``nb_cfg``."""

    def __init__(self, remote: str, timeout: float = 30.0, on_change: Callable[[], None] | None = None) -> None:
        try:
            helper = idlutils.get_schema_helper(remote, "OVN_Southbound")
            for table, columns in TABLES.items():
                helper.register_columns(table, columns)
            self.idl = _Idl(remote, helper, on_change)
            self.api = impl_idl.OvnSbApiIdlImpl(connection.Connection(idl=self.idl, timeout=timeout))
        except Exception as err:  # ovsdbapp raises a bare Exception when it cannot fetch the schema
            raise OvnUnavailable(f"no OVN Southbound database answers at {remote} ({err}); start ovn-central or "
                                 "point --ovn-sb at it") from None  # fmt: skip

    def chassis(self) -> list[Chassis]:
        def read(_txn: Any) -> list[Chassis]:
            confirmed = {row.name: int(row.nb_cfg) for row in self.idl.tables["Chassis_Private"].rows.values()}
            return [Chassis(row.name, row.hostname or row.name, {**row.external_ids, **row.other_config},
                            confirmed.get(row.name)) for row in self.idl.tables["Chassis"].rows.values()]  # fmt: skip

        cmd = Run(self.api, read)
        with self.api.transaction(check_error=True) as txn:
            txn.add(cmd)
        return list(cmd.result)

    def close(self) -> None:
        self.api.ovsdb_connection.stop()
