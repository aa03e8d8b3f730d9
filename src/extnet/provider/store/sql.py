"""The SQL backend: ``Tx`` over SQLAlchemy Core, SQLite (default) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from extnet.common.db import WriteGate
from extnet.provider.store import ipam_blocks, port_reports
from extnet.provider.store import sql_query as q
from extnet.provider.store import tables as t
from extnet.provider.store.backend import (
    Bump,
    Cond,
    Kind,
    Page,
    Query,
    Record,
    StoreBusy,
    StoreConflict,
    iter_chunks,
)
from extnet.provider.store.db import POOL_SIZE, make_engine
from extnet.provider.store.segments import segment_statements
from extnet.provider.store.sql_query import CHILDREN, NAMES, TABLES, Child

CHUNK = 1000
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available
_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


class SqlTx:
    """Statements are built once per shape (the same query with other values reuses its statement, bound
    parameters and SQLAlchemy's compiled form): building and keying a statement costs more than running it."""

    def __init__(self, conn: Connection, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    # --- reads -------------------------------------------------------------------------------------------------

    def get(self, kind: Kind, id_: str, *, want: frozenset[str] | None = None, lock: bool = False) -> Record | None:
        lock = lock and self.postgres
        stmt = _cached(("get", kind, lock), lambda: _get_stmt(kind, lock))
        row = self._execute(stmt, {"id": id_}).first()
        if row is None:
            return None
        records = [dict(zip(NAMES[kind], row, strict=True))]
        self._load_children(kind, records, want)
        return records[0]

    def find(self, kind: Kind, query: Query) -> Page:
        params: dict[str, Any] = {}
        shape = (
            "find",
            kind,
            q.shape(query.where, params) if query.where is not None else None,
            query.sort,
            query.limit is not None,
            q.marker_shape(kind, query, params),
            query.reverse,
            query.lock and self.postgres,
        )
        if query.limit is not None:
            params["limit"] = query.limit + 1
        stmt = _cached(shape, lambda: self._find_stmt(kind, query))
        names = NAMES[kind]
        records = [dict(zip(names, row, strict=True)) for row in self._execute(stmt, params)]
        more = query.limit is not None and len(records) > query.limit
        if more:
            del records[-1]
        if query.reverse:
            records.reverse()
        self._load_children(kind, records, query.want)
        return Page(records, more)

    def _find_stmt(self, kind: Kind, query: Query) -> Any:
        table = TABLES[kind]
        stmt = select(table)
        if query.where is not None:
            stmt = stmt.where(q.clause(kind, query.where, q.Names()))
        order = q.order(kind, query)
        if query.marker is not None:
            stmt = stmt.where(q.after(order, query.marker))
        stmt = stmt.order_by(*[q.order_by(col, asc) for col, asc in order])
        if query.limit is not None:
            stmt = stmt.limit(bindparam("limit"))
        if query.lock and self.postgres:
            stmt = stmt.with_for_update()
        return stmt

    def count(self, kind: Kind, where: Cond) -> int:
        params: dict[str, Any] = {}
        shape = ("count", kind, q.shape(where, params))
        table = TABLES[kind]
        stmt = _cached(shape, lambda: select(func.count()).select_from(table).where(q.clause(kind, where, q.Names())))
        return int(self._execute(stmt, params).scalar_one())

    def taken_addresses(self, subnet_id: str, first_key: str, last_key: str, limit: int) -> list[str]:
        params = {"subnet": subnet_id, "first": first_key, "last": last_key, "limit": limit}
        return list(self._execute(_TAKEN, params).scalars())

    def count_addresses(self, subnet_id: str, first_key: str, last_key: str) -> int:
        params = {"subnet": subnet_id, "first": first_key, "last": last_key}
        return int(self._execute(_COUNTED, params).scalar() or 0)

    def try_lock_blocks(self, subnet_id: str, blocks: Sequence[int]) -> int | None:
        if not self.postgres:  # SQLite: this transaction is the only writer
            return 0 if blocks else None
        found = self._execute(ipam_blocks.TRY_LOCK, {"keys": ipam_blocks.block_keys(subnet_id, blocks)}).scalar()
        return None if found is None else int(found) - 1

    def save_cursor(self, subnet_id: str, cursor: str) -> None:
        if self.postgres:
            self._execute(ipam_blocks.SAVE_CURSOR, {"cursor": cursor, "id": subnet_id})
        else:
            self.update(Kind.SUBNET, subnet_id, {"ipam_cursor": cursor})

    def free_segment(
        self, network_type: str, physnet: str | None, low: int, high: int, lowest: bool = False
    ) -> int | None:
        stmts = _cached(("segment", physnet is not None), lambda: segment_statements(physnet is not None))
        params = {"type": network_type, "physnet": physnet, "start": low, "high": high}
        highest = None if lowest else self._execute(stmts[0], params).scalar()
        if not lowest and (highest is None or highest < high):
            return low if highest is None else int(highest) + 1
        if self._execute(stmts[1], params).first() is None:
            return low
        found = self._execute(stmts[2], params).scalar()
        return None if found is None else int(found)

    def _load_children(self, kind: Kind, records: list[Record], want: frozenset[str] | None) -> None:
        if not records:
            return
        for name, child in CHILDREN[kind].items():
            if want is not None and name not in want:
                continue
            values: dict[str, list[Any]] = {record["id"]: [] for record in records}
            stmt = _cached(("children", kind, name), lambda c=child: _children_stmt(c))
            single = len(child.columns) == 1
            for ids in iter_chunks(list(values), CHUNK):
                rows = self._execute(stmt, {"ids": list(ids)}).tuples()
                if single:
                    for parent, value in rows:
                        values[parent].append(value)
                else:
                    for row in rows:
                        values[row[0]].append(dict(zip(child.columns, row[1:], strict=True)))
            for record in records:
                record[name] = values[record["id"]]

    # --- writes ------------------------------------------------------------------------------------------------

    def insert(self, kind: Kind, records: Sequence[Record]) -> None:
        if not records:
            return
        table = TABLES[kind]
        names = NAMES[kind]
        rows = [{name: record.get(name) for name in names} for record in records]
        self._execute(_cached(("insert", table.name), lambda: insert(table)), rows)
        for name, child in CHILDREN[kind].items():
            if child.writable:
                child_rows = [row for record in records for row in q.child_rows(kind, name, record, record.get(name))]
                if child_rows:
                    self._execute(_cached(("insert", child.table.name), lambda c=child: insert(c.table)), child_rows)

    def update(self, kind: Kind, id_: str, changes: Mapping[str, Any]) -> None:
        table = TABLES[kind]
        columns = tuple(sorted(name for name in changes if name not in CHILDREN[kind]))
        if columns:
            bumped = tuple(name for name in columns if isinstance(changes[name], Bump))
            stmt = _cached(("update", kind, columns, bumped), lambda: _update_stmt(table, columns, bumped))
            params = {f"v_{name}": changes[name] for name in columns if name not in bumped}
            params["v_id_"] = id_
            self._execute(stmt, params)
        for name, child in CHILDREN[kind].items():
            if name in changes and child.writable:
                fk = child.table.c[child.fk]
                self._execute(_cached(("clear", kind, name), lambda f=fk, c=child: delete(c.table).where(
                    f == bindparam("parent"))), {"parent": id_})  # fmt: skip
                parent = {**changes, "id": id_}
                if name == "fixed_ips" and "network_id" not in parent:
                    network = self._execute(_cached(("port_network",), lambda: select(t.ports.c.network_id).where(
                        t.ports.c.id == bindparam("id"))), {"id": id_}).scalar()  # fmt: skip
                    parent["network_id"] = network
                rows = q.child_rows(kind, name, parent, changes[name])
                if rows:
                    self._execute(_cached(("insert", child.table.name), lambda c=child: insert(c.table)), rows)

    def update_many(self, kind: Kind, ids: Sequence[str], changes: Mapping[str, Any]) -> None:
        if not ids or not changes:
            return
        if set(changes) & set(CHILDREN[kind]):
            raise ValueError(f"update_many sets plain fields only, not {sorted(set(changes) & set(CHILDREN[kind]))}")
        columns = tuple(sorted(changes))
        bumped = tuple(name for name in columns if isinstance(changes[name], Bump))
        stmt = _cached(("update_many", kind, columns, bumped), lambda: _update_stmt(TABLES[kind], columns, bumped,
                                                                                  many=True))  # fmt: skip
        params: dict[str, Any] = {f"v_{name}": changes[name] for name in columns if name not in bumped}
        for chunk in iter_chunks(list(ids), CHUNK):
            self._execute(stmt, {**params, "v_ids_": list(chunk)})

    def port_states(self, host: str, ids: Sequence[str]) -> tuple[set[str], list[tuple[str, str, bool]]]:
        if len(ids) > port_reports.SCAN_AT:  # a long IN list costs more to build and run than the host's ports
            name = self.conn.dialect.name
            [(usual, others)] = self._raw_rows("host_states", lambda: port_reports.host_states_stmt(name),
                                               {"host": host})  # fmt: skip
            if usual and usual == ",".join(ids):  # the usual full report: all ACTIVE, listed in the index's order
                return set(ids), []
            wanted = set(ids)
            active = wanted.intersection(usual.split(",")) if usual else set()
            return active, [row for row in port_reports.parse_others(others) if row[0] in wanted]
        stmt = _cached(("port_states",), lambda: port_reports.states_stmt())
        rows: list[Any] = []
        for chunk in iter_chunks(list(ids), CHUNK):
            rows += self._execute(stmt, {"host": host, "ids": list(chunk)}).tuples().all()
        active = {id_ for id_, status, up in rows if status == "ACTIVE" and up}
        return active, [(id_, status, bool(up)) for id_, status, up in rows if id_ not in active]

    def delete(self, kind: Kind, ids: Sequence[str]) -> None:
        if not ids:
            return
        table = TABLES[kind]
        remove = _cached(
            ("delete", kind), lambda: delete(table).where(table.c.id.in_(bindparam("ids", expanding=True)))
        )
        untag = _cached(
            ("untag",), lambda: delete(t.tags).where(t.tags.c.resource_id.in_(bindparam("ids", expanding=True)))
        )
        for chunk in iter_chunks(list(ids), CHUNK):
            if "tags" in CHILDREN[kind]:
                self._execute(untag, {"ids": list(chunk)})
            self._execute(remove, {"ids": list(chunk)})

    def lock(self, kind: Kind, ids: Sequence[str]) -> None:
        # SQLite: every write transaction already holds the database's one write lock (BEGIN IMMEDIATE).
        if self.postgres and ids:
            table = TABLES[kind]
            stmt = _cached(("lock", kind), lambda: select(table.c.id).where(
                table.c.id.in_(bindparam("ids", expanding=True))).order_by(table.c.id).with_for_update())  # fmt: skip
            self._execute(stmt, {"ids": sorted(set(ids))}).all()

    def quota_limits(self, project_id: str | None) -> dict[str, dict[str, int]]:
        stmt = _cached(("quotas", project_id is None), lambda: _quotas_stmt(project_id is None))
        limits: dict[str, dict[str, int]] = {}
        params = {} if project_id is None else {"project": project_id}
        for project, resource, limit in self._execute(stmt, params):
            limits.setdefault(str(project), {})[str(resource)] = int(limit)
        return limits

    def set_quota_limits(self, project_id: str, limits: Mapping[str, int]) -> None:
        if not limits:
            return
        table = t.quotas
        clear = _cached(("quotas_clear",), lambda: delete(table).where(
            table.c.project_id == bindparam("project"), table.c.resource.in_(bindparam("resources", expanding=True))))
        self._execute(clear, {"project": project_id, "resources": list(limits)})
        rows = [{"project_id": project_id, "resource": name, "limit": limit} for name, limit in limits.items()]
        self._execute(_cached(("insert", table.name), lambda: insert(table)), rows)

    def delete_quota_limits(self, project_id: str) -> bool:
        table = t.quotas
        stmt = _cached(("quotas_delete",), lambda: delete(table).where(table.c.project_id == bindparam("project")))
        return bool(self._execute(stmt, {"project": project_id}).rowcount)

    def lock_quota(self, project_id: str, resource: str) -> None:
        # SQLite: every write transaction already holds the database's one write lock (BEGIN IMMEDIATE).
        if self.postgres:
            self._execute(_QUOTA_LOCK, {"key": f"{project_id}/{resource}"})

    def _raw_rows(self, key: str, build: Callable[[], Any], params: dict[str, Any]) -> list[Any]:
        compiled = _cached(("raw", key, self.conn.dialect.name), lambda: build().compile(dialect=self.conn.dialect))
        try:
            return port_reports.raw_rows(self.conn, compiled, params)
        except OperationalError as err:
            raise _busy_or_raise(err) from err

    def _execute(self, stmt: Any, params: Any = None) -> Any:
        try:
            return self.conn.execute(stmt, params) if params is not None else self.conn.execute(stmt)
        except IntegrityError as err:
            raise StoreConflict(str(err.orig)) from err
        except OperationalError as err:
            raise _busy_or_raise(err) from err


# --- statements --------------------------------------------------------------------------------------------------

_STATEMENTS: dict[Any, Any] = {}


def _cached(key: Any, build: Any) -> Any:
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


# the two-key advisory lock space, apart from IPAM's one-key locks
_QUOTA_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('extnet-quota'), hashtext(:key))")
_COUNTED = select(func.count()).where(
    t.ip_allocations.c.subnet_id == bindparam("subnet"),
    t.ip_allocations.c.ip_key >= bindparam("first"),
    t.ip_allocations.c.ip_key <= bindparam("last"),
)
_TAKEN = (
    select(t.ip_allocations.c.ip_key)
    .where(
        t.ip_allocations.c.subnet_id == bindparam("subnet"),
        t.ip_allocations.c.ip_key >= bindparam("first"),
        t.ip_allocations.c.ip_key <= bindparam("last"),
    )
    .order_by(t.ip_allocations.c.ip_key)
    .limit(bindparam("limit"))
)


def _get_stmt(kind: Kind, lock: bool) -> Any:
    table = TABLES[kind]
    stmt = select(table).where(table.c.id == bindparam("id"))
    return stmt.with_for_update() if lock else stmt


def _quotas_stmt(every: bool) -> Any:
    table = t.quotas
    stmt = select(table.c.project_id, table.c.resource, table.c.limit)
    return stmt if every else stmt.where(table.c.project_id == bindparam("project"))


def _children_stmt(child: Child) -> Any:
    fk = child.table.c[child.fk]
    columns = [child.table.c[col] for col in child.columns]
    ordering = [fk, *[child.table.c[col] for col in child.order]]
    return select(fk, *columns).where(fk.in_(bindparam("ids", expanding=True))).order_by(*ordering)


def _update_stmt(table: Table, columns: tuple[str, ...], bumped: tuple[str, ...], many: bool = False) -> Any:
    values = {name: (table.c[name] + 1 if name in bumped else bindparam(f"v_{name}")) for name in columns}
    which = table.c.id.in_(bindparam("v_ids_", expanding=True)) if many else table.c.id == bindparam("v_id_")
    return update(table).where(which).values(values)


def _busy_or_raise(err: DBAPIError) -> Exception:
    sqlstate = getattr(err.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES or "database is locked" in str(err.orig):
        return StoreBusy(str(err.orig))
    return err


class SqlBackend:
    """Resources in SQL tables; one database transaction per API request."""

    name = "sql"

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.postgres = url.startswith("postgresql")
        self.engine = make_engine(url, pool_size=pool_size)
        # SQLite: a read-only transaction must not take the write lock
        self.read_engine = make_engine(url, immediate=False) if url.startswith("sqlite") else self.engine
        self._gate = WriteGate(url)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[SqlTx]:
        engine = self.engine if write else self.read_engine
        try:
            with self._gate.write() if write else nullcontext(), engine.begin() as conn:
                yield SqlTx(conn, self.postgres)
        except IntegrityError as err:
            raise StoreConflict(str(err.orig)) from err
        except OperationalError as err:
            raise _busy_or_raise(err) from err

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
