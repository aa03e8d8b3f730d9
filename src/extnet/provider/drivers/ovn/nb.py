"""The OVN Northbound database through ovsdbapp: one IDL connection kept open; what the provider wants of each unit
applied in one OVSDB transaction (or only compared, for a report); an index of the rows extnet made, kept by the
IDL's own change notifications (they run on the connection's thread, as every transaction does, so nothing else
needs a lock); logical switch ports going up or down handed to a callback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from ovsdbapp.backend.ovs_idl import connection, idlutils
from ovsdbapp.schema.ovn_northbound import impl_idl

from extnet.common.ovn_sb import OvnUnavailable, Run
from extnet.common.progress import ProgressCallback, no_progress
from extnet.provider.drivers.ovn.desired import (
    CHILDREN,
    DROP_GROUP,
    KEY,
    OWNER,
    PARENT,
    REVISION,
    TABLES,
    Parent,
    Row,
    group_name,
)

log = logging.getLogger("extnet.provider.ovn")
Ref = tuple[str, str]  # (table, key)
PortUp = Callable[[str, bool], None]


class _Idl(connection.OvsdbIdl):
    """The NB IDL, keeping the index of extnet's rows and reporting ports going up or down."""

    def __init__(self, remote: str, helper: Any, on_port_up: PortUp | None) -> None:
        super().__init__(remote, helper)
        self.on_port_up = on_port_up
        self.by_key: dict[Ref, uuid.UUID] = {}
        self.by_owner: dict[str, set[Ref]] = {}
        self.of_uuid: dict[uuid.UUID, tuple[Ref, str]] = {}

    def cooperative_yield(self) -> None:
        """ovsdbapp sleeps(0) after each row of an update (for eventlet): under the GIL, each such yield can cost a
        switch interval while a request thread runs, and an API call waits for its own update to be parsed."""

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        table = row._table.name
        if table in TABLES:
            self._index(event, table, row)
        if table == "Logical_Switch_Port" and self.on_port_up is not None and _up_changed(event, row, updates):
            self.on_port_up(row.name, bool(row.up and row.up[0]))

    def _index(self, event: str, table: str, row: Any) -> None:
        known = self.of_uuid.pop(row.uuid, None)
        if known is not None:
            ref, owner = known
            if self.by_key.get(ref) == row.uuid:
                del self.by_key[ref]
            self.by_owner.get(owner, set()).discard(ref)
        if event == "delete":
            return
        external = row.external_ids
        key, owner = external.get(KEY), external.get(OWNER)
        if key and owner:
            ref = (table, key)
            self.by_key[ref] = row.uuid
            self.by_owner.setdefault(owner, set()).add(ref)
            self.of_uuid[row.uuid] = (ref, owner)


def _up_changed(event: str, row: Any, updates: Any) -> bool:
    """A port came up (a new row that is up already), or its ``up`` changed."""
    if event == "create":
        return bool(row.up and row.up[0])
    return event == "update" and updates is not None and hasattr(updates, "up")


class Northbound:
    def __init__(self, remote: str, on_port_up: PortUp | None = None, timeout: float = 30.0) -> None:
        self.remote = remote
        try:
            helper = idlutils.get_schema_helper(remote, "OVN_Northbound")
            helper.register_all()
            self.idl = _Idl(remote, helper, on_port_up)
            self.api = impl_idl.OvnNbApiIdlImpl(connection.Connection(idl=self.idl, timeout=timeout))
        except Exception as err:  # ovsdbapp raises a bare Exception when it cannot fetch the schema
            raise OvnUnavailable(f"no OVN Northbound database answers at {remote} ({err}); start ovn-central or "
                                 "point --ovn-nb at it") from None  # fmt: skip

    def run(self, work: Callable[[Any], Any]) -> Any:
        """``work(txn)`` on the connection's thread, in one transaction committed after it (nothing, if it wrote
        nothing)."""
        cmd = Run(self.api, work)
        with self.api.transaction(check_error=True) as txn:
            txn.add(cmd)
        return cmd.result

    def apply(self, desired: dict[str, list[Row]], repair: bool = True, thorough: bool = False,
              progress: ProgressCallback = no_progress) -> list[str]:  # fmt: skip
        """Make each unit's rows what ``desired`` says (units in order); returns every difference found. With
        ``repair`` False nothing is written. ``thorough``: also check that every existing row hangs from its parent
        and is in exactly the port groups it should be (reading whole sets: a full check's work, not a change's;
        a change moves a port between groups by what its row recorded of them). ``progress`` hears of each unit
        done, from the connection's thread."""
        return list(self.run(lambda txn: _Apply(self.idl, txn, repair, thorough).units(desired, progress)))

    def revisions(self) -> dict[str, dict[Ref, str]]:
        """{owner: {(table, key): the row's neutron:revision_number, or ""}} of every row extnet made."""

        def read(_txn: Any) -> dict[str, dict[Ref, str]]:
            found: dict[str, dict[Ref, str]] = {}
            for owner, refs in self.idl.by_owner.items():
                for ref in refs:
                    row = self.idl.tables[ref[0]].rows.get(self.idl.by_key[ref])
                    if row is not None:
                        found.setdefault(owner, {})[ref] = row.external_ids.get(REVISION, "")
            return found

        return dict(self.run(read))

    def ports_up(self) -> dict[str, bool]:
        def read(_txn: Any) -> dict[str, bool]:
            rows = self.idl.tables["Logical_Switch_Port"].rows.values()
            return {row.name: bool(row.up and row.up[0]) for row in rows}

        return dict(self.run(read))

    def bump_nb_cfg(self) -> int:
        """Ask every chassis to confirm it has caught up (``NB_Global.nb_cfg`` + 1); the value asked for."""

        def bump(txn: Any) -> int:
            rows = list(self.idl.tables["NB_Global"].rows.values())
            if not rows:
                row = txn.insert(self.idl.tables["NB_Global"])
                row.nb_cfg = 1
                return 1
            value = int(rows[0].nb_cfg) + 1
            rows[0].nb_cfg = value
            return value

        return int(self.run(bump))

    def close(self) -> None:
        self.api.ovsdb_connection.stop()


class _Apply:
    def __init__(self, idl: _Idl, txn: Any, repair: bool, thorough: bool) -> None:
        self.idl = idl
        self.txn = txn
        self.repair = repair
        self.thorough = thorough
        self.made: dict[Ref, Any] = {}
        self.made_uuids: set[uuid.UUID] = set()
        self.sets: dict[tuple[uuid.UUID, str], set[uuid.UUID]] = {}
        self.gone: set[Ref] = set()
        self.differences: list[str] = []

    def units(self, desired: dict[str, list[Row]], progress: ProgressCallback = no_progress) -> list[str]:
        phase = "repairing OVN Northbound" if self.repair else "comparing with OVN Northbound"
        for done, (owner, rows) in enumerate(desired.items(), 1):
            wanted = {(row.table, row.key) for row in rows}
            for row in rows:
                self._ensure(row)
            for ref in sorted(self.idl.by_owner.get(owner, set()) - wanted):
                self._remove(ref, owner)
            progress(phase, done, len(desired))
        return self.differences

    def find(self, table: str, key: str) -> Any:
        ref = (table, key)
        if ref in self.gone:
            return None
        if ref in self.made:
            return self.made[ref]
        row_id = self.idl.by_key.get(ref)
        return None if row_id is None else self.idl.tables[table].rows.get(row_id)

    def _note(self, text: str) -> None:
        self.differences.append(text)

    def _ensure(self, wanted: Row) -> None:
        row = self.find(wanted.table, wanted.key)
        if row is None:
            self._note(f"{wanted.table} {wanted.key} of {wanted.owner} is missing")
            if not self.repair:
                return
            row = self.txn.insert(self.idl.tables[wanted.table])
            self.made[(wanted.table, wanted.key)] = row
            self.made_uuids.add(row.uuid)
            for column, value in wanted.columns.items():
                setattr(row, column, value)
            if wanted.parent is not None:
                parent = self.find(wanted.parent.table, wanted.parent.key)
                if parent is not None:
                    self._add(parent, wanted.parent.column, row)
            for parent in wanted.member_of:  # a new row is in no group yet
                holder = self.find(parent.table, parent.key)
                if holder is not None:
                    self._add(holder, parent.column, row)
        else:
            recorded = _recorded_groups(row) if wanted.table == "Logical_Switch_Port" else set()
            for column, value in wanted.columns.items():
                if not _same(getattr(row, column), value):
                    self._note(f"{wanted.table} {wanted.key}: {column} is {_show(getattr(row, column))}, "
                               f"should be {_show(value)}")  # fmt: skip
                    if self.repair:
                        setattr(row, column, value)
            if self.thorough:
                if wanted.parent is not None:
                    self._check_parent(row, wanted)
                for parent in wanted.member_of:
                    self._ensure_member(row, wanted, parent)
                self._leave_other_groups(row, wanted)
            elif wanted.table == "Logical_Switch_Port":
                self._move_between_groups(row, wanted, recorded)
        for column, (table, keys) in wanted.refs.items():
            self._ensure_refs(row, wanted, column, table, keys)

    def _check_parent(self, row: Any, wanted: Row) -> None:
        assert wanted.parent is not None
        parent = self.find(wanted.parent.table, wanted.parent.key)
        if parent is not None and row.uuid not in self._members(parent, wanted.parent.column):
            self._note(f"{wanted.table} {wanted.key} is not in {wanted.parent.table} {wanted.parent.key}")
            if self.repair:
                self._add(parent, wanted.parent.column, row)

    def _ensure_refs(self, row: Any, wanted: Row, column: str, table: str, keys: list[str]) -> None:
        targets = [target for target in (self.find(table, key) for key in keys) if target is not None]
        actual = {ref.uuid for ref in getattr(row, column)} if row.uuid not in self.made_uuids else set()
        if actual != {target.uuid for target in targets}:
            if row.uuid not in self.made_uuids:
                self._note(f"{wanted.table} {wanted.key}: {column} should point at {', '.join(keys) or 'nothing'}")
            if self.repair:
                setattr(row, column, [target.uuid for target in targets])

    def _ensure_member(self, row: Any, wanted: Row, parent: Parent) -> None:
        holder = self.find(parent.table, parent.key)
        if holder is None:
            return
        if row.uuid not in self._members(holder, parent.column):
            if row.uuid not in self.made_uuids:
                self._note(f"{wanted.table} {wanted.key} is not in {parent.table} {parent.key}")
            if self.repair:
                self._add(holder, parent.column, row)

    def _members(self, holder: Any, column: str) -> set[uuid.UUID]:
        """The rows a set column holds, read once per transaction and kept as it changes (a full check asks it of
        the same switch and group for every port); a row made in this transaction has none until set."""
        key = (holder.uuid, column)
        if key not in self.sets:
            try:
                self.sets[key] = {member.uuid for member in getattr(holder, column)}
            except AttributeError:
                self.sets[key] = set()
        return self.sets[key]

    def _add(self, holder: Any, column: str, row: Any) -> None:
        members = self._members(holder, column)
        members.add(row.uuid)
        if holder.uuid in self.made_uuids:  # a new row takes the whole set (a mutation needs an existing row)
            setattr(holder, column, list(members))
        else:
            holder.addvalue(column, row.uuid)

    def _drop(self, holder: Any, column: str, row_uuid: uuid.UUID) -> None:
        self.sets.get((holder.uuid, column), set()).discard(row_uuid)
        holder.delvalue(column, row_uuid)

    def _move_between_groups(self, row: Any, wanted: Row, recorded: set[str]) -> None:
        """Be in every group it should be in (each group's members read once per transaction); leave those its row
        recorded and it should no longer be in."""
        desired = {parent.key for parent in wanted.member_of}
        for name in sorted(desired):
            holder = self.find("Port_Group", name)
            if holder is not None and row.uuid not in self._members(holder, "ports"):
                if name in recorded:
                    self._note(f"{wanted.table} {wanted.key} is not in Port_Group {name}")
                if self.repair:
                    self._add(holder, "ports", row)
        for name in sorted(recorded - desired):
            holder = self.find("Port_Group", name)
            if holder is not None and self.repair:
                self._drop(holder, "ports", row.uuid)

    def _leave_other_groups(self, row: Any, wanted: Row) -> None:
        if wanted.table != "Logical_Switch_Port" or row.uuid in self.made_uuids:
            return
        keep = {parent.key for parent in wanted.member_of}
        for group in self.idl.tables["Port_Group"].rows.values():
            if group.name not in keep and row.uuid in self._members(group, "ports"):
                self._note(f"{wanted.table} {wanted.key} should not be in Port_Group {group.name}")
                if self.repair:
                    self._drop(group, "ports", row.uuid)

    def _remove(self, ref: Ref, owner: str) -> None:
        row = self.find(*ref)
        if row is None:
            return
        self._note(f"{ref[0]} {ref[1]} of {owner} should not exist")
        if not self.repair:
            return
        if ref[0] in CHILDREN:
            parent_table, column = CHILDREN[ref[0]]
            parent = self.find(parent_table, row.external_ids.get(PARENT, ""))
            if parent is not None and (parent_table, parent.external_ids.get(KEY)) not in self.gone:
                self._drop(parent, column, row.uuid)
        row.delete()
        self.gone.add(ref)


def _recorded_groups(row: Any) -> set[str]:
    """The port groups a logical switch port's row says it is in: with port security, the drop group and one per
    security group its external_ids list."""
    if not row.port_security:
        return set()
    groups = row.external_ids.get("neutron:security_group_ids", "").split()
    return {DROP_GROUP, *(group_name(group) for group in groups)}


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return sorted(map(str, actual)) == sorted(map(str, wanted))
    return bool(actual == wanted)


def _show(value: Any) -> str:
    return repr(value)[:200]
