"""The conformance suite: openstacksdk-driven checks of the Neutron behaviours extnet claims.

By default the target is a built-in provider started for the session (on SQLite, or on a fresh database of
``EXTNET_TEST_DATABASE_URL``). With ``EXTNET_CONFORMANCE_URL`` set, the same tests run against any Neutron:

- ``EXTNET_CONFORMANCE_URL``: the Keystone v3 auth URL (e.g. ``http://127.0.0.1:15000/v3``), or the Neutron
  endpoint itself with ``EXTNET_CONFORMANCE_AUTH=none`` (noauth Neutron: the identity tests are skipped);
- ``EXTNET_CONFORMANCE_USERNAME`` / ``_PASSWORD`` / ``_PROJECT``: an admin (default admin / - / admin);
- ``EXTNET_CONFORMANCE_AGENT_HOSTS``: hosts that have a live "Open vSwitch agent" whose bridge mappings include
  ``physnet1`` and whose tunnel types include vxlan (``scripts/real-neutron.sh`` registers two);
- a live "DHCP agent" and "L3 agent" in availability zone ``conformance-az`` (host ``conformance-az-host``;
  ``scripts/real-neutron.sh`` registers them);
- the Neutron is expected to run ML2 with ``type_drivers = flat,vlan,vxlan,geneve``, ``flat_networks = *``,
  ``network_vlan_ranges = physnet1:100:200`` and vxlan tenant networks (as ``scripts/real-neutron.sh`` does).

``scripts/real-neutron.sh env`` prints these variables for the Neutron it starts. ``EXTNET_CONFORMANCE_DRIVER=ovn``
runs the built-in provider with its ``ovn`` driver on an OVN central of the session's own (the agent hosts are
chassis there).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.ovn import OvnCentral, ovn_central
from tests.polling import until
from tests.provider.process import ADMIN_PASSWORD, ProviderProcess, connect, run_provider
from tests.servers import scratch_database

# a DHCP and an L3 agent in this zone, on a host that runs nothing (scripts/real-neutron.sh registers them too)
AZ, AZ_HOST = "conformance-az", "conformance-az-host"
AGENT_CONFIGURATION = {
    "bridge_mappings": {"physnet1": "br-ex"},
    "integration_bridge": "br-int",
    "tunnel_types": ["vxlan", "geneve"],
    "datapath_type": "system",
    "ovs_hybrid_plug": False,
}


def pytest_configure(config: pytest.Config) -> None:
    # openstacksdk announces its own future API changes on every call
    config.addinivalue_line("filterwarnings", "ignore::PendingDeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore::openstack.warnings.OpenStackWarning")


@dataclass
class Target:
    """The Neutron under test and an admin connection to it."""

    name: str  # "extnet" or "neutron"
    admin: Connection
    network_url: str  # without /v2.0
    auth_url: str | None  # Keystone v3, or None without authentication
    agent_hosts: list[str]
    provider: ProviderProcess | None = None
    driver: str = "ovs_agent"  # what binds its ports: Open vSwitch agents, or OVN (its agents are chassis)
    _users: dict[str, Connection] = field(default_factory=dict)

    @property
    def project_id(self) -> str | None:
        """The admin's project (None without Keystone: a noauth Neutron puts resources in ``fake_project_id``)."""
        return self.admin.current_project_id if self.auth_url else None

    @property
    def is_extnet(self) -> bool:
        return self.name == "extnet"

    def raw(self, token: str | None = None) -> httpx.Client:
        """Plain HTTP to ``/v2.0`` (for status codes and error documents), as the admin by default."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.auth_url:
            headers["X-Auth-Token"] = token or self.admin.session.get_token()
        return httpx.Client(base_url=f"{self.network_url}/v2.0", headers=headers, timeout=120)

    def member(self, prefix: str) -> tuple[Connection, str]:
        """A connection as a new non-admin user (role member) in a new project; and that project's id."""
        if not self.auth_url:
            pytest.skip("the target runs without Keystone: no per-project users")
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        identity = self.admin.identity
        project = identity.create_project(name=name, domain_id="default")
        user = identity.create_user(
            name=name, password=f"pw-{name}", domain_id="default", default_project_id=project.id
        )
        identity.assign_project_role_to_user(project, user, identity.find_role("member"))
        return connect(self.auth_url, name, f"pw-{name}", name), project.id


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"EXTNET_CONFORMANCE_{name}", default)


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    url = _env("URL")
    if url:
        yield _external_target(url)
        return
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")))
        env = {"EXTNET_PROVIDER_AGENT_DOWN_TIME": "2147483"}
        central = None
        if _env("DRIVER") == "ovn":
            central = stack.enter_context(ovn_central(tmp_path_factory.mktemp("conformance-ovn")))
            env.update(EXTNET_PROVIDER_DRIVER="ovn", EXTNET_PROVIDER_OVN_NB=central.nb,
                       EXTNET_PROVIDER_OVN_SB=central.sb)  # fmt: skip
        provider = stack.enter_context(run_provider(tmp_path_factory.mktemp("conformance"), database_url, env=env))
        admin = provider.connect()
        hosts = ["conformance-host-1", "conformance-host-2"]
        if central is not None:
            _chassis(central, admin, hosts)
        with httpx.Client(base_url=provider.network_url, headers={"X-Auth-Token": admin.session.get_token()}) as c:
            for host in hosts:
                report = {
                    "host": host,
                    "agent_type": "Open vSwitch agent",
                    "binary": "neutron-openvswitch-agent",
                    "configurations": AGENT_CONFIGURATION,
                }
                assert c.post("/v2.0/agents/heartbeat", json={"agent": report}).status_code in (200, 201)
            for agent_type, binary in (("DHCP agent", "neutron-dhcp-agent"), ("L3 agent", "neutron-l3-agent")):
                report = {"host": AZ_HOST, "agent_type": agent_type, "binary": binary, "availability_zone": AZ}
                assert c.post("/v2.0/agents/heartbeat", json={"agent": report}).status_code in (200, 201)
        yield Target("extnet", admin, provider.network_url, provider.auth_url, hosts, provider,
                     "ovn" if central is not None else "ovs_agent")  # fmt: skip
        admin.close()


def _chassis(central: OvnCentral, admin: Connection, hosts: list[str]) -> None:
    """The agent hosts as OVN chassis (no ovn-controller: each confirms every nb_cfg ahead, so it stays alive),
    mapping physnet1 as the heartbeat agents do."""
    for index, host in enumerate(hosts, start=1):
        central.sbctl("chassis-add", host, "geneve", f"127.0.0.{index + 100}", "--", "set", "Chassis", host,
                      f"hostname={host}", "other_config:ovn-bridge-mappings=physnet1:br-ex",
                      "other_config:datapath-type=system")  # fmt: skip
        central.sbctl("create", "Chassis_Private", f"name={host}", "nb_cfg=2147483647")
    until(lambda: sum(a.is_alive for a in admin.network.agents(agent_type="OVN Controller agent")) == len(hosts),
          "the chassis alive OVN Controller agents")  # fmt: skip


def _external_target(url: str) -> Target:
    hosts = (_env("AGENT_HOSTS") or "").split()
    if _env("AUTH") == "none":
        admin = openstack.connect(auth_type="none", network_endpoint_override=url.rstrip("/"))
        return Target("neutron", admin, url.rstrip("/"), None, hosts)
    admin = connect(
        url,
        _env("USERNAME", "admin") or "admin",
        _env("PASSWORD", ADMIN_PASSWORD) or "",
        _env("PROJECT", "admin") or "admin",
    )
    endpoint = admin.network.get_endpoint().rstrip("/")
    endpoint = endpoint[: -len("/v2.0")] if endpoint.endswith("/v2.0") else endpoint
    return Target("neutron", admin, endpoint, url.rstrip("/"), hosts)


@pytest.fixture(scope="session")
def admin(target: Target) -> Connection:
    return target.admin


@pytest.fixture
def raw(target: Target) -> Iterator[httpx.Client]:
    with target.raw() as client:
        yield client


_counter = itertools.count()


@pytest.fixture
def name() -> Callable[[str], str]:
    """Names no other test (or earlier run against the same Neutron) uses."""
    run = uuid.uuid4().hex[:6]
    return lambda prefix: f"cf-{prefix}-{run}{next(_counter)}"


class Lab:
    """Creates resources for one test through openstacksdk and deletes them afterwards."""

    def __init__(self, admin: Connection, name: Callable[[str], str]) -> None:
        self.admin = admin
        self.name = name
        self._cleanup: list[Callable[[], Any]] = []

    def later(self, action: Callable[[], Any]) -> None:
        self._cleanup.append(action)

    def network(self, conn: Connection | None = None, **attrs: Any) -> Any:
        conn = conn or self.admin
        attrs.setdefault("name", self.name("net"))
        network = conn.network.create_network(**attrs)
        self.later(lambda: self._delete_network(network.id))
        return network

    def _delete_network(self, network_id: str) -> None:
        network = self.admin.network
        for port in network.ports(network_id=network_id):
            if port.device_owner == "network:router_interface":
                network.remove_interface_from_router(port.device_id, port_id=port.id)
            elif port.device_owner == "network:router_gateway":
                network.update_router(port.device_id, external_gateway_info={})
            else:
                network.delete_port(port, ignore_missing=True)
        network.delete_network(network_id, ignore_missing=True)

    def subnet(self, network: Any, cidr: str, conn: Connection | None = None, **attrs: Any) -> Any:
        conn = conn or self.admin
        version = 6 if ":" in cidr else 4
        return conn.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=version, **attrs)

    def port(self, network: Any, conn: Connection | None = None, **attrs: Any) -> Any:
        conn = conn or self.admin
        return conn.network.create_port(network_id=network.id, **attrs)

    def security_group(self, conn: Connection | None = None, **attrs: Any) -> Any:
        conn = conn or self.admin
        attrs.setdefault("name", self.name("sg"))
        group = conn.network.create_security_group(**attrs)
        self.later(lambda: self.admin.network.delete_security_group(group.id, ignore_missing=True))
        return group

    def router(self, conn: Connection | None = None, **attrs: Any) -> Any:
        conn = conn or self.admin
        attrs.setdefault("name", self.name("router"))
        router = conn.network.create_router(**attrs)
        self.later(lambda: self._delete_router(router.id))
        return router

    def _delete_router(self, router_id: str) -> None:
        network = self.admin.network
        for port in network.ports(device_id=router_id, device_owner="network:router_interface"):
            network.remove_interface_from_router(router_id, port_id=port.id)
        network.delete_router(router_id, ignore_missing=True)

    def close(self) -> None:
        for action in reversed(self._cleanup):
            with contextlib.suppress(openstack.exceptions.SDKException):
                action()


@pytest.fixture
def lab(admin: Connection, name: Callable[[str], str]) -> Iterator[Lab]:
    lab = Lab(admin, name)
    yield lab
    lab.close()


def neutron_error(response: httpx.Response, status: int, type_: str) -> str:
    """Assert a NeutronError document with this status and type; returns its message."""
    assert response.status_code == status, response.text
    error = response.json()["NeutronError"]
    assert error["type"] == type_, response.text
    assert error["detail"] == ""
    return str(error["message"])
