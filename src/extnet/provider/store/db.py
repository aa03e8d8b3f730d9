"""Database engines and the provider's own Alembic migrations (version table ``provider_alembic_version``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from extnet.common import db as common_db

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "provider_alembic_version"


POOL_SIZE = 20


def make_engine(url: str, immediate: bool = True, pool_size: int = POOL_SIZE) -> Engine:
    return common_db.make_engine(url, immediate, pool_size=pool_size, json_serializer=_json_dumps,
                                 json_deserializer=orjson.loads)  # fmt: skip


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def migrate(url: str) -> None:
    """Bring the provider's tables at ``url`` to the newest schema."""
    common_db.upgrade(url, MIGRATIONS)
