"""segment index: a free segmentation id of a type found along an index (bulk network creation)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 02:20:00.000000
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prov_networks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_prov_networks_segment", ["network_type", "physical_network", "segmentation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("prov_networks", schema=None) as batch_op:
        batch_op.drop_index("ix_prov_networks_segment")
