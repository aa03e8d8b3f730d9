"""Host accounts on a provider's Keystone (v3 API, with the provider's own credentials): a user per host with the
``host_agent`` role on the provider's project, where the provider's Keystone has that role (the built-in provider
does; a foreign Keystone does not, and its hosts keep the provider's credentials)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openstack import exceptions as os_exc

from extnet.engine.providers.client import ProviderClient, ProviderError

HOST_AGENT_ROLE = "host_agent"


@dataclass(frozen=True)
class CreatedAccount:
    user_id: str
    username: str


class KeystoneAccounts:
    def __init__(self, client: ProviderClient) -> None:
        self.client = client
        auth_url = (client.config.authentication_url or "").rstrip("/")
        self.base = auth_url if auth_url.endswith("/v3") else f"{auth_url}/v3"

    def supported(self) -> str | None:
        """The id of the ``host_agent`` role, or None when this Keystone has none (or is not v3)."""
        if (self.client.config.authentication_url or "").rstrip("/").endswith("/v2.0"):
            return None
        roles = self._call("GET", f"/roles?name={HOST_AGENT_ROLE}", "find the host_agent role", absent=(403, 404))
        found = [r for r in (roles or {}).get("roles", []) if r.get("name") == HOST_AGENT_ROLE]
        return str(found[0]["id"]) if found else None

    def create(self, role_id: str, username: str, password: str, description: str) -> CreatedAccount:
        """The user ``username`` with ``password`` and the role on the provider's project (made, or its password
        replaced when it exists: a host paired again, or an engine restored from a backup)."""
        project_id = self.client.call("read the provider's project", self.client.session.get_project_id)
        found = self._call("GET", f"/users?name={username}", f"find user {username}")
        existing = [u for u in (found or {}).get("users", []) if u.get("name") == username]
        if existing:
            user_id = str(existing[0]["id"])
            self._call("PATCH", f"/users/{user_id}", f"set the password of user {username}",
                       json={"user": {"password": password, "enabled": True}})  # fmt: skip
        else:
            body = {"user": {"name": username, "password": password, "domain_id": "default", "enabled": True,
                             "default_project_id": project_id, "description": description}}  # fmt: skip
            user_id = str(self._call("POST", "/users", f"create user {username}", json=body)["user"]["id"])
        self._call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}", f"grant {username} its role")
        return CreatedAccount(user_id, username)

    def delete(self, user_id: str) -> None:
        try:
            self._call("DELETE", f"/users/{user_id}", "remove a host's account")
        except ProviderError as err:
            if err.status != 404:
                raise

    def _call(self, method: str, path: str, what: str, absent: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """The JSON answer; None for a status in ``absent`` (e.g. credentials that may not list roles: a Keystone
        that offers no host accounts to them)."""

        def request() -> Any:
            response = self.client.session.request(f"{self.base}{path}", method, raise_exc=False, connect_retries=0,
                                                   **kwargs)  # fmt: skip
            if response.status_code in absent:
                return None
            os_exc.raise_from_response(response)
            return response.json() if response.content else None

        return self.client.call(what, request)
