"""device digests: the digest of each agent's device report that the provider holds, and an index of the ports by
host that holds what a device report reads

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 02:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prov_agents", schema=None) as batch_op:
        # SHA-256 (hex) of the agent's device set as of its last report taken in step (docs/host-agent.md)
        batch_op.add_column(sa.Column("devices_digest", sa.String(length=64), nullable=True))
    with op.batch_alter_table("prov_ports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prov_ports_host_id"))
        batch_op.create_index("ix_prov_ports_host_state", ["host_id", "vif_type", "status", "admin_state_up", "id"],
                              unique=False)  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("prov_ports", schema=None) as batch_op:
        batch_op.drop_index("ix_prov_ports_host_state")
        batch_op.create_index(batch_op.f("ix_prov_ports_host_id"), ["host_id"], unique=False)
    with op.batch_alter_table("prov_agents", schema=None) as batch_op:
        batch_op.drop_column("devices_digest")
