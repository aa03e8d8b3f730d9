"""trust: the pinned certificate of each host's agent, and the lease of the engine that runs on the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        # SHA-256 of the agent's certificate (DER, hex), recorded at pairing; a paired host without one is sent nothing
        batch_op.add_column(sa.Column("agent_certificate_sha256", sa.String(length=64), nullable=True))
    # one row: the engine that runs on this database, until its lease expires (engine/lease.py)
    op.create_table(
        "engine_lease",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_lease")),
    )


def downgrade() -> None:
    op.drop_table("engine_lease")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("agent_certificate_sha256")
