"""What the guest reports of a VM's vNICs (``operations/reported.py``): asked of the agent of the host the VM runs
on, the plugged vNICs of the VM only, their addresses parsed; nothing (and no question) when the VM does not run,
nothing when the host does not answer; the engine's own SQLite database, a fake host agent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select

from extnet.engine.errors import NotFound
from extnet.engine.hosts.client import HostAgentError, HostEndpoint
from extnet.engine.operations.reported import GuestAddress, device_id, reported_nic, reported_nics
from extnet.engine.services import EngineServices
from extnet.engine.store.db import Database, migrate
from extnet.engine.store.models import Cluster, Host, Vm, VmNic

pytestmark = pytest.mark.database_agnostic  # see pyproject.toml


@dataclass
class FakeAgent:
    answer: dict[str, Any] | None = None  # None: the host does not answer
    asked: list[tuple[str, str]] = field(default_factory=list)

    def vm_stats(self, host: HostEndpoint, vm_id: str | None = None) -> dict[str, Any]:
        self.asked.append((host.name, vm_id or ""))
        if self.answer is None:
            raise HostAgentError("timeout", "the host does not answer")
        return self.answer


@dataclass
class World:
    database: Database
    agent: FakeAgent
    services: EngineServices
    vm_id: str
    nics: list[str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'engine.sqlite'}"
    migrate(url)
    database = Database(url)
    vm_id, nics = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(3)]
    with database.transaction() as session:
        cluster_id = session.scalar(select(Cluster.id).where(Cluster.name == "Default"))
        host = Host(name="host-1", address="host-1.example.test", cluster_id=cluster_id, status="up")
        session.add(host)
        session.flush()
        session.add(Vm(id=vm_id, name="vm-1", cluster_id=cluster_id, host_id=host.id, status="up"))
        session.flush()
        for i, nic_id in enumerate(nics):
            session.add(VmNic(id=nic_id, vm_id=vm_id, name=f"nic{i}", mac_address=f"56:6f:00:00:00:0{i}"))
    agent = FakeAgent()
    services = cast(EngineServices, SimpleNamespace(host_agents=agent, secrets=None))
    yield World(database, agent, services, vm_id, nics)
    database.dispose()


def vnic(nic_id: str, **values: Any) -> dict[str, Any]:
    return {"vnic_id": nic_id, "vnic_name": "nic", "plugged": True, **values}


def test_the_plugged_vnics_of_the_vm_are_reported_with_their_addresses(world: World) -> None:
    first, second, third = world.nics
    world.agent.answer = {"vm": {"vnics": [
        vnic(first, guest_name="eth0", mac="56:6f:00:00:00:00", addresses=["10.0.0.5/24", "fe80::1/64", "bogus"]),
        vnic(second, plugged=False),
        vnic(str(uuid.uuid4()), guest_name="not a vNIC of this VM"),
        vnic(third, vnic_name="nic2", addresses="not a list"),
    ]}}  # fmt: skip
    found = reported_nics(world.database, world.services, world.vm_id)
    assert world.agent.asked == [("host-1", world.vm_id)]
    assert set(found) == {first, third}
    assert (found[first].name, found[first].mac) == ("eth0", "56:6f:00:00:00:00")
    assert found[first].addresses == (GuestAddress("10.0.0.5", 4, "255.255.255.0"), GuestAddress("fe80::1", 6, None))
    assert (found[third].name, found[third].vnic_name, found[third].addresses) == ("nic2", "nic2", ())
    assert found[first].id == device_id(world.vm_id, first) != device_id(world.vm_id, third) == found[third].id
    assert reported_nic(world.database, world.services, world.vm_id, third) == found[third]
    assert reported_nic(world.database, world.services, world.vm_id, second) is None


def test_a_vm_that_does_not_run_reports_nothing_and_its_host_is_not_asked(world: World) -> None:
    world.agent.answer = {"vm": {"vnics": [vnic(world.nics[0])]}}
    with world.database.transaction() as session:
        vm = session.get(Vm, world.vm_id)
        assert vm is not None
        vm.status = "down"
    assert reported_nics(world.database, world.services, world.vm_id) == {}
    assert world.agent.asked == []


def test_a_host_that_does_not_answer_reports_nothing(world: World) -> None:
    assert reported_nics(world.database, world.services, world.vm_id) == {}
    assert world.agent.asked == [("host-1", world.vm_id)]


def test_an_unknown_vm_or_a_vnic_of_another_vm_is_not_found(world: World) -> None:
    with pytest.raises(NotFound, match="VM"):
        reported_nics(world.database, world.services, str(uuid.uuid4()))
    with pytest.raises(NotFound, match="vNIC"):
        reported_nic(world.database, world.services, str(uuid.uuid4()), world.nics[0])
