"""The SQL that lets concurrent transactions allocate addresses on one subnet side by side (PostgreSQL).

A transaction takes blocks of a subnet's addresses with transaction-scoped advisory locks that it never waits for,
and writes the subnet's cursor only when no other transaction is writing it: so no allocation waits for another
one (the subnet row is never locked for the whole transaction)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import TextClause, text

# the first block no other transaction holds (the function scan runs in order and stops at the first lock taken)
TRY_LOCK: TextClause = text(
    "SELECT t.n FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n) "
    "WHERE pg_try_advisory_xact_lock(t.k) LIMIT 1"
)

SAVE_CURSOR: TextClause = text(
    "UPDATE prov_subnets SET ipam_cursor = :cursor WHERE id = "
    "(SELECT id FROM prov_subnets WHERE id = :id FOR NO KEY UPDATE SKIP LOCKED)"
)


def block_keys(subnet_id: str, blocks: Sequence[int]) -> list[int]:
    """Advisory lock keys (signed 64 bits) of a subnet's address blocks; a clash with another key only makes a
    block look taken."""
    return [
        int.from_bytes(
            hashlib.blake2b(f"ipam:{subnet_id}:{block}".encode(), digest_size=8).digest(), "big", signed=True
        )
        for block in blocks
    ]
