"""Talking to a provider through keystoneauth, shared by the engine (its provider clients) and the host agent (its
heartbeats): the Keystone password plugin for a provider's credentials, and HTTPS trust and (connect, read)
timeouts that keystoneauth alone cannot express (it takes one float timeout and a CA file)."""

from __future__ import annotations

import ssl
from typing import Any, Protocol

import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v2, v3
from keystoneauth1.noauth import NoAuth


class Credentials(Protocol):
    """How a provider is reached and authenticated (the engine's ``ProviderConfig``, the agent's ``ProviderTarget``)."""

    @property
    def requires_authentication(self) -> bool: ...
    @property
    def authentication_url(self) -> str | None: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def tenant_name(self) -> str | None: ...
    @property
    def project_name(self) -> str | None: ...
    @property
    def user_domain_name(self) -> str | None: ...
    @property
    def project_domain_name(self) -> str | None: ...


def auth_plugin(credentials: Credentials) -> Any:
    """Keystone v2.0 when the URL ends in /v2.0, else v3; none when the provider needs no authentication."""
    if not credentials.requires_authentication:
        return NoAuth()
    auth_url = (credentials.authentication_url or "").rstrip("/")
    if auth_url.endswith("/v2.0"):
        return v2.Password(auth_url=auth_url, username=credentials.username, password=credentials.password or "",
                           tenant_name=credentials.tenant_name)  # fmt: skip
    # v3; a tenant_name alone (as Ansible sends it) is the project in the Default domain
    return v3.Password(
        auth_url=auth_url, username=credentials.username, password=credentials.password or "",
        user_domain_name=credentials.user_domain_name or "Default",
        project_name=credentials.project_name or credentials.tenant_name,
        project_domain_name=credentials.project_domain_name or "Default",
    )  # fmt: skip


def trust_context(certificates: tuple[str, ...]) -> ssl.SSLContext | None:
    """An SSL context trusting exactly the imported certificates, or None (the system's CAs) when there are none.

    Any imported certificate is a trust anchor, as in oVirt's external trust store: a provider's own leaf or
    intermediate certificate is enough, its root need not be imported (or even be presented)."""
    if not certificates:
        return None
    context = ssl.create_default_context(cadata="\n".join(certificates))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


class ProviderAdapter(requests.adapters.HTTPAdapter):
    """Gives every request the (connect, read) timeouts unless it sets its own, and verifies HTTPS against ``trust``
    alone when given."""

    def __init__(self, timeout: tuple[float, float], trust: ssl.SSLContext | None, pool_maxsize: int) -> None:
        self._timeout = timeout
        self._trust = trust  # set before HTTPAdapter.__init__, which builds the pool manager
        super().__init__(pool_connections=4, pool_maxsize=pool_maxsize)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._trust is not None:
            kwargs["ssl_context"] = self._trust
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if self._trust is not None and verify and url.lower().startswith("https"):
            conn.ca_certs = conn.ca_cert_dir = None  # or the system bundle would be added to the imported trust

    def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:  # fmt: skip
        return super().send(request, stream, self._timeout if timeout is None else timeout, verify, cert, proxies)


def provider_session(credentials: Credentials, certificates: tuple[str, ...], timeout: tuple[float, float],
                     pool_maxsize: int) -> tuple[ks_session.Session, ProviderAdapter]:  # fmt: skip
    """A keystoneauth session for a provider, with its trust and timeouts on every HTTP(S) request."""
    session = ks_session.Session(auth=auth_plugin(credentials), verify=True)
    adapter = ProviderAdapter(timeout, trust_context(certificates), pool_maxsize)
    session.session.mount("http://", adapter)
    session.session.mount("https://", adapter)
    return session, adapter
