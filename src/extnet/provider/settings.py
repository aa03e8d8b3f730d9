"""Provider settings: command-line flags override ``EXTNET_PROVIDER_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

QUOTA_MAX = 2**31 - 1  # Neutron's largest quota limit (its database's integer)


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "extnet" / "provider"


def _host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXTNET_PROVIDER_", extra="ignore")

    listen: str = "127.0.0.1:9696"
    keystone_listen: str = "127.0.0.1:35357"
    data_dir: Path = default_data_dir()
    database_url: str | None = None
    database_pool_size: int = Field(default=20, ge=1)  # connections each of its two pools keeps (PostgreSQL)
    workers: int = Field(default=1, ge=1)  # processes serving the APIs (more than one: PostgreSQL only)
    backend: Literal["sql"] = "sql"
    auth: Literal["keystone", "none"] = "keystone"
    # The engine and the provider share the admin password unless the provider is given its own.
    admin_password: str | None = Field(
        default=None, validation_alias=AliasChoices("EXTNET_PROVIDER_ADMIN_PASSWORD", "EXTNET_ADMIN_PASSWORD")
    )
    public_url: str | None = None  # the networking endpoint put in the Keystone catalog
    keystone_public_url: str | None = None
    region: str = "RegionOne"
    token_ttl_seconds: int = 3600
    agent_down_time: int = 75
    tenant_network_type: Literal["vxlan", "geneve", "vlan", "flat"] | None = None  # vxlan; geneve with ovn
    driver: Literal["ovs_agent", "ovn"] = "ovs_agent"
    ovn_nb: str = "tcp:127.0.0.1:6641"  # the OVN Northbound database (driver ovn)
    ovn_sb: str = "tcp:127.0.0.1:6642"  # the OVN Southbound database: the chassis become agents (driver ovn)
    ovn_maintenance_interval: float = Field(default=30.0, gt=0)  # seconds between consistency checks (driver ovn)
    vni_ranges: str = "1:65535"
    vlan_ranges: str = "physnet1:100:200"
    flat_networks: str = "*"
    global_physnet_mtu: int = 1500
    max_body_bytes: int = 8 * 1024 * 1024
    keystone_max_body_bytes: int = 114688  # Keystone's max_request_body_size
    # wrong passwords at Keystone (common/throttle.py): a user's logins from one address are refused for this long
    # (seconds) after 5 wrong ones within 5 minutes, twice as long after each lockout that follows
    login_cooldown: float = 60.0
    log_level: str = "info"
    # quota defaults per project (-1: unlimited; Neutron's are 100, 100, 500, 10, 50, 10 and 100): the engine and the
    # benchmarks create thousands of ports in one project, so extnet leaves every resource unlimited by default
    quota_network: int = Field(default=-1, ge=-1, le=QUOTA_MAX)
    quota_subnet: int = Field(default=-1, ge=-1, le=QUOTA_MAX)
    quota_port: int = Field(default=-1, ge=-1, le=QUOTA_MAX)
    quota_router: int = Field(default=-1, ge=-1, le=QUOTA_MAX)
    quota_floatingip: int = Field(default=-1, ge=-1, le=QUOTA_MAX)
    quota_security_group: int = Field(default=-1, ge=-1, le=QUOTA_MAX)
    quota_security_group_rule: int = Field(default=-1, ge=-1, le=QUOTA_MAX)
    tls_cert: Path | None = None  # PEM certificate (chain): both APIs serve HTTPS
    tls_key: Path | None = None

    @field_validator("listen", "keystone_listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        try:
            _host_port(value)
        except ValueError:
            raise ValueError(f"'{value}' is not HOST:PORT") from None
        return value

    @model_validator(mode="after")
    def _tls_key_needs_cert(self) -> ProviderSettings:
        if self.tls_key and not self.tls_cert:
            raise ValueError("tls_key needs tls_cert")
        return self

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def host(self) -> str:
        return _host_port(self.listen)[0]

    @property
    def port(self) -> int:
        return _host_port(self.listen)[1]

    @property
    def keystone_host(self) -> str:
        return _host_port(self.keystone_listen)[0]

    @property
    def keystone_port(self) -> int:
        return _host_port(self.keystone_listen)[1]

    def quota_defaults(self) -> dict[str, int]:
        """The quota limit of each resource a project has not set (``quota_<resource>``)."""
        prefix = "quota_"
        return {name[len(prefix):]: getattr(self, name) for name in type(self).model_fields if name.startswith(prefix)}

    def effective_tenant_network_type(self) -> str:
        return self.tenant_network_type or ("geneve" if self.driver == "ovn" else "vxlan")

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'provider.sqlite'}"

    def network_url(self) -> str:
        return (self.public_url or f"{self.scheme}://{self.listen}").rstrip("/")

    def identity_url(self) -> str:
        return (self.keystone_public_url or f"{self.scheme}://{self.keystone_listen}").rstrip("/")
