"""quotas: per-project limits that differ from the defaults (Neutron's quotas and quota_details)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 05:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prov_quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name="pk_prov_quotas"),
    )


def downgrade() -> None:
    op.drop_table("prov_quotas")
