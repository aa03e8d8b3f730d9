"""The ``openstack`` command-line client (python-openstackclient) against the provider, Keystone v3 auth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from typing import Any

import pytest

from tests.provider.process import ADMIN_PASSWORD, ProviderProcess

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml


@pytest.fixture
def openstack_cli(provider: ProviderProcess) -> Any:
    executable = shutil.which("openstack")
    if executable is None:
        pytest.fail("the openstack command (python-openstackclient) is not installed")
    env = {
        **os.environ,
        "OS_AUTH_URL": provider.auth_url,
        "OS_USERNAME": "admin",
        "OS_PASSWORD": ADMIN_PASSWORD,
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_INTERFACE": "public",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OS_CLOUD", None)

    def run(*args: str) -> Any:
        result = subprocess.run([executable, *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"openstack {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout) if "-f" in args and "json" in args else result.stdout

    return run


def test_full_cycle_with_the_cli(openstack_cli: Any) -> None:
    run = openstack_cli
    suffix = uuid.uuid4().hex[:8]
    net, sub, group, router = f"cli-net-{suffix}", f"cli-sub-{suffix}", f"cli-sg-{suffix}", f"cli-r-{suffix}"

    network = run("network", "create", net, "--description", "from the CLI", "-f", "json")
    assert network["name"] == net and network["status"] == "ACTIVE" and network["description"] == "from the CLI"
    subnet = run(
        "subnet",
        "create",
        sub,
        "--network",
        net,
        "--subnet-range",
        "10.160.0.0/24",
        "--dns-nameserver",
        "192.0.2.53",
        "-f",
        "json",
    )
    assert subnet["cidr"] == "10.160.0.0/24" and subnet["gateway_ip"] == "10.160.0.1"
    sg = run("security", "group", "create", group, "-f", "json")
    rule = run(
        "security",
        "group",
        "rule",
        "create",
        group,
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "--remote-ip",
        "10.0.0.0/8",
        "-f",
        "json",
    )
    assert rule["port_range_min"] == 22 and rule["security_group_id"] == sg["id"]

    port = run(
        "port",
        "create",
        f"cli-port-{suffix}",
        "--network",
        net,
        "--security-group",
        group,
        "--host",
        "cli-host",
        "--fixed-ip",
        "subnet=" + sub + ",ip-address=10.160.0.50",
        "-f",
        "json",
    )
    assert port["fixed_ips"][0]["ip_address"] == "10.160.0.50" and port["binding_host_id"] == "cli-host"
    assert port["binding_vif_type"] == "binding_failed" and port["status"] == "DOWN"
    run("port", "set", port["id"], "--name", f"cli-renamed-{suffix}", "--tag", "blue")
    shown = run("port", "show", port["id"], "-f", "json")
    assert shown["name"] == f"cli-renamed-{suffix}" and shown["tags"] == ["blue"]
    listed = run("port", "list", "--network", net, "-f", "json")
    assert [p["ID"] for p in listed] == [port["id"]]

    run("router", "create", router)
    run("router", "add", "subnet", router, sub)
    interfaces = run("port", "list", "--router", router, "-f", "json")
    assert [p["Fixed IP Addresses"][0]["ip_address"] for p in interfaces] == ["10.160.0.1"]
    run("router", "remove", "subnet", router, sub)
    run("router", "delete", router)

    agents = run("network", "agent", "list", "-f", "json")
    assert isinstance(agents, list)
    extensions = run("extension", "list", "--network", "-f", "json")
    assert "binding" in {e["Alias"] for e in extensions}

    run("port", "delete", port["id"])
    run("security", "group", "delete", group)
    run("subnet", "delete", sub)
    run("network", "delete", net)
    remaining = run("network", "list", "--name", net, "-f", "json")
    assert remaining == []
