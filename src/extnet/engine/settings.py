"""Engine settings: command-line flags override ``EXTNET_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "extnet"


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXTNET_", extra="ignore")

    listen: str = "127.0.0.1:8080"
    data_dir: Path = default_data_dir()
    database_url: str | None = None
    database_pool_size: int = Field(default=10, ge=1)  # connections its pool keeps (PostgreSQL)
    admin_password: str | None = None
    token_ttl_seconds: int = 3600
    # wrong passwords (common/throttle.py): a user's logins from one address are refused for this long (seconds)
    # after 5 wrong ones within 5 minutes, twice as long after each lockout that follows
    login_cooldown: float = 60.0
    max_body_bytes: int = 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "info"
    provider_connect_timeout: float = 20.0
    provider_read_timeout: float = 30.0
    # seconds between synchronizations of the providers with auto_sync (oVirt's ExternalNetworkProviderSynchronization
    # Rate); 0 or less: none
    provider_sync_interval: float = 300.0
    # host agents: seconds between two rounds of the host monitor (0 or less: no monitoring), and timeouts
    host_monitor_interval: float = 10.0
    host_connect_timeout: float = 5.0
    host_read_timeout: float = 30.0
    # how long adding a host (or handing it changed providers) waits for the providers to take its agent's first
    # heartbeats before the host is called up; a host still waiting then is ``initializing`` until they did
    host_first_beat_wait: float = 5.0
    # the built-in provider (its Networking API URL), registered at the first start as ``extnet-builtin``; its
    # Keystone (default: the one it names when it refuses a call without a token) and the password of its admin
    # (default: EXTNET_PROVIDER_ADMIN_PASSWORD, else the engine's admin password, as the provider itself defaults)
    builtin_provider: str | None = None
    builtin_provider_auth_url: str | None = None
    builtin_provider_password: str | None = Field(
        default=None,
        validation_alias=AliasChoices("EXTNET_BUILTIN_PROVIDER_PASSWORD", "EXTNET_PROVIDER_ADMIN_PASSWORD"),
    )
    # the host agent of ``extnet up``, added as host ``local`` of the Default cluster: HOST:PORT and its pairing
    # password (both set by ``extnet up``)
    local_host: str | None = None
    local_host_password: str | None = None
    # the port lifecycle (engine/lifecycle): whether to wait for ports to become ACTIVE once plugged (auto: where the
    # provider will hear of it, see lifecycle.ports.reports_status; always; never) and for how long; how long an
    # operation on a VM waits for the one before it, and how long it may hold the VM at most; seconds between two
    # passes of the reconciler (0 or less: only at engine start)
    port_active_wait: Literal["auto", "always", "never"] = "auto"
    port_active_timeout: float = 60.0
    vm_lock_wait: float = 30.0
    vm_operation_lease: float = 900.0
    reconcile_interval: float = 900.0
    # one engine per database (engine/lease.py): how long its lease lasts unless renewed (every third of it), and
    # whether to wait for the engine that holds it to go instead of refusing to start
    lease_ttl: float = 30.0
    standby: bool = False

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'engine.sqlite'}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"
