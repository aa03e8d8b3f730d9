"""host accounts: each host's own account on each provider that offers the host_agent role

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_provider_accounts",
        sa.Column("host_id", sa.String(length=36), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name=op.f("fk_host_provider_accounts_host_id_hosts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"],
                                name=op.f("fk_host_provider_accounts_provider_id_providers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("host_id", "provider_id", name=op.f("pk_host_provider_accounts")),
    )


def downgrade() -> None:
    op.drop_table("host_provider_accounts")
