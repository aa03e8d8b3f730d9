"""SQLAlchemy 2 models of the engine's inventory.

Every schema change goes through an Alembic migration in ``migrations/versions``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


NONE_SCHEDULING_POLICY = "b4ed2332-a7ac-4d5f-9596-99a439cb2812"  # oVirt's fixed id of the "none" policy
MINIMAL_DOWNTIME_MIGRATION_POLICY = "80554327-0569-496b-bdeb-fcbbf52b827b"


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Id = String(36)


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)  # "admin@internal"
    password_hash: Mapped[str] = mapped_column(String(512))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SsoToken(Base):
    __tablename__ = "sso_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class MacPool(Base):
    __tablename__ = "mac_pools"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    allow_duplicates: Mapped[bool] = mapped_column(Boolean, default=False)
    default_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    # [[from, to], ...] as lower-case "aa:bb:cc:dd:ee:ff" strings
    ranges: Mapped[list[list[str]]] = mapped_column(JSON, default=list)


class DataCenter(Base):
    __tablename__ = "data_centers"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    version_major: Mapped[int] = mapped_column(Integer, default=4)
    version_minor: Mapped[int] = mapped_column(Integer, default=7)
    quota_mode: Mapped[str] = mapped_column(String(32), default="disabled")
    mac_pool_id: Mapped[str | None] = mapped_column(ForeignKey("mac_pools.id"))
    clusters: Mapped[list[Cluster]] = relationship(back_populates="data_center")
    networks: Mapped[list[Network]] = relationship(back_populates="data_center")


class Cluster(Base):
    __tablename__ = "clusters"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    data_center_id: Mapped[str] = mapped_column(ForeignKey("data_centers.id"), index=True)
    cpu_type: Mapped[str | None] = mapped_column(String(255))
    cpu_architecture: Mapped[str] = mapped_column(String(32), default="x86_64")
    version_major: Mapped[int] = mapped_column(Integer, default=4)
    version_minor: Mapped[int] = mapped_column(Integer, default=7)
    mac_pool_id: Mapped[str | None] = mapped_column(ForeignKey("mac_pools.id"))
    switch_type: Mapped[str] = mapped_column(String(16), default="legacy", server_default="legacy")
    firewall_type: Mapped[str] = mapped_column(String(16), default="firewalld", server_default="firewalld")
    virt_service: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    gluster_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ballooning_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    threads_as_cores: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    trusted_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ha_reservation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    optional_reason: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    maintenance_reason_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ksm_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    ksm_merge_across_nodes: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    memory_over_commit: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    transparent_hugepages: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # one of oVirt's built-in scheduling policies (domain/scheduling.py), "none" by default
    scheduling_policy_id: Mapped[str] = mapped_column(
        String(36), default=NONE_SCHEDULING_POLICY, server_default=NONE_SCHEDULING_POLICY
    )
    scheduling_properties: Mapped[dict[str, str] | None] = mapped_column(JSON)  # None: the policy's defaults
    on_error: Mapped[str] = mapped_column(String(32), default="migrate", server_default="migrate")
    migration_auto_converge: Mapped[str] = mapped_column(String(8), default="inherit", server_default="inherit")
    migration_compressed: Mapped[str] = mapped_column(String(8), default="inherit", server_default="inherit")
    migration_encrypted: Mapped[str] = mapped_column(String(8), default="inherit", server_default="inherit")
    migration_bandwidth: Mapped[str] = mapped_column(String(32), default="auto", server_default="auto")
    migration_bandwidth_custom: Mapped[int | None] = mapped_column(Integer)  # Mbps, with migration_bandwidth=custom
    migration_policy_id: Mapped[str] = mapped_column(
        String(36), default=MINIMAL_DOWNTIME_MIGRATION_POLICY, server_default=MINIMAL_DOWNTIME_MIGRATION_POLICY
    )
    fencing_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    fencing_skip_if_sd_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    fencing_skip_if_connectivity_broken: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    fencing_connectivity_threshold: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    fencing_skip_if_gluster_bricks_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    fencing_skip_if_gluster_quorum_not_met: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # required in addition to urandom, which every cluster requires; comma-separated
    additional_rng_sources: Mapped[str] = mapped_column(String(64), default="", server_default="")
    serial_number_policy: Mapped[str | None] = mapped_column(String(16))
    serial_number_value: Mapped[str | None] = mapped_column(String(255))
    spice_proxy: Mapped[str | None] = mapped_column(String(255))
    gluster_tuned_profile: Mapped[str | None] = mapped_column(String(255))
    data_center: Mapped[DataCenter] = relationship(back_populates="clusters")


class Provider(Base):
    """An external network provider (oVirt's OpenStackNetworkProvider)."""

    __tablename__ = "providers"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    provider_type: Mapped[str] = mapped_column(String(32))  # neutron | external
    url: Mapped[str | None] = mapped_column(String(512))
    requires_authentication: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)  # Fernet token; the key lives in the data dir
    authentication_url: Mapped[str | None] = mapped_column(String(512))
    tenant_name: Mapped[str | None] = mapped_column(String(128))
    user_domain_name: Mapped[str | None] = mapped_column(String(128))
    project_name: Mapped[str | None] = mapped_column(String(128))
    project_domain_name: Mapped[str | None] = mapped_column(String(128))
    plugin_type: Mapped[str | None] = mapped_column(String(64))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    unmanaged: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"name": ..., "value": ...}]
    properties: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # PEM certificates imported to verify the provider's TLS chain
    certificates: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClusterProvider(Base):
    """A provider a cluster names in its ``external_network_providers``: auto-sync brings the provider's networks
    into the cluster's data center and attaches them to the cluster."""

    __tablename__ = "cluster_providers"
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True,
                                             index=True)  # fmt: skip


class Event(Base):
    """An audit event (oVirt's ``/events``)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    severity: Mapped[str] = mapped_column(String(16), default="normal")  # normal|warning|error|alert
    code: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(36), index=True)
    data_center_id: Mapped[str | None] = mapped_column(String(36))
    cluster_id: Mapped[str | None] = mapped_column(String(36))
    network_id: Mapped[str | None] = mapped_column(String(36))
    vm_id: Mapped[str | None] = mapped_column(String(36))
    host_id: Mapped[str | None] = mapped_column(String(36))


class Network(Base):
    __tablename__ = "networks"
    __table_args__ = (
        UniqueConstraint("data_center_id", "name", name="uq_networks_dc_name"),
        # one provider network is imported at most once per data center (concurrent imports cannot both win)
        UniqueConstraint("data_center_id", "external_provider_id", "external_id", name="uq_networks_dc_external"),
    )
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    data_center_id: Mapped[str] = mapped_column(ForeignKey("data_centers.id"), index=True)
    vlan_id: Mapped[int | None] = mapped_column(Integer)
    mtu: Mapped[int] = mapped_column(Integer, default=0)  # 0: the default MTU (1500)
    stp: Mapped[bool] = mapped_column(Boolean, default=False)
    vm_network: Mapped[bool] = mapped_column(Boolean, default=True)
    port_isolation: Mapped[bool] = mapped_column(Boolean, default=False)
    external_provider_id: Mapped[str | None] = mapped_column(ForeignKey("providers.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(64))
    # the provider's physical network (provider:physical_network) an external network is carried on, if any
    provider_physical_network: Mapped[str | None] = mapped_column(String(255))
    # set when auto-sync finds the network gone from its provider
    missing_on_provider: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    data_center: Mapped[DataCenter] = relationship(back_populates="networks")


class NetworkCluster(Base):
    """A network attached to a cluster, with its roles there."""

    __tablename__ = "network_clusters"
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    display: Mapped[bool] = mapped_column(Boolean, default=False)
    migration: Mapped[bool] = mapped_column(Boolean, default=False)
    management: Mapped[bool] = mapped_column(Boolean, default=False)
    default_route: Mapped[bool] = mapped_column(Boolean, default=False)
    gluster: Mapped[bool] = mapped_column(Boolean, default=False)


class VnicProfile(Base):
    __tablename__ = "vnic_profiles"
    __table_args__ = (UniqueConstraint("network_id", "name", name="uq_vnic_profiles_network_name"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    port_mirroring: Mapped[bool] = mapped_column(Boolean, default=False)
    pass_through_mode: Mapped[str] = mapped_column(String(16), default="disabled")
    migratable: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"name": ..., "value": ...}, ...], order kept as given
    custom_properties: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # oVirt's network filters are a fixed, engine-defined list; the id is kept as given
    network_filter_id: Mapped[str | None] = mapped_column(Id)


class Host(Base):
    __tablename__ = "hosts"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=54321)
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default="maintenance")
    # why the host is not up, as the host monitor last found it (oVirt's status_detail)
    status_detail: Mapped[str | None] = mapped_column(Text)
    # the per-host secret shared with its agent at pairing (Fernet token; the key lives in the data dir)
    agent_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # what the agent last reported: Host.getCapabilities, plus its heartbeats to providers
    agent_capabilities: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    agent_unique_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # SHA-256 of the agent's certificate (DER, hex) as it presented it at pairing: every call checks it first
    agent_certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("address", "port", name="uq_hosts_address_port"),)


class Vm(Base):
    __tablename__ = "vms"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.id"), index=True)
    template_id: Mapped[str] = mapped_column(Id, default="00000000-0000-0000-0000-000000000000")
    host_id: Mapped[str | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default="down", index=True)
    memory: Mapped[int] = mapped_column(BigInteger, default=1024 * 1024 * 1024)  # bytes
    cpu_sockets: Mapped[int] = mapped_column(Integer, default=1)
    cpu_cores: Mapped[int] = mapped_column(Integer, default=1)
    cpu_threads: Mapped[int] = mapped_column(Integer, default=1)
    os_type: Mapped[str] = mapped_column(String(64), default="other")
    vm_type: Mapped[str] = mapped_column(String(32), default="server")
    stateless: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_protected: Mapped[bool] = mapped_column(Boolean, default=False)
    high_availability: Mapped[bool] = mapped_column(Boolean, default=False)
    ha_priority: Mapped[int] = mapped_column(Integer, default=0)
    creation_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    start_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The operation in progress on the VM (start, hotplug, migrate, ...): a lease that serializes the operations of
    # one VM across threads and processes without holding a transaction during provider and host calls
    # (lifecycle/operations.py). ``operation_ports``: the ports this operation created so far, [{provider_id,
    # port_id, vnic_id}], removed again if it fails or the engine dies before it ends.
    operation: Mapped[str | None] = mapped_column(String(32))
    operation_owner: Mapped[str | None] = mapped_column(String(96))
    operation_expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    operation_ports: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    nics: Mapped[list[VmNic]] = relationship(back_populates="vm", order_by="VmNic.name")


class VmNic(Base):
    __tablename__ = "vm_nics"
    __table_args__ = (UniqueConstraint("vm_id", "name", name="uq_vm_nics_vm_name"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    vm_id: Mapped[str] = mapped_column(ForeignKey("vms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    interface: Mapped[str] = mapped_column(String(32), default="virtio")
    mac_address: Mapped[str] = mapped_column(String(17), unique=True)
    vnic_profile_id: Mapped[str | None] = mapped_column(ForeignKey("vnic_profiles.id"), index=True)
    linked: Mapped[bool] = mapped_column(Boolean, default=True)
    plugged: Mapped[bool] = mapped_column(Boolean, default=True)
    # the vNIC's port on the provider of its external network (lifecycle/ports.py), once it ran there
    port_id: Mapped[str | None] = mapped_column(String(64), index=True)
    port_provider_id: Mapped[str | None] = mapped_column(String(36))
    vm: Mapped[Vm] = relationship(back_populates="nics")


class Snapshot(Base):
    __tablename__ = "snapshots"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    vm_id: Mapped[str] = mapped_column(ForeignKey("vms.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    snapshot_type: Mapped[str] = mapped_column(String(16), default="regular")  # active|regular|preview
    snapshot_status: Mapped[str] = mapped_column(String(16), default="ok")  # ok|in_preview|locked
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    persist_memorystate: Mapped[bool] = mapped_column(Boolean, default=False)
    # The VM's vNIC set when the snapshot was taken: [{id, name, interface, mac_address, ...}]
    nics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class PortOutbox(Base):
    """A port to delete on a provider (lifecycle/outbox.py): written in the transaction that made the port
    unneeded, deleted once the provider confirms (or says it is gone), retried with backoff until then."""

    __tablename__ = "port_outbox"
    __table_args__ = (UniqueConstraint("provider_id", "port_id", name="uq_port_outbox_provider_port"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(36))
    port_id: Mapped[str] = mapped_column(String(64))
    vnic_id: Mapped[str] = mapped_column(String(36))
    vnic_name: Mapped[str] = mapped_column(String(255), default="")
    vm_id: Mapped[str | None] = mapped_column(String(36))
    vm_name: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EngineState(Base):
    """Engine-wide values: ``engine_id`` (this installation; marks the ports it makes) and ``engine_instance``
    (the engine process running now: operations of older instances were cut short)."""

    __tablename__ = "engine_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Job(Base):
    """An action run in the background (oVirt's ``/jobs``): an action that calls providers or hosts, asked for with
    ``async``, answers at once with its job, and the job says how the action ended (engine/jobs.py)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="started", index=True)  # started|finished|failed|...
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    auto_cleared: Mapped[bool] = mapped_column(Boolean, default=True)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    # who asked: the user's id and name as authenticated (kept by name too: the job outlives its token)
    owner_id: Mapped[str | None] = mapped_column(String(36))
    owner_name: Mapped[str | None] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)  # why the job failed: the fault's detail
    # the client's correlation id (query parameter or Correlation-Id header), to find the job of a request
    correlation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # what runs: the action on the entity of a collection path ("vms", "vms/<id>/nics")
    action: Mapped[str] = mapped_column(String(64))
    target_path: Mapped[str] = mapped_column(String(255))
    target_id: Mapped[str] = mapped_column(String(255))


class EngineLease(Base):
    """The engine that runs on this database (one row, id 1) until ``expires_at``, unless it renews it
    (engine/lease.py)."""

    __tablename__ = "engine_lease"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))  # a random id per engine process
    description: Mapped[str] = mapped_column(Text)  # "engine on <host name>, pid N, serving <url>"
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    renewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HostProviderAccount(Base):
    """A host's own account on a provider's Keystone (role ``host_agent``: heartbeats and the reads they need), made
    by the engine and handed to the host's agent instead of the provider's credentials (engine/hosts/accounts.py)."""

    __tablename__ = "host_provider_accounts"
    host_id: Mapped[str] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))  # the Keystone user's id
    username: Mapped[str] = mapped_column(String(255))
    password_encrypted: Mapped[str] = mapped_column(Text)  # Fernet token; the key lives in the data dir
