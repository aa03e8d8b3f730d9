"""Talking to a Neutron-API network provider, through a keystoneauth1 session (openstacksdk only maps error answers
to its exceptions).

One ``ProviderClient`` per provider configuration implements the engine's ``NetworkProvider`` (``protocol.py``),
answering with the typed values of ``neutron.py``: it keeps one authenticated session (keystoneauth re-authenticates
on a 401 by itself), verifies TLS against the certificates imported for the provider (only them, once there are any;
the system's CAs before), applies separate connect and read timeouts, and maps every failure to a ``ProviderError``
that says what went wrong in words an administrator can act on.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import requests
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc

from extnet.common.keystone import provider_session
from extnet.engine.providers import neutron
from extnet.engine.providers.neutron import (
    ProviderAgent,
    ProviderNetwork,
    ProviderPort,
    ProviderRouter,
    ProviderSecurityGroup,
    ProviderSubnet,
)

if TYPE_CHECKING:
    from extnet.engine.providers.protocol import NetworkProvider

T = TypeVar("T")
SECURITY_GROUPS_PER_REQUEST = 40  # ids per ?id=..&id=.. query, well inside any URL length limit


class ProviderError(Exception):
    """A provider call failed; ``kind`` is one of unreachable, tls, auth, not_neutron, timeout, refused, not_found,
    conflict, error."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ProviderConfig:
    """What the engine knows of a provider that matters for talking to it."""

    provider_id: str
    name: str
    url: str
    requires_authentication: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    authentication_url: str | None = None
    tenant_name: str | None = None
    user_domain_name: str | None = None
    project_name: str | None = None
    project_domain_name: str | None = None
    certificates: tuple[str, ...] = ()
    connect_timeout: float = 20.0
    read_timeout: float = 30.0

    def fingerprint(self) -> str:
        text = repr((self, self.password))
        return hashlib.sha256(text.encode()).hexdigest()


class ProviderClient:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        timeout = (config.connect_timeout, config.read_timeout)
        self.session, self._adapter = provider_session(config, config.certificates, timeout, pool_maxsize=16)
        self.endpoint = config.url.rstrip("/")

    # --- calls -----------------------------------------------------------------------------------------

    def call(self, what: str, func: Callable[[], T]) -> T:
        """Run one provider call, mapping every failure to a ProviderError naming the provider and ``what``."""
        try:
            return func()
        except ProviderError:
            raise
        except Exception as err:  # noqa: BLE001 - every client failure becomes a ProviderError
            raise translate(err, self.config.name, what) from None

    def test(self) -> None:
        """Check the provider answers like a Neutron v2.0 API with these credentials."""

        def probe() -> None:
            response = self.session.get(
                f"{self.endpoint}/v2.0/networks?limit=1", authenticated=self.config.requires_authentication or None,
                raise_exc=False, connect_retries=0,
            )  # fmt: skip
            if response.status_code in (401, 403):
                raise ProviderError("auth", f"Failed to test the connection on provider '{self.config.name}': "
                                    f"authentication failed (HTTP {response.status_code}); check the username, "
                                    "password, authentication_url and project", response.status_code)  # fmt: skip
            if response.status_code >= 400:
                status = response.status_code
                message = (f"Failed to test the connection on provider '{self.config.name}': "
                           f"{self.endpoint}/v2.0/networks answered HTTP {status}: this is not a Neutron API; "
                           "check the url")  # fmt: skip
                raise ProviderError("not_neutron", message, status)
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("networks"), list):
                raise ProviderError("not_neutron", f"Failed to test the connection on provider '{self.config.name}': "
                                    f"{self.endpoint}/v2.0/networks did not answer with a Neutron network list: "
                                    "this is not a Neutron API; check the url")  # fmt: skip

        self.call("test the connection", probe)

    # --- networks and subnets: Neutron's JSON through the keystoneauth session, parsed tolerantly ----------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One Neutron call to ``{url}/v2.0{path}`` (as oVirt, no version discovery: it would hide why a provider
        fails behind "no version document"); an error answer raises openstacksdk's exception for its status."""
        url = path if path.startswith(("http://", "https://")) else f"{self.endpoint}/v2.0{path}"
        response = self.session.request(url, method, raise_exc=False, connect_retries=0, **kwargs)
        os_exc.raise_from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ValueError(f"{method} {path} did not answer with JSON; is this a Neutron API?") from None

    def _listed(self, path: str, key: str, limit: int | None) -> list[Any]:
        """The items of a Neutron list (the first ``limit`` of them, if given), following Neutron's pagination."""
        body = self._request("GET", path, params={"limit": limit} if limit else None)
        items: list[Any] = []
        seen: set[str] = set()
        while True:
            items.extend(neutron.items_of(body, key))
            following = neutron.next_page(body, key)
            if limit or not following or following in seen:
                return items
            seen.add(following)
            body = self._request("GET", following)

    def _one(self, method: str, path: str, key: str, parse: Callable[[Any], T | None], **kwargs: Any) -> T:
        """The object ``key`` of a Neutron answer, parsed; an answer without one is a failure."""
        body = self._request(method, path, **kwargs)
        found = parse(body.get(key) if isinstance(body, dict) else None)
        if found is None:
            raise ValueError(f"the answer has no {key}")
        return found

    def list_networks(self, limit: int | None = None) -> list[ProviderNetwork]:
        """The provider's networks (the first ``limit`` of them, if given)."""
        return self.call("list the networks", lambda: [network for network in map(
            neutron.network_from, self._listed("/networks", "networks", limit)) if network])  # fmt: skip

    def get_network(self, network_id: str, what: str | None = None) -> ProviderNetwork:
        path = f"/networks/{quote(network_id, safe='')}"
        return self.call(what or f"read network {network_id}", lambda: self._one("GET", path, "network",
                                                                                  neutron.network_from))

    def create_network(self, name: str, mtu: int | None) -> ProviderNetwork:
        values: dict[str, Any] = {"name": name, "admin_state_up": True}
        if mtu:
            values["mtu"] = mtu
        return self.call(f"create network '{name}'", lambda: self._one(
            "POST", "/networks", "network", neutron.network_from, json={"network": values}))  # fmt: skip

    def delete_network(self, network_id: str) -> None:
        self.call(
            f"delete network {network_id}", lambda: self._request("DELETE", f"/networks/{quote(network_id, safe='')}")
        )

    def list_subnets(self, network_id: str) -> list[ProviderSubnet]:
        def fetch() -> list[ProviderSubnet]:
            body = self._request("GET", "/subnets", params={"network_id": network_id})
            return [s for s in map(neutron.subnet_from, neutron.items_of(body, "subnets")) if s]

        return self.call(f"list the subnets of network {network_id}", fetch)

    def get_subnet(self, subnet_id: str) -> ProviderSubnet:
        path = f"/subnets/{quote(subnet_id, safe='')}"
        return self.call(f"read subnet {subnet_id}", lambda: self._one("GET", path, "subnet", neutron.subnet_from))

    def create_subnet(self, network: ProviderNetwork, values: dict[str, Any]) -> ProviderSubnet:
        """Add a subnet with DHCP to ``network``; ``values`` are Neutron's subnet fields (name, cidr, ...)."""
        body_values = {**values, "network_id": network.id, "enable_dhcp": True}
        if network.project_id:  # as oVirt does: the subnet belongs to the network's project
            body_values["project_id"] = network.project_id
        return self.call(f"add subnet '{values.get('name')}' to network {network.id}",
                         lambda: self._one("POST", "/subnets", "subnet", neutron.subnet_from,
                                           json={"subnet": body_values}))  # fmt: skip

    def delete_subnet(self, subnet_id: str) -> None:
        self.call(
            f"remove subnet {subnet_id}", lambda: self._request("DELETE", f"/subnets/{quote(subnet_id, safe='')}")
        )

    def find_security_groups(self, group_ids: list[str], what: str | None = None) -> list[ProviderSecurityGroup]:
        """Those of ``group_ids`` that exist on the provider (filtered by the provider: ``?id=a&id=b``)."""

        def fetch() -> list[ProviderSecurityGroup]:
            found: list[ProviderSecurityGroup] = []
            for start in range(0, len(group_ids), SECURITY_GROUPS_PER_REQUEST):
                chunk = group_ids[start : start + SECURITY_GROUPS_PER_REQUEST]
                params = [("id", group_id) for group_id in chunk] + [("fields", "id"), ("fields", "name")]
                body = self._request("GET", "/security-groups", params=params)
                groups = map(neutron.security_group_from, neutron.items_of(body, "security_groups"))
                found.extend(g for g in groups if g and g.id in chunk)
            return found

        return self.call(what or "check the security groups", fetch)

    def list_security_groups(self, limit: int | None = None) -> list[ProviderSecurityGroup]:
        """The provider's security groups (the first ``limit`` of them, if given), each with its rules."""
        return self.call("list the security groups", lambda: [group for group in map(
            neutron.security_group_from, self._listed("/security-groups", "security_groups", limit))
            if group])  # fmt: skip

    def get_security_group(self, group_id: str) -> ProviderSecurityGroup:
        path = f"/security-groups/{quote(group_id, safe='')}"
        return self.call(f"read security group {group_id}", lambda: self._one(
            "GET", path, "security_group", neutron.security_group_from))  # fmt: skip

    # --- ports and agents (the port lifecycle, engine/operations/ports.py) -----------------------------------------

    def find_ports(self, what: str, filters: dict[str, str | list[str]],
                   fields: tuple[str, ...] = ()) -> list[ProviderPort]:  # fmt: skip
        """The ports matching server-side ``filters`` (a list value: any of them, ``?id=a&id=b``, sent in chunks)."""

        def fetch() -> list[ProviderPort]:
            many = next((key for key, value in filters.items() if isinstance(value, list)), None)
            values = list(filters[many]) if many else [None]
            found: list[ProviderPort] = []
            for start in range(0, len(values), SECURITY_GROUPS_PER_REQUEST):
                params = [(k, v) for k, v in filters.items() if k != many and isinstance(v, str)]
                if many:
                    params += [(many, str(value)) for value in values[start : start + SECURITY_GROUPS_PER_REQUEST]]
                params += [("fields", name) for name in fields]
                body = self._request("GET", "/ports", params=params)
                found.extend(_ports(body))
            return found

        if any(isinstance(value, list) and not value for value in filters.values()):
            return []
        return self.call(what, fetch)

    def port_pages(self, what: str, filters: dict[str, str], fields: tuple[str, ...] = (),
                   limit: int = 500) -> Iterator[list[ProviderPort]]:  # fmt: skip
        """The ports matching ``filters``, a page at a time (Neutron's pagination; one page if it has none)."""
        params: list[tuple[str, str]] = [*filters.items(), *(("fields", name) for name in fields),
                                         ("limit", str(limit))]  # fmt: skip
        body = self.call(what, lambda: self._request("GET", "/ports", params=params))
        seen: set[str] = set()
        while True:
            yield _ports(body)
            following = neutron.next_page(body, "ports")
            if not following or following in seen:
                return
            seen.add(following)
            body = self.call(what, partial(self._request, "GET", following))

    def create_ports(self, bodies: list[dict[str, Any]], what: str) -> list[ProviderPort]:
        """Create ports, all in one request when there are several (Neutron's bulk create: all or none); the ports
        made, in the order of ``bodies``."""

        def create() -> list[ProviderPort]:
            made: list[Any]
            if len(bodies) == 1:
                body = self._request("POST", "/ports", json={"port": bodies[0]})
                made = [body.get("port")] if isinstance(body, dict) else []
            else:
                made = neutron.items_of(self._request("POST", "/ports", json={"ports": bodies}), "ports")
            ports = [neutron.port_from(raw) for raw in made]
            if len(ports) != len(bodies) or None in ports:
                raise ValueError("the answer does not hold the ports it was asked to create")
            return [port for port in ports if port is not None]

        return self.call(what, create)

    def update_port(self, port_id: str, values: dict[str, Any], what: str) -> ProviderPort:
        path = f"/ports/{quote(port_id, safe='')}"
        return self.call(what, lambda: self._one("PUT", path, "port", neutron.port_from, json={"port": values}))

    def delete_port(self, port_id: str, what: str) -> bool:
        """Delete a port; False when the provider no longer had it."""

        def delete() -> bool:
            try:
                self._request("DELETE", f"/ports/{quote(port_id, safe='')}")
            except os_exc.NotFoundException:
                return False
            return True

        return self.call(what, delete)

    def list_agents(self, hosts: list[str], what: str) -> list[ProviderAgent] | None:
        """The provider's agents on ``hosts``; None when the provider does not list agents (no agent extension,
        or not for these credentials)."""

        def fetch() -> list[ProviderAgent] | None:
            params = [("host", host) for host in hosts]
            params += [("fields", name) for name in ("host", "alive", "admin_state_up", "agent_type")]
            try:
                body = self._request("GET", "/agents", params=params)
            except (os_exc.NotFoundException, os_exc.ForbiddenException):
                return None
            except os_exc.HttpException as err:
                if err.status_code in (401, 403, 404, 501):
                    return None
                raise
            if not isinstance(body, dict) or not isinstance(body.get("agents"), list):
                return None
            return [agent for agent in map(neutron.agent_from, body["agents"]) if agent is not None]

        return self.call(what, fetch)

    # --- routers (read only) -------------------------------------------------------------------------------------

    def list_routers(self, limit: int | None = None) -> list[ProviderRouter]:
        """The provider's routers (the first ``limit`` of them, if given), each with its interfaces."""

        def fetch() -> list[ProviderRouter]:
            routers = map(neutron.router_from, self._listed("/routers", "routers", limit))
            return self._with_interfaces([router for router in routers if router])

        return self.call("list the routers", fetch)

    def get_router(self, router_id: str) -> ProviderRouter:
        path = f"/routers/{quote(router_id, safe='')}"
        return self.call(f"read router {router_id}", lambda: self._with_interfaces(
            [self._one("GET", path, "router", neutron.router_from)])[0])  # fmt: skip

    def _with_interfaces(self, routers: list[ProviderRouter]) -> list[ProviderRouter]:
        """The routers with their interfaces: the provider's ``network:router_interface`` ports of them."""
        if not routers:
            return []
        filters: dict[str, str | list[str]] = {"device_owner": neutron.ROUTER_INTERFACE,
                                               "device_id": [router.id for router in routers]}  # fmt: skip
        ports = self.find_ports("list the interfaces of the routers", filters,
                                ("id", "device_id", "device_owner", "fixed_ips"))  # fmt: skip
        return [neutron.with_interfaces(router, ports) for router in routers]

    def close(self) -> None:
        self.session.session.close()


def _ports(body: Any) -> list[ProviderPort]:
    """The ports of a Neutron list answer (an item without an id is not a port)."""
    return [port for port in map(neutron.port_from, neutron.items_of(body, "ports")) if port is not None]


if TYPE_CHECKING:

    def _implements(client: ProviderClient) -> NetworkProvider:
        return client  # mypy checks here that a ProviderClient is a NetworkProvider


def translate(err: Exception, provider: str, what: str) -> ProviderError:
    """Map a keystoneauth/openstacksdk/requests failure to a ProviderError an administrator can act on."""
    prefix = f"Failed to {what} on provider '{provider}'"
    tls = isinstance(err, ks_exc.SSLError | requests.exceptions.SSLError | ssl.SSLError)
    if tls or "CERTIFICATE_VERIFY_FAILED" in str(err):
        return ProviderError("tls", f"{prefix}: {tls_problem(str(err))}")
    if isinstance(err, ks_exc.ConnectTimeout | requests.exceptions.Timeout | TimeoutError):
        return ProviderError("timeout", f"{prefix}: {_timeout_problem(err)}")
    if isinstance(err, ks_exc.ConnectionError | requests.exceptions.ConnectionError):
        return ProviderError("unreachable", f"{prefix}: it is unreachable ({_connection_reason(err)}); check the "
                             "url and that the provider is running")  # fmt: skip
    if isinstance(err, ks_exc.Unauthorized | ks_exc.Forbidden | os_exc.ForbiddenException):
        return ProviderError("auth", f"{prefix}: authentication failed; check the username, password, "
                             "authentication_url and project", 401)  # fmt: skip
    if isinstance(err, ks_exc.HttpError):
        status = err.http_status
        if status == 401:
            return ProviderError("auth", f"{prefix}: authentication failed; check the credentials", 401)
        return ProviderError("error", f"{prefix}: HTTP {status} {_short(err)}", status)
    if isinstance(err, os_exc.NotFoundException | os_exc.ResourceNotFound):
        return ProviderError("not_found", f"{prefix}: not found on the provider ({_short(err)})", 404)
    if isinstance(err, os_exc.ConflictException):
        return ProviderError("conflict", f"{prefix}: {_neutron_message(err)}", 409)
    if isinstance(err, os_exc.BadRequestException):
        return ProviderError("refused", f"{prefix}: the provider refused it: {_neutron_message(err)}", 400)
    if isinstance(err, os_exc.HttpException):
        code = err.status_code
        if code == 401:
            return ProviderError("auth", f"{prefix}: authentication failed; check the credentials", 401)
        return ProviderError("error", f"{prefix}: HTTP {code}: {_neutron_message(err)}", code)
    if isinstance(err, ks_exc.DiscoveryFailure | ks_exc.EndpointNotFound | ks_exc.EmptyCatalog):
        return ProviderError("not_neutron", f"{prefix}: no Neutron API found there ({_short(err)})")
    return ProviderError("error", f"{prefix}: {_short(err)}")


_VERIFY_REASON = re.compile(r"certificate verify failed: (.+?)\.?\s*(?:\(_ssl\.c:\d+\)|['\")\]]*$)")


def tls_problem(text: str) -> str:
    """What a TLS failure means and what to do about it."""
    reason = _VERIFY_REASON.search(text)
    if reason:
        why = reason.group(1).replace("\\'", "'").strip()
        if "mismatch" in why:
            return (f"TLS verification failed: its certificate is not valid for the host of its url ({why}); use a "
                    "url whose host the certificate names")  # fmt: skip
        return (f"TLS verification failed: its certificate is not trusted ({why}); list the chain it presents "
                "(GET .../certificates) and import it (importcertificates), or give the provider a certificate "
                "signed by a trusted CA")  # fmt: skip
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer failure" in text:
        return "it does not speak TLS at that address; check the scheme and port of the url"
    return f"the TLS handshake failed ({text.strip()[:200]})"


def _timeout_problem(err: BaseException) -> str:
    cause: BaseException | None = err
    while cause is not None:  # keystoneauth turns both kinds into its ConnectTimeout; the requests error says which
        if isinstance(cause, requests.exceptions.ConnectTimeout):
            return "it did not accept the connection in time; check the url and that the provider is running"
        cause = cause.__cause__ or cause.__context__
    return "it did not answer in time; check that the provider is running and not overloaded"


def _connection_reason(err: Exception) -> str:
    text = str(err)
    for marker, reason in (("Errno 111", "connection refused"), ("Name or service not known", "unknown host"),
                           ("No route to host", "no route to host"), ("Errno -2", "unknown host"),
                           ("Errno -3", "unknown host")):  # fmt: skip
        if marker in text:
            return reason
    return _short(err)


def _neutron_message(err: Any) -> str:
    details = getattr(err, "details", None)
    return str(details or err)[:500]


def _short(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__
    return text[:300]


class ProviderClients:
    """One client per provider, rebuilt when its configuration changes."""

    def __init__(self) -> None:
        self._clients: dict[str, tuple[str, ProviderClient]] = {}
        self._lock = threading.Lock()

    def get(self, config: ProviderConfig) -> ProviderClient:
        fingerprint = config.fingerprint()
        with self._lock:
            cached = self._clients.get(config.provider_id)
            if cached and cached[0] == fingerprint:
                return cached[1]
            client = ProviderClient(config)
            self._clients[config.provider_id] = (fingerprint, client)
        if cached:
            cached[1].close()
        return client

    def forget(self, provider_id: str) -> None:
        with self._lock:
            cached = self._clients.pop(provider_id, None)
        if cached:
            cached[1].close()

    @contextmanager
    def using(self, config: ProviderConfig) -> Iterator[ProviderClient]:
        yield self.get(config)
