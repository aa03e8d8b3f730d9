"""What the host agent learns from its providers about the networks it plugs (as a Neutron L2 agent asks its server
for a device's details): segment and subnets of a network, and the tunnel addresses of the other hosts' agents.
Read with the credentials the engine handed the agent, kept for a short while."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("extnet.host.networks")

Fetch = Callable[[str, str], Any]  # (provider id, path) -> JSON
TTL = 30.0


@dataclass(frozen=True)
class SubnetInfo:
    id: str
    cidr: str
    gateway_ip: str | None


@dataclass(frozen=True)
class NetworkInfo:
    id: str
    network_type: str | None
    segmentation_id: int | None
    physical_network: str | None
    mtu: int | None
    subnets: dict[str, SubnetInfo]


class ProviderNetworks:
    def __init__(self, fetch: Fetch, ttl: float = TTL) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._lock = threading.Lock()
        self._networks: dict[tuple[str, str], tuple[float, NetworkInfo]] = {}

    def network(self, provider_id: str, network_id: str) -> NetworkInfo | None:
        """The network as its provider describes it now (None when the provider cannot be asked: logged)."""
        key = (provider_id, network_id)
        with self._lock:
            cached = self._networks.get(key)
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            raw = self._fetch(provider_id, f"/v2.0/networks/{network_id}")["network"]
            subnets = self._fetch(provider_id, f"/v2.0/subnets?network_id={network_id}")["subnets"]
        except Exception as err:  # the provider is down or refuses: the caller plugs without what it would learn
            log.warning("cannot read network %s from provider %s: %s", network_id, provider_id, err)
            return None
        info = NetworkInfo(
            id=network_id, network_type=raw.get("provider:network_type"),
            segmentation_id=raw.get("provider:segmentation_id"), physical_network=raw.get("provider:physical_network"),
            mtu=raw.get("mtu"),
            subnets={s["id"]: SubnetInfo(s["id"], s["cidr"], s.get("gateway_ip")) for s in subnets},
        )  # fmt: skip
        with self._lock:
            self._networks[key] = (time.monotonic(), info)
        return info

    def tunnel_peers(self, provider_id: str, own_ip: str) -> set[str] | None:
        """The tunnel addresses (``configurations.tunneling_ip``) of the provider's other alive agents."""
        try:
            agents = self._fetch(provider_id, "/v2.0/agents")["agents"]
        except Exception as err:
            log.warning("cannot list the agents of provider %s: %s", provider_id, err)
            return None
        peers = set()
        for agent in agents:
            conf = agent.get("configurations") or {}
            address = conf.get("tunneling_ip")
            if agent.get("alive") and isinstance(address, str) and address and address != own_ip:
                peers.add(address)
        return peers
