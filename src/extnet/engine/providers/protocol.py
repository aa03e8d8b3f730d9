"""The provider boundary: what the engine asks of a network provider, with typed answers.

``NetworkProvider`` lists exactly the calls the engine's operations make on a provider; ``ProviderClient``
(``client.py``, Neutron's API through keystoneauth) implements it, and mypy checks that it does. Every answer is one of
the typed values of ``neutron.py``, parsed once from the provider's JSON; every failure is a ``ProviderError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from extnet.engine.providers.neutron import (
    ProviderAgent,
    ProviderNetwork,
    ProviderPort,
    ProviderRouter,
    ProviderSecurityGroup,
    ProviderSubnet,
)


class NetworkProvider(Protocol):
    # --- the connection ---

    def test(self) -> None:
        """Check the provider answers like a Neutron v2.0 API with these credentials."""

    # --- networks and subnets ---

    def list_networks(self, limit: int | None = None) -> list[ProviderNetwork]: ...

    def get_network(self, network_id: str, what: str | None = None) -> ProviderNetwork: ...

    def create_network(self, name: str, mtu: int | None) -> ProviderNetwork: ...

    def delete_network(self, network_id: str) -> None: ...

    def list_subnets(self, network_id: str) -> list[ProviderSubnet]: ...

    def get_subnet(self, subnet_id: str) -> ProviderSubnet: ...

    def create_subnet(self, network: ProviderNetwork, values: dict[str, Any]) -> ProviderSubnet: ...

    def delete_subnet(self, subnet_id: str) -> None: ...

    # --- security groups ---

    def find_security_groups(self, group_ids: list[str], what: str | None = None) -> list[ProviderSecurityGroup]:
        """Those of ``group_ids`` the provider has, with their ids and names only."""

    def list_security_groups(self, limit: int | None = None) -> list[ProviderSecurityGroup]:
        """Each with its description and rules."""

    def get_security_group(self, group_id: str) -> ProviderSecurityGroup: ...

    # --- ports (``what``: the words a failure's message uses for the call) ---

    def find_ports(self, what: str, filters: dict[str, str | list[str]],
                   fields: tuple[str, ...] = ()) -> list[ProviderPort]: ...  # fmt: skip

    def port_pages(self, what: str, filters: dict[str, str], fields: tuple[str, ...] = (),
                   limit: int = 500) -> Iterator[list[ProviderPort]]: ...  # fmt: skip

    def create_ports(self, bodies: list[dict[str, Any]], what: str) -> list[ProviderPort]: ...

    def update_port(self, port_id: str, values: dict[str, Any], what: str) -> ProviderPort: ...

    def delete_port(self, port_id: str, what: str) -> bool:
        """False when the provider no longer had the port."""

    # --- routers (read only; each with its interfaces: its ``network:router_interface`` ports) ---

    def list_routers(self, limit: int | None = None) -> list[ProviderRouter]: ...

    def get_router(self, router_id: str) -> ProviderRouter: ...

    # --- agents ---

    def list_agents(self, hosts: list[str], what: str) -> list[ProviderAgent] | None:
        """The provider's agents on ``hosts``; None when it does not list agents."""
