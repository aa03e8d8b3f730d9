"""Device digests in the agent heartbeat: a host lists all its ports only when its digest and the provider's differ
(at start, on a resync), otherwise only what changed; port status still follows plug and unplug."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
from openstack.connection import Connection
from sqlalchemy import select, update

from extnet.host.heartbeat import HeartbeatService, ProviderTarget, device_digest
from extnet.provider.store import tables as t
from extnet.provider.store.db import make_engine
from tests.polling import until
from tests.provider.process import ADMIN_PASSWORD, ProviderProcess
from tests.provider.test_agents import OVS, beat

INTERVAL_S = 0.3
DEADLINE_S = 30.0


def digest(*words: str) -> str:
    return device_digest(set(words), set())


class ProviderDatabase:
    """The provider's own database, to read and wipe what it holds of an agent's devices."""

    def __init__(self, provider: ProviderProcess) -> None:
        self.engine = make_engine(provider.database_url or f"sqlite:///{provider.data_dir / 'provider.sqlite'}")

    def held(self, host: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.agents.c.devices_digest).where(t.agents.c.host == host)).scalar_one()

    def wipe(self, host: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.agents).where(t.agents.c.host == host).values(devices_digest=None))


@pytest.fixture
def database(provider: ProviderProcess) -> Iterator[ProviderDatabase]:
    db = ProviderDatabase(provider)
    yield db
    db.engine.dispose()


@pytest.fixture
def network(admin: Connection) -> Iterator[Any]:
    net = admin.network.create_network(name=f"dd-{uuid.uuid4().hex[:8]}")
    admin.network.create_subnet(network_id=net.id, cidr="10.151.0.0/24", ip_version=4)
    yield net
    for port in admin.network.ports(network_id=net.id):
        admin.network.delete_port(port)
    admin.network.delete_network(net)


def status(admin: Connection, port_id: str) -> str:
    return str(admin.network.get_port(port_id).status)


# --- the provider, over HTTP ---------------------------------------------------------------------------------


def test_the_provider_keeps_the_digest_of_full_reports_and_moves_it_in_step(
    admin: Connection, api: httpx.Client, network: Any, database: ProviderDatabase
) -> None:
    host = f"dd-{uuid.uuid4().hex[:8]}"
    first = beat(api, host, start_flag=True, devices_full=True, devices_digest=digest())
    assert first.status_code == 201 and first.json()["devices_resync"] is False
    assert "devices_digest" not in first.json()["agent"]  # never shown: the agent body is Neutron's
    assert "devices_digest" not in admin.network.get(f"/agents/{first.json()['agent']['id']}").json()["agent"]
    one, two = (admin.network.create_port(network_id=network.id, binding_host_id=host) for _ in range(2))

    full = beat(api, host, devices_full=True, devices_digest=digest(one.id), devices_up=[one.id])
    assert full.json()["devices_resync"] is False and full.json()["device_status_omits_active"] is True
    assert (full.json()["device_status"], full.json()["devices_not_bound"]) == ({}, [])  # one.id ACTIVE: unnamed
    assert database.held(host) == digest(one.id)

    # in step: the changes apply and the provider moves on to the new digest
    step = beat(api, host, devices_since=digest(one.id), devices_digest=digest(one.id, two.id), devices_up=[two.id])
    assert step.json()["devices_resync"] is False and step.json()["device_status"] == {}
    assert database.held(host) == digest(one.id, two.id)
    assert (status(admin, one.id), status(admin, two.id)) == ("ACTIVE", "ACTIVE")
    idle = beat(api, host, devices_since=digest(one.id, two.id), devices_digest=digest(one.id, two.id))
    assert idle.json() | {"agent": None} == {"agent": None, "device_status": {}, "devices_resync": False,
                                             "device_status_omits_active": True, "devices_not_bound": []}

    # out of step (an answer the agent lost, a provider that lost its state): the changes still apply, and the
    # provider holds no digest until the agent reports all again
    stale = beat(api, host, devices_since=digest(one.id), devices_digest=digest(two.id), devices_down=[one.id])
    assert stale.json()["devices_resync"] is True and stale.json()["device_status"] == {one.id: "DOWN"}
    assert database.held(host) is None and status(admin, one.id) == "DOWN"
    again = beat(api, host, devices_since=digest(two.id), devices_digest=digest(two.id))
    assert again.json()["devices_resync"] is True  # nothing held: nothing is in step
    resync = beat(api, host, devices_full=True, devices_digest=digest(two.id), devices_up=[two.id])
    assert resync.json()["devices_resync"] is False and database.held(host) == digest(two.id)

    # an agent without digests reports as before; what the provider holds stays
    old = beat(api, host, devices_down=[two.id])
    assert "devices_resync" not in old.json() and old.json()["device_status"] == {two.id: "DOWN"}
    assert database.held(host) == digest(two.id)


@pytest.mark.parametrize("count", [6, 150])  # a few ports are looked up by id, many by host
def test_a_report_writes_only_the_ports_whose_status_changes(
    admin: Connection, api: httpx.Client, network: Any, count: int
) -> None:
    host = f"dd-{uuid.uuid4().hex[:8]}"
    beat(api, host)
    items = [{"network_id": network.id, "binding:host_id": host, "device_id": f"vm-{i}"} for i in range(count)]
    ports = [port["id"] for port in api.post("/ports", json={"ports": items}).json()["ports"]]
    disabled, *rest = ports
    admin.network.update_port(disabled, is_admin_state_up=False)
    elsewhere = admin.network.create_port(network_id=network.id, binding_host_id="elsewhere").id
    unbound = admin.network.create_port(network_id=network.id).id
    reported = [*ports, elsewhere, unbound, str(uuid.uuid4())]

    def revisions() -> dict[str, int]:
        return {port.id: port.revision_number for port in admin.network.ports(network_id=network.id)}

    first = beat(api, host, devices_up=reported).json()["device_status"]
    assert first == {disabled: "DOWN", **dict.fromkeys(rest, "ACTIVE")}  # only the ports bound to the host
    before = revisions()
    again = beat(api, host, devices_up=reported).json()["device_status"]
    assert again == first and revisions() == before  # nothing changed: nothing written
    healthy = sorted(rest)  # all ACTIVE, in the order the agent sends them: read as one text, no set built
    for order in (healthy, healthy[::-1]):
        assert beat(api, host, devices_up=order).json()["device_status"] == dict.fromkeys(rest, "ACTIVE")
    assert revisions() == before

    down, up = rest[:3], rest[3:]
    both = rest[-1]  # reported up and down: down wins
    answer = beat(api, host, devices_up=[*up, disabled, elsewhere], devices_down=[*down, both]).json()
    assert answer["device_status"] == {disabled: "DOWN", **dict.fromkeys(up, "ACTIVE"),
                                       **dict.fromkeys([*down, both], "DOWN")}  # fmt: skip
    after = revisions()
    assert {port for port in ports if after[port] != before[port]} == {*down, both}
    assert all(after[port] == before[port] + 1 for port in (*down, both))
    assert {port.id for port in admin.network.ports(network_id=network.id, status="DOWN")} == {
        disabled, *down, both, elsewhere, unbound}  # fmt: skip


def test_device_digests_are_validated(api: httpx.Client) -> None:
    host = f"dd-{uuid.uuid4().hex[:8]}"
    for extra in ({"devices_digest": "abc"}, {"devices_digest": "G" * 64}, {"devices_since": 5},
                  {"devices_digest": digest(), "devices_full": "yes"}):  # fmt: skip
        response = beat(api, host, **extra)
        assert response.status_code == 400, response.text
        error = response.json()["NeutronError"]
        assert error["type"] == "HTTPBadRequest" and list(extra)[-1] in error["message"]


# --- a real agent's heartbeats against the provider ------------------------------------------------------------


@dataclass
class Sent:
    """One beat the agent posted, and what the provider answered (None: no answer reached the agent)."""

    report: dict[str, Any]
    answer: dict[str, Any] | None

    @property
    def full(self) -> bool:
        return self.report.get("devices_full") is True

    @property
    def resync(self) -> bool | None:
        return None if self.answer is None else self.answer.get("devices_resync")

    @property
    def ids(self) -> list[str]:
        return [*self.report.get("devices_up", []), *self.report.get("devices_down", [])]


@dataclass
class Host:
    """A host's devices for one provider, the agent beating them, and every beat it posted."""

    provider_id: str
    service: HeartbeatService = field(init=False)
    up: set[str] = field(default_factory=set)
    down: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    lose_answers: int = 0  # the next beats reach the provider, but their answers never reach the agent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def devices(self, provider_id: str) -> tuple[list[str], list[str]]:
        with self.lock:
            return (sorted(self.up), sorted(self.down)) if provider_id == self.provider_id else ([], [])

    def plug(self, *ids: str, wait: float = DEADLINE_S) -> dict[str, str]:
        with self.lock:
            self.up |= set(ids)
            self.down -= set(ids)
        return self.service.changed({self.provider_id: set(ids)}, {}, wait=wait)

    def unplug(self, *ids: str) -> dict[str, str]:
        with self.lock:
            self.down |= set(ids)
            self.up -= set(ids)
        return self.service.changed({}, {self.provider_id: set(ids)}, wait=DEADLINE_S)

    def beats(self) -> list[Sent]:
        with self.lock:
            return list(self.sent)

    def digest(self) -> str:
        with self.lock:
            return device_digest(self.up, self.down)


def recording(service: HeartbeatService, host: Host) -> None:
    """Wrap the agent's ``_send``: note each beat it posts and the answer it gets."""
    send = service._send

    def wrapped(target: ProviderTarget, body: dict[str, Any]) -> tuple[str, str, requests.Response | None]:
        state, detail, response = send(target, body)
        answer = response.json() if response is not None else None
        with host.lock:
            lose = host.lose_answers > 0 and response is not None and bool(body["agent"].get("devices_up"))
            host.lose_answers -= lose
            host.sent.append(Sent(body["agent"], None if lose else answer))
        return ("failing", "answer lost (test)", None) if lose else (state, detail, response)

    service._send = wrapped  # type: ignore[method-assign]


@pytest.fixture
def agent(provider: ProviderProcess) -> Iterator[tuple[Host, str]]:
    name = f"dd-{uuid.uuid4().hex[:8]}"
    report = {"host": name, "agent_type": "Open vSwitch agent", "binary": "neutron-openvswitch-agent",
              "configurations": OVS}  # fmt: skip
    target = ProviderTarget(id=str(uuid.uuid4()), name="builtin", url=provider.network_url,
                            requires_authentication=True, authentication_url=provider.auth_url, username="admin",
                            password=ADMIN_PASSWORD, project_name="admin", user_domain_name="Default",
                            project_domain_name="Default")  # fmt: skip
    host = Host(target.id)
    host.service = HeartbeatService(INTERVAL_S, lambda: dict(report), host.devices, (5.0, 30.0))
    host.up |= {f"elsewhere-{i}" for i in range(40)}  # plugged, of networks this provider does not bind to the host
    recording(host.service, host)
    host.service.start()
    host.service.set_providers([target], None)
    try:
        yield host, name
    finally:
        host.service.stop()


def full_beats_follow_start_or_resync(beats: list[Sent]) -> list[int]:
    """The indexes of the full beats, checked to be the first one or right after one answered with a resync."""
    fulls = [i for i, sent in enumerate(beats) if sent.full]
    for i in fulls:
        assert i == 0 or beats[i - 1].resync is True, (
            f"beat {i} listed every device, unasked: {[(s.full, len(s.ids), s.resync) for s in beats[: i + 1]]}"
        )
    return fulls


def test_an_agent_lists_every_device_only_at_start_and_on_resync(
    admin: Connection, agent: tuple[Host, str], network: Any, database: ProviderDatabase
) -> None:
    host, name = agent
    until(lambda: host.beats() and host.beats()[0].answer, "the agent's first beat is taken")
    first = host.beats()[0]
    assert first.full and first.report["start_flag"] is True and len(first.ids) == 40
    ports = [admin.network.create_port(network_id=network.id, binding_host_id=name).id for _ in range(4)]

    # plugs and unplugs: the port status follows, each beat carrying only what changed
    assert host.plug(*ports[:3]) == dict.fromkeys(ports[:3], "ACTIVE")
    assert [status(admin, p) for p in ports] == ["ACTIVE", "ACTIVE", "ACTIVE", "DOWN"]
    assert host.unplug(ports[0]) == {}  # the answer to a plug is the status of the plugged ports only
    until(lambda: status(admin, ports[0]) == "DOWN", "the unplugged port goes DOWN")
    settled = len(host.beats())
    until(lambda: len(host.beats()) >= settled + 5, "five more beats")
    beats = host.beats()
    assert full_beats_follow_start_or_resync(beats) == [0]
    incremental = [sent for sent in beats[1:] if sent.ids]
    assert {i for sent in incremental for i in sent.ids} == set(ports[:3])  # never the 40 unchanged devices
    assert sum(len(sent.ids) for sent in incremental) <= 2 * 4  # a change goes at most twice (a racing beat)
    assert all(not sent.ids and sent.report["devices_since"] == host.digest() for sent in beats[settled:])
    until(lambda: database.held(name) == host.digest(), "the provider holds the agent's digest")

    # a provider that lost what it held: a resync, and the full list on the very next beat
    wiped = len(host.beats())
    database.wipe(name)
    until(lambda: any(sent.resync for sent in host.beats()[wiped:]), "a resync answer")
    beats = host.beats()
    asked = next(i for i in range(wiped, len(beats)) if beats[i].resync)
    assert asked <= wiped + 1, "the first beat after the wipe (or one under way meanwhile) is answered with a resync"
    until(lambda: len(host.beats()) > asked + 1, "the beat after the resync")
    after = host.beats()[asked + 1]
    assert after.full and len(after.ids) == 40 + 3 and after.resync is False
    assert after.answer is not None and after.answer["device_status_omits_active"] is True  # a few bytes, not 43
    assert after.answer["device_status"] == {ports[0]: "DOWN"} and len(after.answer["devices_not_bound"]) == 40
    until(lambda: database.held(name) == host.digest(), "the provider holds the agent's digest again")

    # an answer lost on the way: the provider took the change, the agent repeats it from its old digest, is out of
    # step, and resyncs
    settled = len(host.beats())
    with host.lock:
        host.lose_answers = 1
    host.plug(ports[3], wait=0)
    until(lambda: status(admin, ports[3]) == "ACTIVE", "the provider took the plug whose answer was lost")
    until(lambda: database.held(name) == host.digest() and host.beats()[-1].resync is False
          and not host.beats()[-1].ids, "the agent is in step again")  # fmt: skip
    beats = host.beats()
    lost = next(i for i in range(settled, len(beats)) if beats[i].answer is None)
    assert beats[lost].ids == [ports[3]] and beats[lost + 1].ids == [ports[3]] and beats[lost + 1].resync is True
    assert [i for i in full_beats_follow_start_or_resync(beats) if i >= settled] == [lost + 2]

    # the provider itself sets a port's status behind the agent's back (bound elsewhere, then back): the agent is
    # asked to report all again, and the port is ACTIVE again
    admin.network.update_port(ports[1], binding_host_id=f"{name}-other")
    admin.network.update_port(ports[1], binding_host_id=name)
    until(lambda: status(admin, ports[1]) == "ACTIVE", "the port rebound to the host is ACTIVE again")
    full_beats_follow_start_or_resync(host.beats())
