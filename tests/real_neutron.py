"""The engine's provider tests against a real OpenStack Neutron + Keystone instead of the built-in provider.

``EXTNET_ENGINE_PROVIDER=neutron``, with the ``EXTNET_CONFORMANCE_*`` variables that ``scripts/real-neutron.sh env``
prints (the Keystone v3 URL and an admin's user, password and project), makes the ``builtin_provider`` fixture yield
a ``RealNeutron`` in place of a built-in provider process. It has the same interface (``network_url``,
``identity_url``, ``auth_url``, ``connect()``, ``token()``) plus the credentials ``add_provider`` registers
(``username``, ``password``, ``project``). Tests marked ``builtin_provider_only`` (they stop, restart or start
built-in providers, or use what only it has) are skipped in that mode.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # openstacksdk is imported only when a test talks to a provider
    from openstack.connection import Connection

REAL_NEUTRON = os.environ.get("EXTNET_ENGINE_PROVIDER", "builtin") == "neutron"


@dataclass(frozen=True)
class RealNeutron:
    """A running Neutron with Keystone v3, and the user the engine talks to it as."""

    network_url: str  # http://HOST:PORT, as in the Keystone catalog (no /v2.0)
    identity_url: str  # Keystone without /v3
    username: str
    password: str
    project: str

    @property
    def auth_url(self) -> str:
        return f"{self.identity_url}/v3"

    def connect(
        self, username: str | None = None, password: str | None = None, project: str | None = None
    ) -> Connection:
        from tests.provider.process import connect

        return connect(self.auth_url, username or self.username, password or self.password, project or self.project)

    def token(self, username: str | None = None, password: str | None = None, project: str | None = None) -> str:
        from tests.provider.process import issue_token

        return issue_token(self.auth_url, username or self.username, password or self.password, project or self.project)


@functools.cache
def real_neutron() -> RealNeutron:
    """The Neutron the ``EXTNET_CONFORMANCE_*`` variables describe; its network URL comes from Keystone's catalog."""
    url = os.environ.get("EXTNET_CONFORMANCE_URL", "").rstrip("/")
    if not url.endswith("/v3") or os.environ.get("EXTNET_CONFORMANCE_AUTH") == "none":
        raise RuntimeError(
            "EXTNET_ENGINE_PROVIDER=neutron needs a Neutron with Keystone v3: set the variables that "
            '`scripts/real-neutron.sh env` prints (eval "$(bash scripts/real-neutron.sh env)")'
        )
    target = RealNeutron(
        network_url="",
        identity_url=url[: -len("/v3")],
        username=os.environ.get("EXTNET_CONFORMANCE_USERNAME", "admin"),
        password=os.environ.get("EXTNET_CONFORMANCE_PASSWORD", ""),
        project=os.environ.get("EXTNET_CONFORMANCE_PROJECT", "admin"),
    )
    admin = target.connect()
    try:
        endpoint = admin.network.get_endpoint().rstrip("/")
    finally:
        admin.close()
    endpoint = endpoint.removesuffix("/v2.0")
    return RealNeutron(endpoint, target.identity_url, target.username, target.password, target.project)


def provider_fields(target: Any) -> dict[str, Any]:
    """The url and credentials ``add_provider`` registers for ``target`` (a built-in provider process, whose admin is
    admin/admin with the tests' password, or a ``RealNeutron``)."""
    from tests.provider.process import ADMIN_PASSWORD as BUILTIN_PASSWORD

    return {
        "url": target.network_url,
        "authentication_url": target.auth_url,
        "username": getattr(target, "username", "admin"),
        "password": getattr(target, "password", BUILTIN_PASSWORD),
        "project_name": getattr(target, "project", "admin"),
    }


@contextlib.contextmanager
def own_project(target: RealNeutron, prefix: str) -> Iterator[RealNeutron]:
    """A new project with a user holding the ``member`` role in it, on a real Neutron: that user sees its project's
    networks only (an admin sees every project's), so a provider registered with it has no network of other tests.
    Whatever is left in the project is deleted afterwards, then the user and the project."""
    admin = target.connect()
    identity = admin.identity
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    project = identity.create_project(name=name, domain_id="default")
    user = identity.create_user(name=name, password=f"pw-{name}", domain_id="default", default_project_id=project.id)
    try:
        identity.assign_project_role_to_user(project, user, identity.find_role("member"))
        yield RealNeutron(target.network_url, target.identity_url, name, f"pw-{name}", name)
    finally:
        _empty_project(admin, project.id)
        identity.delete_user(user, ignore_missing=True)
        identity.delete_project(project, ignore_missing=True)
        admin.close()


def _empty_project(admin: Connection, project_id: str) -> None:
    from openstack.exceptions import SDKException

    network = admin.network
    for kind, delete in (("ports", network.delete_port), ("networks", network.delete_network),
                         ("security_groups", network.delete_security_group)):  # fmt: skip
        for resource in getattr(network, kind)(project_id=project_id):
            with contextlib.suppress(SDKException):
                delete(resource, ignore_missing=True)
