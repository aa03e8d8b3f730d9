"""Host commands: add, update, remove, maintenance (deactivate), activate and pairing (install).

A host is added already paired with its agent (``engine.operations.pairing`` talks to the agent before and outside the
transaction that runs these commands); from then on its status follows its agent (``engine.operations.host_monitor``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands.base import Command, Violation, run
from extnet.engine.commands.inputs import Ref, reference, wire
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.hosts.readiness import Readiness
from extnet.engine.store.models import Cluster, Host, HostProviderAccount, Vm, new_id
from extnet.engine.store.queries import resolve

DEFAULT_PORT = 54321
ADDRESS_MAX = 255
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9.:\-\[\]_%]+$")


@dataclass(frozen=True)
class HostInput:
    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    address: str | None = wire()
    port: int | None = wire()
    cluster: Ref | None = wire(convert=Ref.of)
    root_password: str | None = wire()  # the pairing password of the host's agent

    def port_or_default(self) -> int:
        return DEFAULT_PORT if self.port is None else self.port


@dataclass(frozen=True)
class InstallInput:
    """The ``install`` action: pairing the host with its agent again, with the agent's pairing password."""

    root_password: str | None = wire()


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


@dataclasses.dataclass(frozen=True)
class AgentPairing:
    """What pairing with a host's agent established: the secret (already encrypted) and what the agent reported."""

    secret_encrypted: str = dataclasses.field(repr=False)
    unique_id: str
    capabilities: dict[str, Any]
    readiness: Readiness = Readiness()  # whether the providers took the agent's first heartbeats
    certificate_sha256: str = ""  # the agent's certificate as pairing found it: pinned
    host_id: str = ""  # the id a new host gets (its accounts on the providers are named by it)
    accounts: tuple[HostProviderAccount, ...] = ()  # the host's accounts made on its providers while pairing


class _Check(Command[None]):
    """Runs only the rules of another command (before the remote calls that come ahead of its execution)."""

    def __init__(self, command: Command[Any]) -> None:
        super().__init__(command.session)
        self.command = command
        self.verb, self.noun = command.verb, command.noun

    def validate(self) -> Iterable[Violation]:
        return self.command.validate()

    def execute(self) -> None:
        return None


def check(command: Command[Any]) -> None:
    """Raise the command's fault if any of its rules is broken; change nothing."""
    run(_Check(command))


def agent_violations(session: Session, name: str, unique_id: str, host_id: str | None = None) -> Iterable[Violation]:
    stmt = select(Host).where(Host.agent_unique_id == unique_id)
    if host_id is not None:
        stmt = stmt.where(Host.id != host_id)
    other = session.scalars(stmt).first()
    if other is not None:
        yield Violation(f"The agent of host '{name}' is already the agent of host '{other.name}' (unique id "
                        f"{unique_id}): one agent serves one host")  # fmt: skip


def _resolve_cluster(session: Session, cluster: Ref | None) -> tuple[Cluster | None, Violation | None]:
    try:
        return resolve(session, Cluster, reference(cluster), "cluster"), None
    except BadRequest as err:
        return None, Violation(err.detail, 400)


class _HostCommand(Command[Host]):
    noun = "Host"

    def __init__(self, session: Session, given: HostInput, host: Host | None = None) -> None:
        super().__init__(session)
        self.given = given
        self.host = host
        self.cluster: Cluster | None = None

    def _others(self) -> Any:
        return select(Host).where(Host.id != self.host.id) if self.host else select(Host)

    def name_violations(self) -> Iterable[Violation]:
        name = self.given.name
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
            return f"Another host already uses the address {self.given.address}."
        return f"The host name '{self.given.name}' is already in use."


class AddHost(_HostCommand):
    """Adds a host paired with its agent (``agent``; without it, the command only validates: see ``check``)."""

    verb = "add"

    def __init__(self, session: Session, given: HostInput, agent: AgentPairing | None = None) -> None:
        super().__init__(session, given)
        self.agent = agent

    def validate(self) -> Iterable[Violation]:
        given = self.given
        yield from self.name_violations()
        yield from self.address_violations(given.address or "", given.port_or_default())
        if not given.cluster:
            yield Violation("A host needs a cluster: give the cluster's id or name", 400)
        else:
            self.cluster, violation = _resolve_cluster(self.session, given.cluster)
            if violation:
                yield violation
        if not given.root_password:
            yield Violation(f"Host '{given.name}' needs a root_password: the pairing password of its "
                            "host agent (printed at the agent's first start, or EXTNET_HOST_PAIRING_PASSWORD on "
                            "the host)", 400)  # fmt: skip
        if self.agent is not None:
            yield from agent_violations(self.session, str(given.name), self.agent.unique_id)

    def execute(self) -> Host:
        assert self.cluster is not None and self.agent is not None
        status, detail = self.agent.readiness.status("installing")
        given = self.given
        host = Host(id=self.agent.host_id or new_id(), name=given.name, description=given.description,
                    comment=given.comment, address=given.address,
                    port=given.port_or_default(), cluster_id=self.cluster.id, status=status,
                    status_detail=detail, agent_secret_encrypted=self.agent.secret_encrypted,
                    agent_unique_id=self.agent.unique_id, agent_capabilities=self.agent.capabilities,
                    agent_certificate_sha256=self.agent.certificate_sha256)  # fmt: skip
        self.session.add(host)
        self.session.flush()  # the host first: its accounts refer to it
        for account in self.agent.accounts:
            self.session.merge(account)
        return host

    def integrity_message(self, error: IntegrityError) -> str:
        if "agent_unique_id" in str(error.orig):
            return f"The agent of host '{self.given.name}' is already the agent of another host."
        return super().integrity_message(error)


class PairHost(Command[None]):
    """Records a new pairing of an existing host with its agent (oVirt's reinstall): the host is up (initializing
    while its providers have not taken the first heartbeats) unless it is in maintenance."""

    verb, noun = "install", "Host"

    def __init__(self, session: Session, host: Host, agent: AgentPairing | None = None) -> None:
        super().__init__(session)
        self.host = host
        self.agent = agent

    def validate(self) -> Iterable[Violation]:
        if self.agent is not None:
            yield from agent_violations(self.session, self.host.name, self.agent.unique_id, self.host.id)

    def execute(self) -> None:
        assert self.agent is not None
        host = self.host
        host.agent_secret_encrypted = self.agent.secret_encrypted
        host.agent_certificate_sha256 = self.agent.certificate_sha256
        host.agent_unique_id = self.agent.unique_id
        host.agent_capabilities = self.agent.capabilities
        if host.status != "maintenance":
            host.status, host.status_detail = self.agent.readiness.status("installing")

    def integrity_message(self, error: IntegrityError) -> str:
        return f"The agent of host '{self.host.name}' is already the agent of another host."


class UpdateHost(_HostCommand):
    verb = "edit"

    def validate(self) -> Iterable[Violation]:
        host = self.host
        assert host is not None
        given = self.given
        if given.name is not None and given.name != host.name:
            yield from self.name_violations()
        address = host.address if given.address is None else given.address
        port = host.port if given.port is None else given.port
        if (address, port) != (host.address, host.port):
            yield from self.address_violations(address, port)
        if given.cluster:
            self.cluster, violation = _resolve_cluster(self.session, given.cluster)
            if violation:
                yield violation
            elif self.cluster and self.cluster.id != host.cluster_id and host.status != "maintenance":
                yield Violation(f"Host '{host.name}' must be in maintenance mode to move to another cluster")

    def execute(self) -> Host:
        host = self.host
        assert host is not None
        given = self.given
        for field, value in (("name", given.name), ("description", given.description), ("comment", given.comment),
                             ("address", given.address), ("port", given.port)):  # fmt: skip
            if value is not None:
                setattr(host, field, value)
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
        self.host.status, self.host.status_detail = "maintenance", None


class ActivateHost(Command[None]):
    """The host leaves maintenance: up when its agent answered (``problem`` None; initializing while ``readiness``
    says providers have not taken its first heartbeats), else non_responsive."""

    verb, noun = "activate", "Host"

    def __init__(self, session: Session, host: Host, problem: str | None = None,
                 readiness: Readiness | None = None) -> None:  # fmt: skip
        super().__init__(session)
        self.host = host
        self.problem = problem
        self.readiness = readiness or Readiness()

    def validate(self) -> Iterable[Violation]:
        if self.host.status == "up":
            yield Violation(f"Host '{self.host.name}' is already up")

    def execute(self) -> None:
        if self.problem is not None:
            self.host.status, self.host.status_detail = "non_responsive", self.problem
        else:
            self.host.status, self.host.status_detail = self.readiness.status(self.host.status)
