"""Alembic environment of the provider's tables (separate from the engine's: own version table)."""

from alembic import context
from sqlalchemy import create_engine, pool

from extnet.provider.store.db import VERSION_TABLE
from extnet.provider.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url is not set"

connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
