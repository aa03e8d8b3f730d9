"""The SQL backend: ``Tx`` over SQLAlchemy Core, SQLite (default) or PostgreSQL."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    and_,
    delete,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from extnet.provider.store import tables as t
from extnet.provider.store.backend import (
    AllOf,
    AnyOf,
    Bump,
    Cond,
    Contains,
    In,
    Kind,
    Not,
    Page,
    Query,
    Record,
    StoreBusy,
    StoreConflict,
    Via,
    iter_chunks,
)
from extnet.provider.store.db import make_engine

CHUNK = 1000
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available
_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


def ip_key(address: str) -> str:
    """Zero-padded hex of an address: sorts like the number, IPv4 and IPv6 alike."""
    return f"{int(ipaddress.ip_address(address)):032x}"


@dataclass(frozen=True)
class Child:
    """A collection stored in its own table, keyed by the parent's id."""

    table: Table
    fk: str
    columns: tuple[str, ...]  # one column: a list of values; several: a list of dicts
    order: tuple[str, ...]
    writable: bool = True


TAGS = Child(t.tags, "resource_id", ("tag",), ("tag",))
CHILDREN: dict[Kind, dict[str, Child]] = {
    Kind.NETWORK: {"tags": TAGS, "subnets": Child(t.subnets, "network_id", ("id",), ("id",), writable=False)},
    Kind.SUBNET: {"tags": TAGS},
    Kind.PORT: {
        "tags": TAGS,
        "fixed_ips": Child(t.ip_allocations, "port_id", ("subnet_id", "ip_address"), ("position",)),
        "security_groups": Child(t.port_security_groups, "port_id", ("security_group_id",), ("position",)),
    },
    Kind.SECURITY_GROUP: {"tags": TAGS},
    Kind.SECURITY_GROUP_RULE: {},
    Kind.ROUTER: {"tags": TAGS},
    Kind.AGENT: {},
}
TABLES: dict[Kind, Table] = {
    Kind.NETWORK: t.networks,
    Kind.SUBNET: t.subnets,
    Kind.PORT: t.ports,
    Kind.SECURITY_GROUP: t.security_groups,
    Kind.SECURITY_GROUP_RULE: t.security_group_rules,
    Kind.ROUTER: t.routers,
    Kind.AGENT: t.agents,
}

# plain str keys (SQLAlchemy may hand out str subclasses, which fast JSON encoders refuse)
NAMES: dict[Kind, tuple[str, ...]] = {kind: tuple(str(c.name) for c in table.columns) for kind, table in TABLES.items()}


class SqlTx:
    def __init__(self, conn: Connection, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    # --- reads -------------------------------------------------------------------------------------------------

    def get(self, kind: Kind, id_: str, *, want: frozenset[str] | None = None, lock: bool = False) -> Record | None:
        table = TABLES[kind]
        stmt = select(table).where(table.c.id == id_)
        if lock and self.postgres:
            stmt = stmt.with_for_update()
        row = self._execute(stmt).first()
        if row is None:
            return None
        records = [dict(zip(NAMES[kind], row, strict=True))]
        self._load_children(kind, records, want)
        return records[0]

    def find(self, kind: Kind, query: Query) -> Page:
        table = TABLES[kind]
        stmt = select(table)
        if query.where is not None:
            stmt = stmt.where(self._clause(kind, query.where))
        order = [(table.c[name], asc) for name, asc in query.sort if name != "id"]
        id_asc = next((asc for name, asc in query.sort if name == "id"), True)
        order.append((table.c.id, id_asc))
        if query.reverse:
            order = [(col, not asc) for col, asc in order]
        if query.marker is not None:
            stmt = stmt.where(_after(order, query.marker))
        stmt = stmt.order_by(*[_order_by(col, asc) for col, asc in order])
        if query.limit is not None:
            stmt = stmt.limit(query.limit + 1)
        if query.lock and self.postgres:
            stmt = stmt.with_for_update()
        names = NAMES[kind]
        records = [dict(zip(names, row, strict=True)) for row in self._execute(stmt)]
        more = query.limit is not None and len(records) > query.limit
        if more:
            del records[-1]
        if query.reverse:
            records.reverse()
        self._load_children(kind, records, query.want)
        return Page(records, more)

    def count(self, kind: Kind, where: Cond) -> int:
        table = TABLES[kind]
        stmt = select(func.count()).select_from(table).where(self._clause(kind, where))
        return int(self._execute(stmt).scalar_one())

    def taken_addresses(self, subnet_id: str, first_key: str, last_key: str, limit: int) -> list[str]:
        c = t.ip_allocations.c
        stmt = (
            select(c.ip_key)
            .where(c.subnet_id == subnet_id, c.ip_key >= first_key, c.ip_key <= last_key)
            .order_by(c.ip_key)
            .limit(limit)
        )
        return list(self._execute(stmt).scalars())

    def _load_children(self, kind: Kind, records: list[Record], want: frozenset[str] | None) -> None:
        if not records:
            return
        for name, child in CHILDREN[kind].items():
            if want is not None and name not in want:
                continue
            values: dict[str, list[Any]] = {record["id"]: [] for record in records}
            fk = child.table.c[child.fk]
            columns = [child.table.c[col] for col in child.columns]
            ordering = [fk, *[child.table.c[col] for col in child.order]]
            for ids in iter_chunks(list(values), CHUNK):
                stmt = select(fk, *columns).where(fk.in_(ids)).order_by(*ordering)
                if len(columns) == 1:
                    for parent, value in self._execute(stmt).tuples():
                        values[parent].append(value)
                else:
                    for row in self._execute(stmt).tuples():
                        values[row[0]].append(dict(zip(child.columns, row[1:], strict=True)))
            for record in records:
                record[name] = values[record["id"]]

    # --- writes ------------------------------------------------------------------------------------------------

    def insert(self, kind: Kind, records: Sequence[Record]) -> None:
        if not records:
            return
        table = TABLES[kind]
        names = [col.name for col in table.columns]
        rows = [{name: record.get(name) for name in names} for record in records]
        self._execute(insert(table), rows)
        for name, child in CHILDREN[kind].items():
            if child.writable:
                child_rows = [row for record in records for row in _child_rows(kind, name, record, record.get(name))]
                if child_rows:
                    self._execute(insert(child.table), child_rows)

    def update(self, kind: Kind, id_: str, changes: Mapping[str, Any]) -> None:
        table = TABLES[kind]
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name in CHILDREN[kind]:
                continue
            values[name] = table.c[name] + 1 if isinstance(value, Bump) else value
        if values:
            self._execute(update(table).where(table.c.id == id_).values(values))
        for name, child in CHILDREN[kind].items():
            if name in changes and child.writable:
                self._execute(delete(child.table).where(child.table.c[child.fk] == id_))
                parent = {**changes, "id": id_}
                if name == "fixed_ips" and "network_id" not in parent:
                    parent["network_id"] = self._execute(
                        select(t.ports.c.network_id).where(t.ports.c.id == id_)
                    ).scalar()
                rows = _child_rows(kind, name, parent, changes[name])
                if rows:
                    self._execute(insert(child.table), rows)

    def delete(self, kind: Kind, ids: Sequence[str]) -> None:
        if not ids:
            return
        table = TABLES[kind]
        for chunk in iter_chunks(list(ids), CHUNK):
            if "tags" in CHILDREN[kind]:
                self._execute(delete(t.tags).where(t.tags.c.resource_id.in_(chunk)))
            self._execute(delete(table).where(table.c.id.in_(chunk)))

    def lock(self, kind: Kind, ids: Sequence[str]) -> None:
        # SQLite: every write transaction already holds the database's one write lock (BEGIN IMMEDIATE).
        if self.postgres and ids:
            table = TABLES[kind]
            stmt = select(table.c.id).where(table.c.id.in_(sorted(set(ids)))).order_by(table.c.id).with_for_update()
            self._execute(stmt).all()

    # --- compiling conditions ----------------------------------------------------------------------------------

    def _clause(self, kind: Kind, cond: Cond) -> ColumnElement[bool]:
        table = TABLES[kind]
        if isinstance(cond, AllOf):
            return and_(true(), *[self._clause(kind, c) for c in cond.conds])
        if isinstance(cond, AnyOf):
            return or_(false(), *[self._clause(kind, c) for c in cond.conds])
        if isinstance(cond, Not):
            return not_(self._clause(kind, cond.cond))
        if isinstance(cond, Via):
            target = TABLES[cond.kind]
            sub = select(target.c.id).where(self._clause(cond.kind, cond.cond))
            return table.c[cond.field].in_(sub)
        if isinstance(cond, In):
            column, child = self._column(kind, cond.field)
            return _wrap(table, child, _in(column, cond.values))
        if isinstance(cond, Contains):
            column, child = self._column(kind, cond.field)
            pattern = "%" + cond.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            return _wrap(table, child, column.like(pattern, escape="\\"))
        raise TypeError(f"unknown condition {cond!r}")

    def _column(self, kind: Kind, name: str) -> tuple[Column[Any], Child | None]:
        head, _, item = name.partition(".")
        child = CHILDREN[kind].get(head)
        if child is None:
            return TABLES[kind].c[name], None
        return child.table.c[item or child.columns[0]], child

    def _execute(self, stmt: Any, params: Any = None) -> Any:
        try:
            return self.conn.execute(stmt, params) if params is not None else self.conn.execute(stmt)
        except IntegrityError as err:
            raise StoreConflict(str(err.orig)) from err
        except OperationalError as err:
            raise _busy_or_raise(err) from err


def _busy_or_raise(err: DBAPIError) -> Exception:
    sqlstate = getattr(err.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES or "database is locked" in str(err.orig):
        return StoreBusy(str(err.orig))
    return err


def _wrap(table: Table, child: Child | None, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    if child is None:
        return clause
    return table.c.id.in_(select(child.table.c[child.fk]).where(clause))


def _in(column: Column[Any], values: tuple[Any, ...]) -> ColumnElement[bool]:
    present = [value for value in values if value is not None]
    clause: ColumnElement[bool] = column.in_(present) if len(present) != 1 else column == present[0]
    if len(present) != len(values):
        clause = or_(clause, column.is_(None)) if present else column.is_(None)
    return clause


def _order_by(column: Column[Any], asc: bool) -> Any:
    if not column.nullable:
        return column.asc() if asc else column.desc()
    # NULL sorts first ascending on every database (PostgreSQL would put it last)
    return column.asc().nulls_first() if asc else column.desc().nulls_last()


def _after(order: list[tuple[Column[Any], bool]], marker: Record) -> ColumnElement[bool]:
    """Rows strictly after ``marker`` in ``order`` (keyset pagination; NULL is the smallest value)."""
    alternatives: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for column, asc in order:
        value = marker.get(column.name)
        if value is None:
            beyond: ColumnElement[bool] = column.is_not(None) if asc else false()
            same: ColumnElement[bool] = column.is_(None)
        else:
            beyond = (
                column > value
                if asc
                else (or_(column < value, column.is_(None)) if column.nullable else column < value)
            )
            same = column == value
        alternatives.append(and_(true(), *equal, beyond))
        equal.append(same)
    return or_(false(), *alternatives)


def _child_rows(kind: Kind, name: str, parent: Mapping[str, Any], items: Any) -> list[dict[str, Any]]:
    if not items:
        return []
    parent_id = parent["id"]
    if name == "tags":
        return [{"resource_id": parent_id, "tag": tag, "kind": kind.value} for tag in items]
    if name == "security_groups":
        return [{"port_id": parent_id, "security_group_id": sg, "position": i} for i, sg in enumerate(items)]
    if name == "fixed_ips":
        return [
            {
                "port_id": parent_id,
                "subnet_id": ip["subnet_id"],
                "ip_address": ip["ip_address"],
                "ip_key": ip_key(ip["ip_address"]),
                "network_id": parent["network_id"],
                "position": i,
            }
            for i, ip in enumerate(items)
        ]
    raise KeyError(name)


class SqlBackend:
    """Resources in SQL tables; one database transaction per API request."""

    name = "sql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith("postgresql")
        self.engine = make_engine(url)
        # SQLite: a read-only transaction must not take the write lock
        self.read_engine = make_engine(url, immediate=False) if url.startswith("sqlite") else self.engine

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[SqlTx]:
        engine = self.engine if write else self.read_engine
        try:
            with engine.begin() as conn:
                yield SqlTx(conn, self.postgres)
        except IntegrityError as err:
            raise StoreConflict(str(err.orig)) from err
        except OperationalError as err:
            raise _busy_or_raise(err) from err

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
