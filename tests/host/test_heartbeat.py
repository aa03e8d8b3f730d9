"""Heartbeats from a real agent to a real built-in provider: the agent is alive there while it runs, dead after it
stops; the ports it plugs go ACTIVE and those it unplugs DOWN; a provider without heartbeats is left alone."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from extnet.common.vif import Vif, VifProvider
from extnet.engine.providers.neutron import port_from
from tests.host.rpc import Rpc
from tests.polling import until
from tests.provider.process import ADMIN_PASSWORD as PROVIDER_PASSWORD
from tests.provider.process import ProviderProcess, run_provider
from tests.servers import run_host_agent, scratch_database

DOWN_TIME_S = 2
DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    env = {"EXTNET_PROVIDER_AGENT_DOWN_TIME": str(DOWN_TIME_S)}
    with (
        scratch_database(os.environ.get("EXTNET_TEST_DATABASE_URL")) as url,
        run_provider(tmp_path_factory.mktemp("provider"), url, env=env) as process,
    ):
        yield process


@pytest.fixture(scope="module")
def admin(provider: ProviderProcess) -> Iterator[Connection]:
    connection = provider.connect()
    yield connection
    connection.close()


def target(provider: ProviderProcess, **overrides: Any) -> dict[str, Any]:
    """The provider as the engine describes it to an agent."""
    return {"id": str(uuid.uuid4()), "name": "builtin", "url": provider.network_url, "requires_authentication": True,
            "authentication_url": provider.auth_url, "username": "admin", "password": PROVIDER_PASSWORD,
            "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default",
            "certificates": [], **overrides}  # fmt: skip


def agent_on(admin: Connection, host: str) -> Any:
    return next(iter(admin.network.agents(host=host)), None)


def beat_state(client: Rpc, provider_id: str) -> str:
    [beat] = [b for b in client.call("Host.ping")["heartbeats"] if b["provider_id"] == provider_id]
    return str(beat["state"])


def test_the_agent_is_alive_while_it_runs_and_dead_after(
    tmp_path: Path, provider: ProviderProcess, admin: Connection
) -> None:
    with run_host_agent(tmp_path / "h", env={"EXTNET_HOST_BRIDGES": "br-int,br-ex",
                                             "EXTNET_HOST_BRIDGE_MAPPINGS": "physnet1:br-ex"}) as agent:  # fmt: skip
        client = Rpc(agent.url).pair(agent.password)
        binding = client.call("Host.getCapabilities")["binding_host_ids"]["open_vswitch"]
        assert agent_on(admin, binding) is None
        builtin = target(provider)
        client.call("Host.setProviders", {"providers": [builtin], "digest": "d1"})
        assert client.call("Host.ping")["providers_digest"] == "d1"
        found = until(lambda: agent_on(admin, binding), "the agent shows up on the provider")
        assert found.is_alive and found.agent_type == "Open vSwitch agent"
        assert found.binary == "neutron-openvswitch-agent"
        assert found.configuration["bridge_mappings"] == {"physnet1": "br-ex"}
        assert found.configuration["tunnel_types"] == ["vxlan", "geneve"]
        until(lambda: beat_state(client, builtin["id"]) == "alive", "the agent reports its heartbeat alive")
        assert PROVIDER_PASSWORD not in agent.log()  # credentials are never logged

        # the agent stops: after the provider's down time, it is dead there
        agent.stop()
        until(lambda: not agent_on(admin, binding).is_alive, "the agent dies on the provider")
        # back, and told its providers again (as the engine's monitor does): alive again
        agent.start()
        assert client.call("Host.ping")["providers_digest"] is None  # providers live in memory only
        client.call("Host.setProviders", {"providers": [builtin], "digest": "d1"})
        until(lambda: agent_on(admin, binding).is_alive, "the agent is alive again")
        # no providers: no more heartbeats
        client.call("Host.setProviders", {"providers": [], "digest": "d0"})
        until(lambda: not agent_on(admin, binding).is_alive, "the agent dies without providers")


def test_ports_follow_what_the_agent_plugs(tmp_path: Path, provider: ProviderProcess, admin: Connection) -> None:
    with run_host_agent(tmp_path / "h", env={"EXTNET_HOST_PLUG_REPORT_WAIT": str(DEADLINE_S)}) as agent:
        client = Rpc(agent.url).pair(agent.password)
        binding = client.call("Host.getCapabilities")["binding_host_ids"]["open_vswitch"]
        builtin = target(provider)
        client.call("Host.setProviders", {"providers": [builtin], "digest": "d"})
        until(lambda: agent_on(admin, binding), "the agent shows up on the provider")

        network = admin.network.create_network(name=f"hb-{uuid.uuid4().hex[:6]}")
        admin.network.create_subnet(network_id=network.id, cidr="10.77.0.0/24", ip_version=4)
        vnic_id = str(uuid.uuid4())
        port = admin.network.create_port(network_id=network.id, binding_host_id=binding, device_id=vnic_id,
                                         device_owner="oVirt")  # fmt: skip
        assert port.binding_vif_type == "ovs" and port.status == "DOWN"
        answer = admin.network.get(f"/ports/{port.id}").json()["port"]  # Neutron's port JSON, as the engine reads it
        parsed = port_from(answer)
        assert parsed is not None
        vif = Vif.from_port(parsed, vnic_id=vnic_id, vnic_name="nic1", network_name=network.name,
                            provider=VifProvider(builtin["id"], "external"), plugin_type="open_vswitch")  # fmt: skip
        assert vif.vif_details.bridge_name == "br-int"

        def status(wanted: str) -> Callable[[], bool]:
            return lambda: bool(admin.network.get_port(port.id).status == wanted)

        vm_id = str(uuid.uuid4())
        answer = client.call("VM.create", {"vm": {"id": vm_id, "name": "vm1", "vifs": [vif.to_json()]}})
        assert status("ACTIVE")(), "a plug answers once the provider took its report: the port is ACTIVE already"
        assert answer["port_status"] == {port.id: "ACTIVE"}  # what the provider answered, handed on
        client.call("VM.hotunplugNic", {"vm_id": vm_id, "vnic_id": vnic_id})
        until(status("DOWN"), "the port goes DOWN once unplugged")
        answer = client.call("VM.hotplugNic", {"vm_id": vm_id, "vif": vif.to_json()})
        assert status("ACTIVE")(), "the port is ACTIVE again when the hot-plug answers"
        assert answer["port_status"] == {port.id: "ACTIVE"}
        client.call("VM.destroy", {"vm_id": vm_id})
        until(status("DOWN"), "the port goes DOWN when its VM is destroyed")
        admin.network.delete_port(port)
        admin.network.delete_network(network)


def test_the_first_beat_reports_what_was_plugged_before_the_provider_was_known(
    tmp_path: Path, provider: ProviderProcess, admin: Connection
) -> None:
    with run_host_agent(tmp_path / "h") as agent:
        client = Rpc(agent.url).pair(agent.password)
        binding = client.call("Host.getCapabilities")["binding_host_ids"]["open_vswitch"]
        builtin = target(provider)
        client.call("Host.setProviders", {"providers": [builtin], "digest": "d"})
        until(lambda: agent_on(admin, binding), "the agent shows up on the provider")
        network = admin.network.create_network(name=f"hb-{uuid.uuid4().hex[:6]}")
        vnic_id = str(uuid.uuid4())
        port = admin.network.create_port(network_id=network.id, binding_host_id=binding, device_id=vnic_id,
                                         device_owner="oVirt")  # fmt: skip
        answer = admin.network.get(f"/ports/{port.id}").json()["port"]
        parsed = port_from(answer)
        assert parsed is not None
        vif = Vif.from_port(parsed, vnic_id=vnic_id, vnic_name="nic1", network_name=network.name,
                            provider=VifProvider(builtin["id"], "external"), plugin_type="open_vswitch")  # fmt: skip
        # plugged while the agent has no providers (as after a restart, before the engine told it again): nothing
        # to report to; the first beat to the provider then reports every plugged port
        client.call("Host.setProviders", {"providers": [], "digest": "none"})
        answer = client.call("VM.create", {"vm": {"id": str(uuid.uuid4()), "name": "vm1", "vifs": [vif.to_json()]}})
        assert answer["port_status"] == {}  # no provider heard of it: the engine asks the provider itself
        assert admin.network.get_port(port.id).status == "DOWN"
        client.call("Host.setProviders", {"providers": [builtin], "digest": "d"})
        until(lambda: admin.network.get_port(port.id).status == "ACTIVE", "the first beat reports the plugged port")
        admin.network.delete_port(port)
        admin.network.delete_network(network)


def test_a_provider_without_heartbeats_and_wrong_credentials(
    tmp_path: Path, provider: ProviderProcess, admin: Connection
) -> None:
    with run_host_agent(tmp_path / "h") as agent:
        client = Rpc(agent.url).pair(agent.password)
        binding = client.call("Host.getCapabilities")["binding_host_ids"]["open_vswitch"]
        # Keystone's port answers 404 to /v2.0/agents/heartbeat: a provider that takes no heartbeats
        no_beats = target(provider, url=provider.identity_url, requires_authentication=False)
        wrong = target(provider, password="not-the-password")
        client.call("Host.setProviders", {"providers": [no_beats, wrong], "digest": "d"})
        until(lambda: beat_state(client, no_beats["id"]) == "not_supported", "the 404 is taken as no heartbeats")
        until(lambda: beat_state(client, wrong["id"]) == "auth_failed", "the wrong credentials are reported")
        [detail] = [b["detail"] for b in client.call("Host.ping")["heartbeats"] if b["provider_id"] == wrong["id"]]
        assert "refused the credentials" in detail
        assert agent_on(admin, binding) is None
        assert "not-the-password" not in agent.log()
