"""The provider's store: its own migrations (in step with the table definitions, on SQLite and PostgreSQL), and
IPAM's address arithmetic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from extnet.provider.service import ipam
from extnet.provider.store.db import VERSION_TABLE, migrate
from extnet.provider.store.sql import SqlBackend, SqlTx
from extnet.provider.store.tables import metadata
from tests.servers import scratch_database


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        url = url or f"sqlite:///{tmp_path / 'store.sqlite'}"
        migrate(url)
        migrate(url)  # idempotent
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                names = set(inspect(conn).get_table_names())
                assert VERSION_TABLE in names and "alembic_version" not in names
                assert {table.name for table in metadata.sorted_tables} <= names
                assert all(name.startswith("prov_") for name in names - {VERSION_TABLE})
                context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
                assert compare_metadata(context, metadata) == []
        finally:
            engine.dispose()


def test_default_pools_and_gateways() -> None:
    v4 = ipam.network("10.0.0.0/24")
    assert ipam.default_gateway(v4) == "10.0.0.1"
    assert ipam.default_pools(v4, "10.0.0.1") == [["10.0.0.2", "10.0.0.254"]]
    assert ipam.default_pools(v4, "10.0.0.100") == [["10.0.0.1", "10.0.0.99"], ["10.0.0.101", "10.0.0.254"]]
    assert ipam.default_pools(v4, None) == [["10.0.0.1", "10.0.0.254"]]
    assert ipam.default_pools(v4, "192.0.2.1") == [["10.0.0.1", "10.0.0.254"]]
    assert ipam.default_pools(ipam.network("10.0.0.0/30"), "10.0.0.1") == [["10.0.0.2", "10.0.0.2"]]
    v6 = ipam.network("fd00::/64")
    assert ipam.default_gateway(v6) == "fd00::"
    assert ipam.default_pools(v6, "fd00::") == [["fd00::1", "fd00::ffff:ffff:ffff:ffff"]]


def test_pool_checks() -> None:
    net = ipam.network("10.0.0.0/24")
    ok = ipam.check_pools(
        net, [{"start": "10.0.0.50", "end": "10.0.0.60"}, {"start": "10.0.0.10", "end": "10.0.0.20"}], "10.0.0.1"
    )
    assert ok == [["10.0.0.10", "10.0.0.20"], ["10.0.0.50", "10.0.0.60"]]
    for pools, gateway, error in [
        ([{"start": "10.0.0.0", "end": "10.0.0.5"}], None, "OutOfBoundsAllocationPool"),
        ([{"start": "10.0.0.250", "end": "10.0.0.255"}], None, "OutOfBoundsAllocationPool"),
        ([{"start": "10.0.0.9", "end": "10.0.0.5"}], None, "InvalidAllocationPool"),
        ([{"start": "fd00::1", "end": "fd00::2"}], None, "InvalidAllocationPool"),
        (
            [{"start": "10.0.0.2", "end": "10.0.0.9"}, {"start": "10.0.0.9", "end": "10.0.0.12"}],
            None,
            "OverlappingAllocationPools",
        ),
        ([{"start": "10.0.0.2", "end": "10.0.0.9"}], "10.0.0.5", "GatewayConflictWithAllocationPools"),
    ]:
        with pytest.raises(Exception) as err:
            ipam.check_pools(net, pools, gateway)
        assert getattr(err.value, "type", None) == error


def test_eui64_and_windows() -> None:
    assert ipam.eui64("fd00:a::/64", "fa:16:3e:78:b9:fb") == "fd00:a::f816:3eff:fe78:b9fb"  # as Neutron computed it
    assert ipam._windows([(10, 20), (30, 40)], 15) == [(15, 20), (30, 40), (10, 14)]
    assert ipam._windows([(10, 20), (30, 40)], 41) == [(10, 20), (30, 40)]
    assert ipam._windows([(10, 20), (30, 40)], 10) == [(10, 20), (30, 40)]


def _subnet(id_: str, first: str, last: str) -> dict[str, object]:
    return {"id": id_, "cidr": "10.0.0.0/24", "allocation_pools": [[first, last]], "ipam_cursor": None}


def test_concurrent_allocations_on_one_subnet_neither_wait_nor_meet(tmp_path: Path) -> None:
    """Two open transactions allocate on one subnet: the second takes the next block of addresses at once (no
    waiting for the first's commit); with the only pool block held by the first, it still finds an address (the
    store's key settles a collision). SQLite: one writer, so a transaction takes any block."""
    with scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url:
        url = url or f"sqlite:///{tmp_path / 'store.sqlite'}"
        migrate(url)
        backend = SqlBackend(url)
        try:
            if not backend.postgres:
                with backend.transaction() as tx:
                    assert tx.try_lock_blocks("s1", [7, 8]) == 0
                    allocator = ipam.Ipam(tx)
                    assert [allocator.next_free(_subnet("s1", "10.0.0.2", "10.0.0.254")) for _ in range(2)] == [
                        "10.0.0.2",
                        "10.0.0.3",
                    ]
                return
            wide, narrow = _subnet("s1", "10.0.0.2", "10.0.0.254"), _subnet("s2", "10.0.0.2", "10.0.0.5")
            with backend.transaction() as first, backend.transaction() as second:
                assert isinstance(second, SqlTx)
                second.conn.exec_driver_sql("SET LOCAL statement_timeout = '5s'")
                mine, theirs = ipam.Ipam(first), ipam.Ipam(second)
                assert [mine.next_free(wide) for _ in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
                assert mine.next_free(narrow) == "10.0.0.2"
                assert [theirs.next_free(wide) for _ in range(2)] == ["10.0.0.16", "10.0.0.17"]
                assert theirs.next_free(narrow) == "10.0.0.2"
        finally:
            backend.dispose()
