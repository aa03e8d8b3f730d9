"""How the SQL backend turns the store's conditions, orderings and child collections into SQLAlchemy Core: the
tables of each kind, statement shapes (cached by structure, values apart), keyset pagination."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, and_, bindparam, false, not_, or_, select, true

from extnet.provider.store import tables as t
from extnet.provider.store.backend import AllOf, AnyOf, Cond, Contains, In, Kind, Not, Query, Record, Via


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
    Kind.RBAC_POLICY: {},
    Kind.FLOATINGIP: {"tags": TAGS},
}
TABLES: dict[Kind, Table] = {
    Kind.NETWORK: t.networks,
    Kind.SUBNET: t.subnets,
    Kind.PORT: t.ports,
    Kind.SECURITY_GROUP: t.security_groups,
    Kind.SECURITY_GROUP_RULE: t.security_group_rules,
    Kind.ROUTER: t.routers,
    Kind.AGENT: t.agents,
    Kind.RBAC_POLICY: t.rbac_policies,
    Kind.FLOATINGIP: t.floatingips,
}

# plain str keys (SQLAlchemy may hand out str subclasses, which fast JSON encoders refuse)
NAMES: dict[Kind, tuple[str, ...]] = {kind: tuple(str(c.name) for c in table.columns) for kind, table in TABLES.items()}


def order(kind: Kind, query: Query) -> list[tuple[Column[Any], bool]]:
    table = TABLES[kind]
    order = [(table.c[name], asc) for name, asc in query.sort if name != "id"]
    id_asc = next((asc for name, asc in query.sort if name == "id"), True)
    order.append((table.c.id, id_asc))
    if query.reverse:
        order = [(col, not asc) for col, asc in order]
    return order


class Names:
    """Hands out the parameter names of one statement in traversal order (``_shape`` does the same)."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"p{self.count}"


def shape(cond: Cond, params: dict[str, Any], names: Names | None = None) -> Any:
    """The structure of ``cond`` without its values (which go to ``params``)."""
    names = names or Names()
    if isinstance(cond, AllOf | AnyOf):
        return (type(cond).__name__, tuple(shape(c, params, names) for c in cond.conds))
    if isinstance(cond, Not):
        return ("not", shape(cond.cond, params, names))
    if isinstance(cond, Via):
        return ("via", cond.field, cond.kind, shape(cond.cond, params, names))
    if isinstance(cond, In):
        present = [value for value in cond.values if value is not None]
        name = names.next()
        if present:
            params[name] = present
        return ("in", cond.field, bool(present), len(present) != len(cond.values))
    if isinstance(cond, Contains):
        name = names.next()
        params[name] = "%" + cond.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return ("contains", cond.field)
    raise TypeError(f"unknown condition {cond!r}")


def clause(kind: Kind, cond: Cond, names: Names) -> ColumnElement[bool]:
    table = TABLES[kind]
    if isinstance(cond, AllOf):
        return and_(true(), *[clause(kind, c, names) for c in cond.conds])
    if isinstance(cond, AnyOf):
        return or_(false(), *[clause(kind, c, names) for c in cond.conds])
    if isinstance(cond, Not):
        return not_(clause(kind, cond.cond, names))
    if isinstance(cond, Via):
        target = TABLES[cond.kind]
        sub = select(target.c.id).where(clause(cond.kind, cond.cond, names))
        return table.c[cond.field].in_(sub)
    if isinstance(cond, In):
        column, child = column_of(kind, cond.field)
        name = names.next()
        present = any(value is not None for value in cond.values)
        with_null = any(value is None for value in cond.values)
        matches: ColumnElement[bool] = column.in_(bindparam(name, expanding=True)) if present else false()
        if with_null:
            matches = or_(matches, column.is_(None)) if present else column.is_(None)
        return wrap(table, child, matches)
    if isinstance(cond, Contains):
        column, child = column_of(kind, cond.field)
        return wrap(table, child, column.like(bindparam(names.next()), escape="\\"))
    raise TypeError(f"unknown condition {cond!r}")


def column_of(kind: Kind, name: str) -> tuple[Column[Any], Child | None]:
    head, _, item = name.partition(".")
    child = CHILDREN[kind].get(head)
    if child is None:
        return TABLES[kind].c[name], None
    return child.table.c[item or child.columns[0]], child


def marker_shape(kind: Kind, query: Query, params: dict[str, Any]) -> Any:
    if query.marker is None:
        return None
    nulls = []
    for column, _ in order(kind, query):
        value = query.marker.get(column.name)
        nulls.append(value is None)
        if value is not None:
            params[f"m_{column.name}"] = value
    return tuple(nulls)


def wrap(table: Table, child: Child | None, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    if child is None:
        return clause
    return table.c.id.in_(select(child.table.c[child.fk]).where(clause))


def order_by(column: Column[Any], asc: bool) -> Any:
    if not column.nullable:
        return column.asc() if asc else column.desc()
    # NULL sorts first ascending on every database (PostgreSQL would put it last)
    return column.asc().nulls_first() if asc else column.desc().nulls_last()


def after(order: list[tuple[Column[Any], bool]], marker: Record) -> ColumnElement[bool]:
    """Rows strictly after ``marker`` in ``order`` (keyset pagination; NULL is the smallest value)."""
    alternatives: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for column, asc in order:
        value = marker.get(column.name)
        if value is None:
            beyond: ColumnElement[bool] = column.is_not(None) if asc else false()
            same: ColumnElement[bool] = column.is_(None)
        else:
            value = bindparam(f"m_{column.name}")
            beyond = (
                column > value
                if asc
                else (or_(column < value, column.is_(None)) if column.nullable else column < value)
            )
            same = column == value
        alternatives.append(and_(true(), *equal, beyond))
        equal.append(same)
    return or_(false(), *alternatives)


def child_rows(kind: Kind, name: str, parent: Mapping[str, Any], items: Any) -> list[dict[str, Any]]:
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
