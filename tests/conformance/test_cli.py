"""The ``openstack`` command-line client (python-openstackclient) on what issue 13 added, against the target:
the built-in provider or a real Neutron, the same commands and the same answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from openstack.connection import Connection

from tests.conformance.conftest import AZ, Lab, Target
from tests.provider.process import ADMIN_PASSWORD

Cli = Callable[..., Any]


@pytest.fixture
def cli(target: Target) -> Cli:
    executable = shutil.which("openstack")
    if executable is None:
        pytest.fail("the openstack command (python-openstackclient) is not installed")
    if not target.auth_url:
        pytest.skip("the target runs without Keystone: the CLI needs it")
    external = target.name != "extnet"
    env = {
        **os.environ,
        "OS_AUTH_URL": target.auth_url,
        "OS_USERNAME": os.environ.get("EXTNET_CONFORMANCE_USERNAME", "admin") if external else "admin",
        "OS_PASSWORD": os.environ.get("EXTNET_CONFORMANCE_PASSWORD", "") if external else ADMIN_PASSWORD,
        "OS_PROJECT_NAME": os.environ.get("EXTNET_CONFORMANCE_PROJECT", "admin") if external else "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_INTERFACE": "public",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OS_CLOUD", None)

    def run(*args: str, answers: bool = True) -> Any:
        """The command's JSON answer (``answers``), else its output (``set``, ``delete``: no ``-f json``)."""
        formatted = [*args, "-f", "json"] if answers else list(args)
        result = subprocess.run([executable, *formatted], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"openstack {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout) if answers else result.stdout

    return run


def test_ip_availability(cli: Cli, lab: Lab, admin: Connection) -> None:
    network = lab.network()
    subnet = lab.subnet(network, cidr="10.79.0.0/24", allocation_pools=[{"start": "10.79.0.10", "end": "10.79.0.29"}])
    lab.port(network)

    shown = cli("ip", "availability", "show", network.id)
    assert shown["network_id"] == network.id and shown["network_name"] == network.name
    assert (shown["used_ips"], shown["total_ips"]) == (1, 20)
    [per_subnet] = shown["subnet_ip_availability"]
    assert per_subnet["subnet_id"] == subnet.id and per_subnet["used_ips"] == 1 and per_subnet["total_ips"] == 20

    listed = cli("ip", "availability", "list", "--ip-version", "4", "--project", admin.current_project_id)
    mine = [row for row in listed if row["Network ID"] == network.id]
    assert mine == [{"Network ID": network.id, "Network Name": network.name, "Total IPs": 20, "Used IPs": 1,
                     "Total IPs in Subnet": 254, "Total IPs in Allocation Pool": 20, "Used IPs in Subnet": 1,
                     "Used IPs in Allocation Pool": 1}]  # fmt: skip


def test_network_rbac(cli: Cli, lab: Lab, target: Target) -> None:
    _member, project = target.member("cli-rbac")
    network = lab.network()
    created = cli("network", "rbac", "create", "--type", "network", "--action", "access_as_shared",
                  "--target-project", project, network.id)  # fmt: skip
    assert (created["object_id"], created["action"], created["target_project_id"]) == (
        network.id, "access_as_shared", project)  # fmt: skip
    listed = cli("network", "rbac", "list", "--type", "network", "--action", "access_as_shared", "--long")
    assert {"ID": created["id"], "Object Type": "network", "Object ID": network.id, "Action": "access_as_shared"} \
        .items() <= next(row for row in listed if row["ID"] == created["id"]).items()  # fmt: skip
    shown = cli("network", "rbac", "show", created["id"])
    assert shown["target_project_id"] == project and shown["object_type"] == "network"
    elsewhere = lab.admin.identity.create_project(name=lab.name("p"), domain_id="default")
    lab.later(lambda: lab.admin.identity.delete_project(elsewhere))
    cli("network", "rbac", "set", "--target-project", elsewhere.id, created["id"], answers=False)
    assert cli("network", "rbac", "show", created["id"])["target_project_id"] == elsewhere.id
    cli("network", "rbac", "delete", created["id"], answers=False)
    assert lab.admin.network.find_rbac_policy(created["id"]) is None


def test_quota(cli: Cli, lab: Lab, admin: Connection) -> None:
    project = admin.identity.create_project(name=lab.name("quota"), domain_id="default")
    lab.later(lambda: admin.identity.delete_project(project))

    def limits(*args: str) -> dict[str, Any]:
        return {row["Resource"]: row for row in cli("quota", "show", "--network", *args)}

    defaults = limits("--default")
    cli("quota", "set", "--networks", "7", "--ports", "20", project.id, answers=False)
    shown = limits(project.id)
    assert (shown["networks"]["Limit"], shown["ports"]["Limit"]) == (7, 20)
    assert shown["subnets"]["Limit"] == defaults["subnets"]["Limit"]
    usage = limits("--usage", project.id)
    assert {key: usage["networks"][key] for key in ("Limit", "In Use", "Reserved")} == {"Limit": 7, "In Use": 0,
                                                                                         "Reserved": 0}  # fmt: skip
    listed = cli("quota", "list", "--network")
    assert next(row for row in listed if row["Project ID"] == project.id)["Networks"] == 7
    cli("quota", "delete", "--network", project.id, answers=False)
    assert limits(project.id)["networks"]["Limit"] == defaults["networks"]["Limit"]


def test_floating_ip(cli: Cli, lab: Lab, admin: Connection) -> None:
    external = lab.network(is_router_external=True)
    lab.subnet(external, cidr="172.31.20.0/24")
    inner = lab.network()
    inner_subnet = lab.subnet(inner, cidr="10.31.20.0/24")
    port = lab.port(inner)
    router = lab.router(external_gateway_info={"network_id": external.id})
    admin.network.add_interface_to_router(router, subnet_id=inner_subnet.id)
    lab.later(lambda: admin.network.remove_interface_from_router(router, subnet_id=inner_subnet.id))

    created = cli("floating", "ip", "create", "--description", "from the CLI", external.id)
    lab.later(lambda: admin.network.delete_ip(created["id"], ignore_missing=True))
    assert created["floating_network_id"] == external.id and created["description"] == "from the CLI"
    cli("floating", "ip", "set", "--port", port.id, created["id"], answers=False)
    shown = cli("floating", "ip", "show", created["id"])
    assert (shown["port_id"], shown["router_id"]) == (port.id, router.id)
    assert shown["fixed_ip_address"] == port.fixed_ips[0]["ip_address"]
    listed = cli("floating", "ip", "list", "--network", external.id, "--long")
    assert [(row["ID"], row["Port"], row["Router"]) for row in listed] == [(created["id"], port.id, router.id)]
    cli("floating", "ip", "unset", "--port", created["id"], answers=False)
    assert cli("floating", "ip", "show", created["id"])["port_id"] is None
    cli("floating", "ip", "delete", created["id"], answers=False)
    assert admin.network.find_ip(created["id"]) is None


def test_availability_zone(cli: Cli) -> None:
    listed = cli("availability", "zone", "list", "--network", "--long")
    mine = sorted((row["Zone Resource"], row["Zone Status"]) for row in listed if row["Zone Name"] == AZ)
    assert mine == [("network", "available"), ("router", "available")]
