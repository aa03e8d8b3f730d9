"""What a host's device report reads of the SQL store (``SqlTx.port_states``): the state of the ports bound to a
host, with as little per-port work as the database allows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    not_,
    select,
    true,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.compiler import Compiled

from extnet.provider.store import tables as t

UNBOUND_VIF_TYPES = ("unbound", "binding_failed")
SCAN_AT = 100  # port ids beyond which ``port_states`` reads all the host's ports rather than an IN list


def states_stmt() -> Any:
    """The state of the ports bound to the host among the ids given."""
    ports = t.ports
    stmt = select(ports.c.id, ports.c.status, ports.c.admin_state_up).where(*bound_to_host())
    return stmt.where(ports.c.id.in_(bindparam("ids", expanding=True)))


def host_states_stmt(dialect: str) -> Any:
    """In one pass over the host's bound ports: the ids of those ACTIVE and enabled, joined by commas (one value to
    fetch rather than a row per port; port ids are the provider's UUIDs), and the others as ``id status enabled``,
    joined by commas (a host's ports are mostly ACTIVE: this one is short)."""
    ports = t.ports
    join = func.string_agg if dialect == "postgresql" else func.group_concat
    usual = and_(ports.c.status == literal_column("'ACTIVE'"), ports.c.admin_state_up == true())
    other = ports.c.id + literal_column("' '") + ports.c.status + literal_column("' '") + cast(
        ports.c.admin_state_up, String)  # fmt: skip
    return select(join(ports.c.id, literal_column("','")).filter(usual),
                  join(other, literal_column("','")).filter(not_(usual))).where(*bound_to_host())  # fmt: skip


def parse_others(joined: str | None) -> list[tuple[str, str, bool]]:
    """(id, status, enabled) of the ``id status enabled`` texts ``host_states_stmt`` joins."""
    rows = (item.split(" ") for item in joined.split(",")) if joined else ()
    return [(id_, status, enabled in ("1", "true")) for id_, status, enabled in rows]


def bound_to_host() -> list[ColumnElement[bool]]:
    ports = t.ports
    return [ports.c.host_id == bindparam("host"), *[ports.c.vif_type != literal_column(f"'{vif}'")
                                                  for vif in UNBOUND_VIF_TYPES]]  # fmt: skip


def raw_rows(conn: Connection, compiled: Compiled, params: dict[str, Any]) -> list[Any]:
    """The rows of a plain SELECT straight from the driver: per row, SQLAlchemy's result handling costs several
    times what the database does (the booleans of SQLite come back as 0 and 1)."""
    bound = compiled.construct_params(params) or {}
    positions = getattr(compiled, "positiontup", None)
    values = tuple(bound[name] for name in positions) if positions else bound
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, values)
        return list(cursor.fetchall())
    except conn.dialect.loaded_dbapi.OperationalError as err:
        raise OperationalError(compiled.string, values, err) from err
    finally:
        cursor.close()
