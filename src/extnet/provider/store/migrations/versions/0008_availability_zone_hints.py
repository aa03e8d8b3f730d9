"""availability zone hints: the zones a network or router was asked to live in (Neutron's network_ and
router_availability_zone)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 06:25:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("prov_networks", "prov_routers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("availability_zone_hints", sa.JSON(), nullable=False,
                                          server_default=sa.text("'[]'")))


def downgrade() -> None:
    for table in ("prov_networks", "prov_routers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("availability_zone_hints")
