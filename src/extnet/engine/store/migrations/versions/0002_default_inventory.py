"""The inventory a new engine starts with, as oVirt's: MAC pool, data center, cluster and ovirtmgmt named Default.

Revision ID: 0002
Revises: 0001
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

POOL, DC, CLUSTER, NETWORK, PROFILE = (str(uuid.uuid4()) for _ in range(5))


def upgrade() -> None:
    meta = sa.MetaData()
    meta.reflect(op.get_bind(), only=("mac_pools", "data_centers", "clusters", "networks", "network_clusters",
                                      "vnic_profiles"))  # fmt: skip
    t = meta.tables
    op.bulk_insert(t["mac_pools"], [{"id": POOL, "name": "Default", "description": "Default MAC pool",
                                     "allow_duplicates": False, "default_pool": True,
                                     "ranges": [["56:6f:00:00:00:00", "56:6f:00:ff:ff:ff"]]}])  # fmt: skip
    op.bulk_insert(t["data_centers"], [{"id": DC, "name": "Default", "description": "The default Data Center",
                                        "local": False, "version_major": 4, "version_minor": 7,
                                        "quota_mode": "disabled", "mac_pool_id": POOL}])  # fmt: skip
    op.bulk_insert(t["clusters"], [{"id": CLUSTER, "name": "Default", "description": "The default server cluster",
                                    "data_center_id": DC, "cpu_architecture": "x86_64", "version_major": 4,
                                    "version_minor": 7, "mac_pool_id": POOL}])  # fmt: skip
    op.bulk_insert(t["networks"], [{"id": NETWORK, "name": "ovirtmgmt", "description": "Management Network",
                                    "data_center_id": DC, "mtu": 0, "stp": False, "vm_network": True,
                                    "port_isolation": False}])  # fmt: skip
    op.bulk_insert(t["vnic_profiles"], [{"id": PROFILE, "name": "ovirtmgmt", "network_id": NETWORK,
                                         "port_mirroring": False, "pass_through_mode": "disabled",
                                         "migratable": False, "custom_properties": []}])  # fmt: skip
    op.bulk_insert(t["network_clusters"], [{"network_id": NETWORK, "cluster_id": CLUSTER, "required": True,
                                            "display": True, "migration": True, "management": True,
                                            "default_route": True, "gluster": False}])  # fmt: skip


def downgrade() -> None:
    pass
