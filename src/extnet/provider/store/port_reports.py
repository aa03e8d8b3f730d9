"""What a host's device report reads of the SQL store (``SqlTx.port_states``): the state of the ports bound to a
host, with as little per-port work as the database allows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, literal_column, not_, select, true
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.compiler import Compiled

from extnet.provider.store import tables as t

UNBOUND_VIF_TYPES = ("unbound", "binding_failed")
SCAN_AT = 100  # port ids beyond which ``port_states`` reads all the host's ports rather than an IN list


def states_stmt(listed: bool, active: bool | None) -> Any:
    """The ports bound to the host (``listed``: among the ids given); ``active`` False: only those not both ACTIVE
    and enabled."""
    ports = t.ports
    stmt = select(ports.c.id, ports.c.status, ports.c.admin_state_up).where(*bound_to_host())
    if active is False:
        stmt = stmt.where(not_(and_(ports.c.status == literal_column("'ACTIVE'"), ports.c.admin_state_up == true())))
    return stmt.where(ports.c.id.in_(bindparam("ids", expanding=True))) if listed else stmt


def active_ids_stmt(dialect: str) -> Any:
    """The ids of the ports bound to the host that are ACTIVE and enabled, joined by commas in one text: one value
    to fetch rather than a row per port (port ids are the provider's UUIDs)."""
    ports = t.ports
    join = func.string_agg if dialect == "postgresql" else func.group_concat
    return select(join(ports.c.id, literal_column("','"))).where(
        *bound_to_host(), ports.c.status == literal_column("'ACTIVE'"), ports.c.admin_state_up == true())  # fmt: skip


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
