"""floating ips: addresses of external networks, associated with ports behind a router (Neutron's floatingips)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 06:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prov_floatingips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("fixed_port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["floating_network_id"], ["prov_networks.id"],
                                name=op.f("fk_prov_floatingips_floating_network_id_prov_networks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_floatingips")),
    )
    for column in ("project_id", "floating_network_id", "fixed_port_id", "router_id"):
        op.create_index(op.f(f"ix_prov_floatingips_{column}"), "prov_floatingips", [column], unique=False)


def downgrade() -> None:
    for column in ("project_id", "floating_network_id", "fixed_port_id", "router_id"):
        op.drop_index(op.f(f"ix_prov_floatingips_{column}"), table_name="prov_floatingips")
    op.drop_table("prov_floatingips")
