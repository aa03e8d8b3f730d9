"""The provider's SQL schema (SQLAlchemy Core). Every table is prefixed ``prov_`` so that the provider can share a
database server, or even a database, with the engine without a name clash.

Timestamps of Neutron resources are kept as the text Neutron renders (``2026-01-31T12:00:00Z``): they are never
filtered or sorted on, and rendering them is then free."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

ID = 36
NAME = 255
TS = 20


def _standard() -> list[Column[Any]]:
    return [
        Column("description", String(NAME), nullable=False, default=""),
        Column("revision_number", Integer, nullable=False, default=0),
        Column("created_at", String(TS), nullable=False),
        Column("updated_at", String(TS), nullable=False),
    ]


networks = Table(
    "prov_networks",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("name", String(NAME), nullable=False, index=True),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("shared", Boolean, nullable=False),
    Column("external", Boolean, nullable=False),
    Column("mtu", Integer, nullable=False),
    Column("port_security_enabled", Boolean, nullable=False),
    Column("availability_zone_hints", JSON, nullable=False, server_default=text("'[]'")),
    Column("network_type", String(16), nullable=False),
    Column("physical_network", String(64), nullable=True),
    Column("segmentation_id", Integer, nullable=True),
    # "type:physnet:id": one network per segment (flat: one per physical network)
    Column("segment_key", String(128), nullable=False, unique=True),
    *_standard(),
    # segment allocation looks for a free id of a type (and physical network) along this index
    Index("ix_prov_networks_segment", "network_type", "physical_network", "segmentation_id"),
)

subnets = Table(
    "prov_subnets",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("network_id", String(ID), ForeignKey("prov_networks.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(NAME), nullable=False),
    Column("ip_version", Integer, nullable=False),
    Column("cidr", String(64), nullable=False),
    Column("gateway_ip", String(64), nullable=True),
    Column("allocation_pools", JSON, nullable=False),
    Column("dns_nameservers", JSON, nullable=False),
    Column("host_routes", JSON, nullable=False),
    Column("enable_dhcp", Boolean, nullable=False),
    Column("ipv6_ra_mode", String(32), nullable=True),
    Column("ipv6_address_mode", String(32), nullable=True),
    # IPAM: the key (see ipam.key) of the address handed out last, where the next search starts
    Column("ipam_cursor", String(32), nullable=True),
    *_standard(),
)

ports = Table(
    "prov_ports",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("network_id", String(ID), ForeignKey("prov_networks.id"), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("mac_address", String(32), nullable=False, index=True),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("device_id", String(NAME), nullable=False, index=True),
    Column("device_owner", String(NAME), nullable=False, index=True),
    Column("port_security_enabled", Boolean, nullable=False),
    Column("allowed_address_pairs", JSON, nullable=False),
    Column("host_id", String(NAME), nullable=False),
    Column("vnic_type", String(64), nullable=False),
    Column("profile", JSON, nullable=False),
    Column("vif_type", String(64), nullable=False),
    Column("vif_details", JSON, nullable=False),
    *_standard(),
    UniqueConstraint("network_id", "mac_address", name="uq_prov_ports_network_mac"),
    # what a host's device report reads, from the index alone (and any search by host)
    Index("ix_prov_ports_host_state", "host_id", "vif_type", "status", "admin_state_up", "id"),
)

ip_allocations = Table(
    "prov_ip_allocations",
    metadata,
    Column("subnet_id", String(ID), ForeignKey("prov_subnets.id"), nullable=False),
    # zero-padded hex of the address: sorts like the number, for IPv4 and IPv6 alike
    Column("ip_key", String(32), nullable=False),
    Column("ip_address", String(64), nullable=False, index=True),
    Column("port_id", String(ID), ForeignKey("prov_ports.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("network_id", String(ID), nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("subnet_id", "ip_key", name="pk_prov_ip_allocations"),
)

security_groups = Table(
    "prov_security_groups",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("name", String(NAME), nullable=False),
    Column("stateful", Boolean, nullable=False),
    # the project id for a project's "default" group, else NULL: at most one default group per project
    Column("default_for", String(64), nullable=True, unique=True),
    *_standard(),
)

port_security_groups = Table(
    "prov_port_security_groups",
    metadata,
    Column("port_id", String(ID), ForeignKey("prov_ports.id", ondelete="CASCADE"), nullable=False),
    Column("security_group_id", String(ID), ForeignKey("prov_security_groups.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("port_id", "security_group_id", name="pk_prov_port_security_groups"),
)

security_group_rules = Table(
    "prov_security_group_rules",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column(
        "security_group_id",
        String(ID),
        ForeignKey("prov_security_groups.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("direction", String(16), nullable=False),
    Column("ethertype", String(8), nullable=False),
    Column("protocol", String(40), nullable=True),
    Column("port_range_min", Integer, nullable=True),
    Column("port_range_max", Integer, nullable=True),
    Column("remote_ip_prefix", String(64), nullable=True),
    Column("normalized_cidr", String(64), nullable=True),
    Column(
        "remote_group_id",
        String(ID),
        ForeignKey("prov_security_groups.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    # what makes two rules the same rule (a duplicate is a 409)
    Column("fingerprint", String(64), nullable=False, unique=True),
    *_standard(),
)

routers = Table(
    "prov_routers",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("name", String(NAME), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("gw_network_id", String(ID), ForeignKey("prov_networks.id"), nullable=True),
    Column("gw_port_id", String(ID), nullable=True),
    Column("enable_snat", Boolean, nullable=False),
    Column("routes", JSON, nullable=False),
    # l3-ha and dvr: how Neutron's L3 agents would run the router (shown and kept; no L3 agents here)
    Column("ha", Boolean, nullable=False, server_default=false()),
    Column("distributed", Boolean, nullable=False, server_default=false()),
    Column("availability_zone_hints", JSON, nullable=False, server_default=text("'[]'")),
    *_standard(),
)

floatingips = Table(
    "prov_floatingips",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("floating_network_id", String(ID), ForeignKey("prov_networks.id"), nullable=False, index=True),
    Column("floating_ip_address", String(64), nullable=False),
    Column("floating_port_id", String(ID), nullable=False),  # the port on the external network holding the address
    Column("fixed_port_id", String(ID), nullable=True, index=True),  # the port it is associated with (``port_id``)
    Column("fixed_ip_address", String(64), nullable=True),
    Column("router_id", String(ID), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    *_standard(),
)

rbac_policies = Table(
    "prov_rbac_policies",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(ID), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("target_project", String(64), nullable=False, index=True),  # a project id, or "*" for every project
    UniqueConstraint("object_type", "object_id", "action", "target_project", name="uq_prov_rbac_policies_target"),
)

agents = Table(
    "prov_agents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("agent_type", String(NAME), nullable=False),
    Column("binary", String(NAME), nullable=False),
    Column("topic", String(NAME), nullable=False),
    Column("host", String(NAME), nullable=False, index=True),
    Column("admin_state_up", Boolean, nullable=False),
    Column("configurations", JSON, nullable=False),
    Column("description", String(NAME), nullable=True),
    Column("availability_zone", String(NAME), nullable=True),
    Column("created_at", String(TS), nullable=False),
    Column("started_at", String(TS), nullable=False),
    Column("heartbeat_timestamp", String(TS), nullable=False),
    Column("heartbeat_epoch", Float, nullable=False),
    Column("devices_digest", String(64), nullable=True),  # the agent's device report the provider holds
    UniqueConstraint("agent_type", "host", name="uq_prov_agents_type_host"),
)

tags = Table(
    "prov_tags",
    metadata,
    Column("resource_id", String(ID), nullable=False),
    Column("tag", String(NAME), nullable=False),
    Column("kind", String(32), nullable=False),
    PrimaryKeyConstraint("resource_id", "tag", name="pk_prov_tags"),
    Index("ix_prov_tags_tag", "tag"),
)

# per-project quota limits that differ from the defaults (the settings'): one row per project and resource
quotas = Table(
    "prov_quotas",
    metadata,
    Column("project_id", String(NAME), nullable=False),  # any id: Neutron checks none against Keystone
    Column("resource", String(64), nullable=False),
    Column("limit", Integer, nullable=False),  # -1: unlimited
    PrimaryKeyConstraint("project_id", "resource", name="pk_prov_quotas"),
)

# --- identity ------------------------------------------------------------------------------------------------

projects = Table(
    "prov_projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("domain_id", String(64), nullable=False),
    Column("description", String(NAME), nullable=False, default=""),
    Column("enabled", Boolean, nullable=False),
    UniqueConstraint("domain_id", "name", name="uq_prov_projects_domain_name"),
)

users = Table(
    "prov_users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(NAME), nullable=False),
    Column("domain_id", String(64), nullable=False),
    Column("password_hash", String(512), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("default_project_id", String(64), nullable=True),
    Column("description", String(NAME), nullable=False, default=""),
    UniqueConstraint("domain_id", "name", name="uq_prov_users_domain_name"),
)

roles = Table(
    "prov_roles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
)

role_assignments = Table(
    "prov_role_assignments",
    metadata,
    Column("user_id", String(64), ForeignKey("prov_users.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", String(64), ForeignKey("prov_projects.id", ondelete="CASCADE"), nullable=False),
    Column("role_id", String(64), ForeignKey("prov_roles.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("user_id", "project_id", "role_id", name="pk_prov_role_assignments"),
)

tokens = Table(
    "prov_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("prov_users.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", String(64), ForeignKey("prov_projects.id", ondelete="CASCADE"), nullable=True),
    Column("methods", String(64), nullable=False),
    Column("audit_id", String(32), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
