"""Talking to a Neutron-API network provider, only through keystoneauth1 and openstacksdk.

One ``ProviderClient`` per provider configuration: it keeps one authenticated session (keystoneauth re-authenticates
on a 401 by itself), verifies TLS against the certificates imported for the provider, applies connect/read timeouts,
and maps every failure to a ``ProviderError`` that says what went wrong in words an administrator can act on.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v2, v3
from keystoneauth1.noauth import NoAuth
from openstack import exceptions as os_exc
from openstack.connection import Connection

T = TypeVar("T")


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


def _auth_plugin(config: ProviderConfig) -> Any:
    if not config.requires_authentication:
        return NoAuth()
    auth_url = (config.authentication_url or "").rstrip("/")
    if auth_url.endswith("/v2.0"):
        return v2.Password(auth_url=auth_url, username=config.username, password=config.password or "",
                           tenant_name=config.tenant_name)  # fmt: skip
    # v3; a tenant_name alone (as Ansible sends it) is the project in the Default domain
    return v3.Password(
        auth_url=auth_url, username=config.username, password=config.password or "",
        user_domain_name=config.user_domain_name or "Default",
        project_name=config.project_name or config.tenant_name,
        project_domain_name=config.project_domain_name or "Default",
    )  # fmt: skip


class ProviderClient:
    def __init__(self, config: ProviderConfig, ca_dir: Path) -> None:
        self.config = config
        self._ca_file = self._write_ca_file(ca_dir)
        verify: bool | str = str(self._ca_file) if self._ca_file else True
        self.session = ks_session.Session(auth=_auth_plugin(config), verify=verify, timeout=config.read_timeout)
        self._adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.session.mount("http://", self._adapter)
        self.session.session.mount("https://", self._adapter)
        self.endpoint = config.url.rstrip("/")
        self.connection = Connection(session=self.session, network_endpoint_override=self.endpoint + "/v2.0/",
                                     strict_proxies=False)  # fmt: skip

    def _write_ca_file(self, ca_dir: Path) -> Path | None:
        if not self.config.certificates:
            return None
        ca_dir.mkdir(parents=True, exist_ok=True)
        path = ca_dir / f"{self.config.provider_id}.pem"
        path.write_text("\n".join(self.config.certificates))
        return path

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

    def close(self) -> None:
        self.session.session.close()


def translate(err: Exception, provider: str, what: str) -> ProviderError:
    """Map a keystoneauth/openstacksdk/requests failure to a ProviderError an administrator can act on."""
    prefix = f"Failed to {what} on provider '{provider}'"
    if isinstance(err, ks_exc.SSLError | requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(err):
        return ProviderError("tls", f"{prefix}: its TLS certificate is not trusted ({_short(err)}); import the "
                             "provider's certificate chain (importcertificates) or use a certificate signed by a "
                             "trusted CA")  # fmt: skip
    if isinstance(err, ks_exc.ConnectTimeout | requests.exceptions.Timeout):
        return ProviderError("timeout", f"{prefix}: it did not answer in time; check that the provider is running "
                             "and not overloaded")  # fmt: skip
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

    def __init__(self, ca_dir: Path) -> None:
        self.ca_dir = ca_dir
        self._clients: dict[str, tuple[str, ProviderClient]] = {}
        self._lock = threading.Lock()

    def get(self, config: ProviderConfig) -> ProviderClient:
        fingerprint = config.fingerprint()
        with self._lock:
            cached = self._clients.get(config.provider_id)
            if cached and cached[0] == fingerprint:
                return cached[1]
            client = ProviderClient(config, self.ca_dir)
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
