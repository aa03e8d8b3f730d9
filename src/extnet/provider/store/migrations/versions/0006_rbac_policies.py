"""rbac policies: networks shared with, or external to, one project or every project (Neutron's rbac-policies);
a shared or external network gets its policy for every project ("*")

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 05:50:00.000000
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    policies = op.create_table(
        "prov_rbac_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_project", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_rbac_policies")),
        sa.UniqueConstraint("object_type", "object_id", "action", "target_project",
                            name="uq_prov_rbac_policies_target"),
    )
    for column in ("project_id", "object_id", "target_project"):
        op.create_index(op.f(f"ix_prov_rbac_policies_{column}"), "prov_rbac_policies", [column], unique=False)
    networks = sa.table("prov_networks", sa.column("id", sa.String), sa.column("project_id", sa.String),
                        sa.column("shared", sa.Boolean), sa.column("external", sa.Boolean))
    rows = []
    for network_id, project_id, shared, external in op.get_bind().execute(
            sa.select(networks.c.id, networks.c.project_id, networks.c.shared, networks.c.external)):
        for action, on in (("access_as_shared", shared), ("access_as_external", external)):
            if on:
                rows.append({"id": str(uuid.uuid4()), "project_id": project_id, "object_type": "network",
                             "object_id": network_id, "action": action, "target_project": "*"})
    if rows:
        op.bulk_insert(policies, rows)


def downgrade() -> None:
    for column in ("project_id", "object_id", "target_project"):
        op.drop_index(op.f(f"ix_prov_rbac_policies_{column}"), table_name="prov_rbac_policies")
    op.drop_table("prov_rbac_policies")
