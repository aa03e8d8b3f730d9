"""What a host agent's own account may do (role ``host_agent`` and no other): send its heartbeats and read what a
Neutron L2 agent asks its server for about the devices it plugs (a network, its subnets, the other agents' tunnel
addresses). The engine makes one such account per host and provider, so that no host ever holds the provider's
admin password; everything else is refused as Neutron refuses what its policy does not allow."""

from __future__ import annotations

import dataclasses

from extnet.common.host_accounts import HOST_AGENT
from extnet.provider.errors import NeutronError, forbidden
from extnet.provider.identity.service import Principal

# (method, collection, whether an id follows): the requests a host agent's account may make
ALLOWED = frozenset({
    ("POST", "agents", "heartbeat"),
    ("GET", "networks", "member"),
    ("GET", "subnets", "collection"),
    ("GET", "agents", "collection"),
})  # fmt: skip


def is_host_agent(principal: Principal) -> bool:
    return {name for _, name in principal.roles} == {HOST_AGENT}


def host_agent_access(method: str, rest: list[str], principal: Principal) -> Principal:
    """The principal to serve a host agent's request with (it reads every project's networks, as the L2 agent's RPC
    does), or a NeutronError 403 for a request outside what its role allows."""
    shape = "collection" if len(rest) == 1 else "heartbeat" if rest[1:] == ["heartbeat"] else "member"
    if len(rest) > 2 or (method, rest[0] if rest else "", shape) not in ALLOWED:
        raise _refused(method, rest)
    return dataclasses.replace(principal, roles=(*principal.roles, ("", "admin")))


def _refused(method: str, rest: list[str]) -> NeutronError:
    path = "/".join(["v2.0", *rest])
    return forbidden(f"rule:{method} /{path} is disallowed by policy: the host_agent role may send heartbeats and "
                     "read networks, subnets and agents only")  # fmt: skip
