"""vNIC commands: add, update, remove, plug (activate) and unplug (deactivate).

oVirt calls a vNIC an "Interface" in its faults ("Cannot add Interface. ...").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.commands import macs
from extnet.engine.commands.base import Command, Violation
from extnet.engine.commands.inputs import Entity, Ref, reference, wire
from extnet.engine.domain import mac
from extnet.engine.domain.rules import name_problem
from extnet.engine.errors import BadRequest
from extnet.engine.store.models import Cluster, Network, NetworkCluster, Vm, VmNic, VnicProfile
from extnet.engine.store.queries import resolve

NIC_STATE = ("id", "name", "description", "comment", "interface", "mac_address", "vnic_profile_id", "linked",
             "plugged")  # fmt: skip


def nic_state(nic: VmNic) -> dict[str, Any]:
    """What a snapshot remembers of a vNIC."""
    return {field: getattr(nic, field) for field in NIC_STATE}


def mac_address(value: Entity) -> str | None:
    """The address of a ``<mac>``."""
    address: str | None = value.get("address")
    return address


@dataclass(frozen=True)
class NicInput:
    name: str | None = wire()
    description: str | None = wire()
    comment: str | None = wire()
    interface: str | None = wire()
    linked: bool | None = wire()
    plugged: bool | None = wire()
    mac: str | None = wire(convert=mac_address)
    vnic_profile: Ref | None = wire(convert=Ref.always)  # an empty <vnic_profile/> takes the vNIC's profile away
    network: Ref | None = wire(convert=Ref.of)  # refused: a vNIC is connected through its profile


_NICS_OF = select(VmNic).where(VmNic.vm_id == bindparam("vm_id")).order_by(VmNic.name)  # built once: see store.db.fetch


def nics_of(session: Session, vm_id: str) -> list[VmNic]:
    return list(session.scalars(_NICS_OF, {"vm_id": vm_id}))


def profile_problem(session: Session, profile: VnicProfile, cluster: Cluster, vm_name: str) -> str | None:
    """Why a vNIC of VM ``vm_name`` in ``cluster`` cannot use ``profile``, or None."""
    network = session.get(Network, profile.network_id)
    if network is None:
        return f"vNIC profile '{profile.name}' has no network"
    if network.data_center_id != cluster.data_center_id:
        return (
            f"vNIC profile '{profile.name}' belongs to network '{network.name}' of another data center than "
            f"VM '{vm_name}'"
        )
    if session.get(NetworkCluster, (network.id, cluster.id)) is None:
        return (
            f"Network '{network.name}' of vNIC profile '{profile.name}' is not attached to cluster "
            f"'{cluster.name}' of VM '{vm_name}'"
        )
    if not network.vm_network:
        return f"Network '{network.name}' of vNIC profile '{profile.name}' is not a VM network"
    return None


class _NicCommand(Command[VmNic]):
    noun = "Interface"

    def __init__(self, session: Session, vm: Vm, given: NicInput, nic: VmNic | None = None) -> None:
        super().__init__(session)
        self.vm = vm
        self.given = given
        self.nic = nic
        self.profile: VnicProfile | None = None
        self.mac: str | None = None

    def name_violations(self) -> Iterable[Violation]:
        name = self.given.name
        problem = name_problem(name, "vNIC")
        if problem:
            yield Violation(problem, 400)
            return
        stmt = select(VmNic.id).where(VmNic.vm_id == self.vm.id, VmNic.name == name)
        if self.nic is not None:
            stmt = stmt.where(VmNic.id != self.nic.id)
        if self.session.scalar(stmt.limit(1)):
            yield Violation(f"vNIC name '{name}' is already used by VM '{self.vm.name}'")

    def mac_violations(self) -> Iterable[Violation]:
        text = self.given.mac
        problem = mac.mac_problem(text)
        if problem:
            yield Violation(problem, 400)
            return
        self.mac = mac.normalize(str(text))
        holder = macs.holder(self.session, self.mac, self.nic.id if self.nic else None)
        if holder is not None:
            yield Violation(f"MAC address {self.mac} is already in use by vNIC '{holder[1]}' of VM '{holder[0]}'")

    def profile_violations(self) -> Iterable[Violation]:
        cluster = self.session.get(Cluster, self.vm.cluster_id)
        assert cluster is not None

        def in_data_center(stmt: Select[Any]) -> Select[Any]:  # a name is looked up among the VM's networks
            return stmt.join(Network, Network.id == VnicProfile.network_id).where(
                Network.data_center_id == cluster.data_center_id
            )

        try:
            self.profile = resolve(
                self.session, VnicProfile, reference(self.given.vnic_profile), "vNIC profile", in_data_center
            )
        except BadRequest as err:
            yield Violation(err.detail, 400)
            return
        if self.profile is not None:
            problem = profile_problem(self.session, self.profile, cluster, self.vm.name)
            if problem:
                yield Violation(problem)

    def network_violations(self) -> Iterable[Violation]:
        if self.given.network is not None:
            yield Violation("A vNIC is connected through its vnic_profile; setting its network is not supported", 400)

    def integrity_message(self, error: IntegrityError) -> str:
        if macs.is_mac_conflict(error):
            return f"MAC address {self.mac} is already in use."
        return f"vNIC name '{self.given.name}' is already used by VM '{self.vm.name}'."


class AddNic(_NicCommand):
    verb = "add"

    def validate(self) -> Iterable[Violation]:
        yield from self.name_violations()
        if self.given.mac is not None:
            yield from self.mac_violations()
        if self.given.vnic_profile is not None:
            yield from self.profile_violations()
        yield from self.network_violations()

    def execute(self) -> VmNic:
        given = self.given
        nic = VmNic(vm_id=self.vm.id, name=given.name, description=given.description, comment=given.comment,
                    interface="virtio" if given.interface is None else given.interface,
                    vnic_profile_id=self.profile.id if self.profile else None,
                    linked=True if given.linked is None else given.linked,
                    plugged=True if given.plugged is None else given.plugged)  # fmt: skip
        if self.mac is not None:
            nic.mac_address = self.mac
            self.session.add(nic)
        else:
            cluster = self.session.get(Cluster, self.vm.cluster_id)
            assert cluster is not None
            macs.insert_nic(self.session, nic, macs.pool_of_cluster(self.session, cluster))
        return nic


class UpdateNic(_NicCommand):
    verb = "edit"

    def validate(self) -> Iterable[Violation]:
        nic = self.nic
        assert nic is not None
        if self.given.name is not None and self.given.name != nic.name:
            yield from self.name_violations()
        address = self.given.mac
        if address is not None and address.lower() != nic.mac_address:
            yield from self.mac_violations()
        if self.given.vnic_profile is not None:
            yield from self.profile_violations()
        yield from self.network_violations()
        yield from self.hot_violations(nic)

    def hot_violations(self, nic: VmNic) -> Iterable[Violation]:
        """A plugged vNIC of a running VM keeps its device identity: MAC and interface type."""
        if self.vm.status == "down" or not nic.plugged or self.given.plugged is False:
            return
        if self.mac is not None:
            yield Violation(
                f"vNIC '{nic.name}' is plugged into running VM '{self.vm.name}'; unplug it to change its MAC address"
            )
        if self.given.interface not in (None, nic.interface):
            yield Violation(
                f"vNIC '{nic.name}' is plugged into running VM '{self.vm.name}'; unplug it to change its interface type"
            )

    def execute(self) -> VmNic:
        nic = self.nic
        assert nic is not None
        for field in ("name", "description", "comment", "interface", "linked", "plugged"):
            value = getattr(self.given, field)
            if value is not None:
                setattr(nic, field, value)
        if self.mac is not None:
            nic.mac_address = self.mac
        if self.given.vnic_profile is not None:
            nic.vnic_profile_id = self.profile.id if self.profile else None
        return nic


class RemoveNic(Command[None]):
    verb, noun = "remove", "Interface"

    def __init__(self, session: Session, vm: Vm, nic: VmNic) -> None:
        super().__init__(session)
        self.vm = vm
        self.nic = nic

    def validate(self) -> Iterable[Violation]:
        if self.vm.status != "down" and self.nic.plugged:
            yield Violation(
                f"vNIC '{self.nic.name}' is plugged into running VM '{self.vm.name}'; deactivate it before removing it"
            )

    def execute(self) -> None:
        self.session.delete(self.nic)


class PlugNic(Command[VmNic]):
    """``activate`` (plug) and ``deactivate`` (unplug)."""

    noun = "Interface"

    def __init__(self, session: Session, vm: Vm, nic: VmNic, plugged: bool) -> None:
        super().__init__(session)
        self.vm = vm
        self.nic = nic
        self.plugged = plugged
        self.verb = "activate" if plugged else "deactivate"

    def validate(self) -> Iterable[Violation]:
        return ()  # plugging a plugged vNIC (or unplugging an unplugged one) changes nothing and is fine

    def execute(self) -> VmNic:
        self.nic.plugged = self.plugged
        return self.nic
