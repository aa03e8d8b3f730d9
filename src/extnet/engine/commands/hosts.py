"""Host commands: add, update, remove, maintenance (deactivate) and activate.

Until the host agent exists a host's status is what these commands record: a new host is up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.api.faults import BadRequest
from extnet.engine.api.resources.base import Entity, resolve
from extnet.engine.commands.base import Command, Violation
from extnet.engine.domain.rules import name_problem
from extnet.engine.store.models import Cluster, Host, Vm

DEFAULT_PORT = 54321
ADDRESS_MAX = 255
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9.:\-\[\]_%]+$")


def address_problem(address: Any) -> str | None:
    if not address:
        return "The host address is required"
    if len(address) > ADDRESS_MAX or not _ADDRESS_RE.match(address):
        return f"The host address '{str(address)[:60]}' is not a valid host name or IP address"
    return None


def port_problem(port: int | None) -> str | None:
    if port is not None and not 1 <= port <= 65535:
        return f"The host port {port} is out of range; it must be between 1 and 65535"
    return None


def running_vms(session: Session, host_id: str) -> list[Vm]:
    return list(session.scalars(select(Vm).where(Vm.host_id == host_id).order_by(Vm.name)))


def pick_host(session: Session, cluster_id: str, exclude: set[str] | None = None) -> Host | None:
    """The up host of the cluster that runs the fewest VMs (then by name)."""
    load = select(func.count(Vm.id)).where(Vm.host_id == Host.id).scalar_subquery()
    stmt = select(Host).where(Host.cluster_id == cluster_id, Host.status == "up")
    if exclude:
        stmt = stmt.where(Host.id.not_in(exclude))
    return session.scalars(stmt.order_by(load, Host.name).limit(1)).first()


def _resolve_cluster(session: Session, reference: Entity | None) -> tuple[Cluster | None, Violation | None]:
    try:
        return resolve(session, Cluster, reference, "cluster"), None
    except BadRequest as err:
        return None, Violation(err.detail, 400)


class _HostCommand(Command[Host]):
    noun = "Host"

    def __init__(self, session: Session, body: Entity, host: Host | None = None) -> None:
        super().__init__(session)
        self.body = body
        self.host = host
        self.cluster: Cluster | None = None

    def _others(self) -> Any:
        return select(Host).where(Host.id != self.host.id) if self.host else select(Host)

    def name_violations(self) -> Iterable[Violation]:
        name = self.body.get("name")
        problem = name_problem(name, "host")
        if problem:
            yield Violation(problem, 400)
        elif self.session.scalars(self._others().where(Host.name == name)).first():
            yield Violation(f"The host name '{name}' is already in use")

    def address_violations(self, address: str, port: int) -> Iterable[Violation]:
        problem = address_problem(address) or port_problem(port)
        if problem:
            yield Violation(problem, 400)
            return
        other = self.session.scalars(self._others().where(Host.address == address, Host.port == port)).first()
        if other is not None:
            yield Violation(f"Host '{other.name}' already uses the address {address}:{port}")

    def integrity_message(self, error: IntegrityError) -> str:
        if "address" in str(error.orig):
            return f"Another host already uses the address {self.body.get('address')}."
        return f"The host name '{self.body.get('name')}' is already in use."


class AddHost(_HostCommand):
    verb = "add"

    def validate(self) -> Iterable[Violation]:
        yield from self.name_violations()
        yield from self.address_violations(self.body.get("address", ""), self.body.get("port", DEFAULT_PORT))
        if not self.body.get("cluster"):
            yield Violation("A host needs a cluster: give the cluster's id or name", 400)
            return
        self.cluster, violation = _resolve_cluster(self.session, self.body.get("cluster"))
        if violation:
            yield violation

    def execute(self) -> Host:
        assert self.cluster is not None
        host = Host(name=self.body["name"], description=self.body.get("description"),
                    comment=self.body.get("comment"), address=self.body["address"],
                    port=self.body.get("port", DEFAULT_PORT), cluster_id=self.cluster.id, status="up")  # fmt: skip
        self.session.add(host)
        return host


class UpdateHost(_HostCommand):
    verb = "edit"

    def validate(self) -> Iterable[Violation]:
        host = self.host
        assert host is not None
        if "name" in self.body and self.body["name"] != host.name:
            yield from self.name_violations()
        address, port = self.body.get("address", host.address), self.body.get("port", host.port)
        if (address, port) != (host.address, host.port):
            yield from self.address_violations(address, port)
        if self.body.get("cluster"):
            self.cluster, violation = _resolve_cluster(self.session, self.body["cluster"])
            if violation:
                yield violation
            elif self.cluster and self.cluster.id != host.cluster_id and host.status != "maintenance":
                yield Violation(f"Host '{host.name}' must be in maintenance mode to move to another cluster")

    def execute(self) -> Host:
        host = self.host
        assert host is not None
        for field in ("name", "description", "comment", "address", "port"):
            if field in self.body:
                setattr(host, field, self.body[field])
        if self.cluster is not None:
            host.cluster_id = self.cluster.id
        return host


class RemoveHost(Command[None]):
    verb, noun = "remove", "Host"

    def __init__(self, session: Session, host: Host) -> None:
        super().__init__(session)
        self.host = host

    def validate(self) -> Iterable[Violation]:
        if self.host.status != "maintenance":
            yield Violation(f"Host '{self.host.name}' is not in maintenance mode; deactivate it first")
        vms = running_vms(self.session, self.host.id)
        if vms:
            yield Violation(f"VMs are still running on host '{self.host.name}': {', '.join(vm.name for vm in vms)}")

    def execute(self) -> None:
        self.session.execute(delete(Host).where(Host.id == self.host.id))


class DeactivateHost(Command[None]):
    """Maintenance mode: the VMs running on the host move to other up hosts of its cluster."""

    verb, noun = "switch", "Host to Maintenance mode"

    def __init__(self, session: Session, host: Host) -> None:
        super().__init__(session)
        self.host = host
        self.moves: list[tuple[Vm, Host]] = []

    def validate(self) -> Iterable[Violation]:
        if self.host.status == "maintenance":
            yield Violation(f"Host '{self.host.name}' is already in maintenance mode")
            return
        stuck = []
        for vm in running_vms(self.session, self.host.id):
            target = pick_host(self.session, self.host.cluster_id, exclude={self.host.id})
            if target is None:
                stuck.append(vm.name)
            else:
                self.moves.append((vm, target))
        if stuck:
            yield Violation(
                f"VMs {', '.join(stuck)} run on host '{self.host.name}' and no other host of its cluster is up "
                "to take them; stop them first"
            )

    def execute(self) -> None:
        for vm, target in self.moves:
            vm.host_id = target.id
        self.host.status = "maintenance"


class ActivateHost(Command[None]):
    verb, noun = "activate", "Host"

    def __init__(self, session: Session, host: Host) -> None:
        super().__init__(session)
        self.host = host

    def validate(self) -> Iterable[Violation]:
        if self.host.status == "up":
            yield Violation(f"Host '{self.host.name}' is already up")

    def execute(self) -> None:
        self.host.status = "up"
