"""Engine-wide services handed to every request (no module globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from extnet.engine.domain.locks import ProviderLocks
from extnet.engine.hosts.accounts import HostAccounts
from extnet.engine.hosts.client import HostAgentClient
from extnet.engine.providers.client import ProviderClients, ProviderConfig
from extnet.engine.secrets import SecretBox
from extnet.engine.store.models import Provider


@dataclass
class EngineServices:
    secrets: SecretBox
    providers: ProviderClients
    provider_connect_timeout: float = 20.0
    provider_read_timeout: float = 30.0
    provider_locks: ProviderLocks = field(default_factory=ProviderLocks)
    host_agents: HostAgentClient = field(default_factory=HostAgentClient)
    # wakes the host monitor (set by the engine app): hosts or providers changed, agents need telling
    hosts_changed: Callable[[], None] = field(default=lambda: None)
    # each host's own account on each provider, handed to its agent (set by the engine app)
    host_accounts: HostAccounts | None = None
    # the port lifecycle's settings and workers (engine/operations/context.Lifecycle; set by the engine app)
    lifecycle: Any = None

    def provider_config(self, provider: Provider) -> ProviderConfig:
        password = self.secrets.decrypt(provider.password_encrypted) if provider.password_encrypted else None
        return ProviderConfig(
            provider_id=provider.id, name=provider.name, url=provider.url or "",
            requires_authentication=provider.requires_authentication, username=provider.username,
            password=password, authentication_url=provider.authentication_url, tenant_name=provider.tenant_name,
            user_domain_name=provider.user_domain_name, project_name=provider.project_name,
            project_domain_name=provider.project_domain_name, certificates=tuple(provider.certificates or ()),
            connect_timeout=self.provider_connect_timeout, read_timeout=self.provider_read_timeout,
        )  # fmt: skip
