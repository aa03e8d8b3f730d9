"""router modes: a router's ha and distributed attributes (Neutron's l3-ha and dvr extensions)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 05:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prov_routers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ha", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("distributed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("prov_routers", schema=None) as batch_op:
        batch_op.drop_column("distributed")
        batch_op.drop_column("ha")
