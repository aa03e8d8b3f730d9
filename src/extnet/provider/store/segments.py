"""The SQL of segment allocation: a segmentation id of a type (and physical network) no network uses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, or_, select

from extnet.provider.store import tables as t


def segment_statements(with_physnet: bool) -> tuple[Any, Any, Any]:
    """The highest used id in [start, high] (one index seek, the plan following the index order); is ``start``
    used; the lowest used id in [start, high) whose successor is free, plus one (it reads the used ids in order up
    to the first gap: a window function, one ordered pass whatever plan the database picks)."""
    n = t.networks
    physnet = n.c.physical_network == bindparam("physnet") if with_physnet else n.c.physical_network.is_(None)
    same = (n.c.network_type == bindparam("type"), physnet)
    in_range = (n.c.segmentation_id >= bindparam("start"), n.c.segmentation_id <= bindparam("high"))
    # ordered by the whole index key: PostgreSQL takes no index order from "physical_network IS NULL" alone
    index_order = (n.c.network_type, n.c.physical_network, n.c.segmentation_id)
    highest = (
        select(n.c.segmentation_id).where(*same, *in_range).order_by(*[c.desc() for c in index_order]).limit(1)
    )
    used = select(n.c.segmentation_id).where(*same, n.c.segmentation_id == bindparam("start")).limit(1)
    ids = (
        select(n.c.segmentation_id.label("id"), func.lead(n.c.segmentation_id).over(order_by=index_order)
               .label("next"))  # fmt: skip
        .where(*same, *in_range)
        .subquery()
    )
    gap = (
        select(ids.c.id + 1)
        .where(ids.c.id < bindparam("high"), or_(ids.c.next.is_(None), ids.c.next > ids.c.id + 1))
        .order_by(ids.c.id)
        .limit(1)
    )
    return highest, used, gap
