"""The ports of vNICs on external networks: what a vNIC's port must look like, finding it, creating or updating it,
the VIF the host gets for it, and waiting for it to become ACTIVE.

A vNIC's port carries ``device_id`` = the vNIC's id, ``device_owner`` = ``oVirt``, the vNIC's name and MAC (always
compared, and updated), ``binding:host_id`` = the binding host id its host reports for the provider's plugin type,
the security groups of the vNIC's profile, and this engine's marker as ``description``. The engine stores the port
id on the vNIC; a port is found by that id, else by a ``device_id`` filter (a port made by an operation that died
before storing it), never by listing all ports. Calls are grouped per provider: one lookup, one (bulk) create; a
first start, whose vNICs have no stored port, skips the lookup unless the create finds a MAC already taken. A
``PortAllocator`` does that for the vNICs of one VM; the provider answers with parsed ports (``ProviderPort``).

No function here holds a transaction while it calls a provider; what must be stored as soon as it exists (a port
just created) is handed to the caller's ``on_created``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from extnet.common.vif import UNBOUND_VIF_TYPES, Vif, VifError, VifProvider
from extnet.engine.commands.security_groups import port_security_groups
from extnet.engine.operations.context import Lifecycle
from extnet.engine.operations.scheduling import Need, plugin_type_of
from extnet.engine.providers.client import ProviderConfig, ProviderError
from extnet.engine.providers.neutron import ProviderPort
from extnet.engine.providers.protocol import NetworkProvider
from extnet.engine.services import EngineServices
from extnet.engine.store.db import fetch
from extnet.engine.store.models import Provider, VmNic
from extnet.engine.store.queries import external_targets

DEVICE_OWNER = "oVirt"
ACTIVE = "ACTIVE"
FAILED_STATUSES = ("ERROR",)
POLL_MIN_S, POLL_MAX_S = 0.005, 0.5  # a heartbeat reports a plug within milliseconds


@dataclass(frozen=True)
class ProviderRef:
    id: str
    name: str
    type: str
    plugin_type: str
    config: ProviderConfig


@dataclass(frozen=True)
class PortPlan:
    """What the port of one vNIC must be."""

    vnic_id: str
    vnic_name: str
    mac: str
    model: str
    plugged: bool
    linked: bool
    network_id: str  # the engine's
    network_name: str
    external_id: str  # the provider's network id
    mtu: int | None
    provider: ProviderRef
    security_groups: tuple[str, ...] | None  # None: the provider's default group (never changed on update)
    port_id: str | None  # the port stored on the vNIC
    port_provider_id: str | None

    @property
    def stored(self) -> str | None:
        """The stored port, if it is on this plan's provider."""
        return self.port_id if self.port_provider_id == self.provider.id else None

    def need(self) -> Need:
        return Need(self.network_name, self.provider.id, self.provider.name, self.provider.plugin_type,
                    self.provider.config)  # fmt: skip


class PortFailure(Exception):
    """A port could not be made ready; the message names the vNIC and the provider."""

    def __init__(self, message: str, provider_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider_id = provider_id


# --- plans ------------------------------------------------------------------------------------------------------


def provider_ref(provider: Provider, services: EngineServices) -> ProviderRef:
    return ProviderRef(provider.id, provider.name, provider.provider_type, plugin_type_of(provider),
                       services.provider_config(provider))  # fmt: skip


def plans_for(session: Session, services: EngineServices, nics: Iterable[VmNic],
              profile_ids: dict[str, str | None] | None = None) -> list[PortPlan]:  # fmt: skip
    """The port plans of those ``nics`` that are on an external network of a managed provider (``profile_ids``:
    another profile than the stored one, by vNIC id, e.g. the one an update is about to set)."""
    plans: list[PortPlan] = []
    providers: dict[str, ProviderRef | None] = {}
    nics = list(nics)
    wanted = {nic.id: (profile_ids or {}).get(nic.id, nic.vnic_profile_id) for nic in nics}
    targets = external_targets(session, {profile_id for profile_id in wanted.values() if profile_id})
    for nic in nics:
        target = targets.get(wanted[nic.id] or "")
        if target is None:
            continue
        profile, network = target
        assert network.external_provider_id is not None and network.external_id is not None
        if network.external_provider_id not in providers:
            provider = fetch(session, Provider, network.external_provider_id)
            managed = provider is not None and not provider.unmanaged and bool(provider.url)
            providers[network.external_provider_id] = provider_ref(provider, services) if managed else None  # type: ignore[arg-type]
        ref = providers[network.external_provider_id]
        if ref is None:
            continue
        groups = port_security_groups(profile)
        plans.append(PortPlan(
            vnic_id=nic.id, vnic_name=nic.name, mac=nic.mac_address.lower(), model=nic.interface or "virtio",
            plugged=nic.plugged, linked=nic.linked, network_id=network.id, network_name=network.name,
            external_id=network.external_id, mtu=network.mtu or None, provider=ref,
            security_groups=tuple(groups) if groups is not None else None, port_id=nic.port_id,
            port_provider_id=nic.port_provider_id,
        ))  # fmt: skip
    return plans


def by_provider(plans: Iterable[PortPlan]) -> dict[str, list[PortPlan]]:
    grouped: dict[str, list[PortPlan]] = {}
    for plan in plans:
        grouped.setdefault(plan.provider.id, []).append(plan)
    return grouped


# --- what a port must look like ---------------------------------------------------------------------------------


def create_body(plan: PortPlan, binding_host: str, marker: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "network_id": plan.external_id, "name": plan.vnic_name, "mac_address": plan.mac,
        "device_id": plan.vnic_id, "device_owner": DEVICE_OWNER, "binding:host_id": binding_host,
        "admin_state_up": True, "description": marker,
    }  # fmt: skip
    if plan.security_groups is not None:
        body["security_groups"] = list(plan.security_groups)
        if not plan.security_groups:  # the seed: an empty SecurityGroups applies no group, so nothing filters
            body["port_security_enabled"] = False
    return body


def updates(plan: PortPlan, port: ProviderPort, binding_host: str) -> list[dict[str, Any]]:
    """The PUT bodies that make ``port`` what ``plan`` wants, in order (none when it already is). A MAC cannot
    change on a bound port (Neutron's PortBound): the port is unbound first, then rebound with the new MAC."""
    wanted: dict[str, Any] = {}
    if port.name != plan.vnic_name:
        wanted["name"] = plan.vnic_name
    if port.device_id != plan.vnic_id or port.device_owner != DEVICE_OWNER:
        wanted.update({"device_id": plan.vnic_id, "device_owner": DEVICE_OWNER})
    if plan.security_groups is not None and set(port.security_groups or ()) != set(plan.security_groups):
        wanted["security_groups"] = list(plan.security_groups)
    reported = port.port_security_enabled
    if plan.security_groups is not None and reported is not None and reported != bool(plan.security_groups):
        wanted.update(port_security_enabled=bool(plan.security_groups), security_groups=list(plan.security_groups))
    if port.host_id != binding_host:
        wanted["binding:host_id"] = binding_host
    if port.mac == plan.mac:
        return [wanted] if wanted else []
    wanted.update({"mac_address": plan.mac, "binding:host_id": binding_host})
    if port.host_id:
        return [{"binding:host_id": ""}, wanted]
    return [wanted]


# --- allocating --------------------------------------------------------------------------------------------------


@dataclass
class Allocation:
    """What an allocation did so far (also when it failed part-way): the port of each vNIC, the ports it created,
    and ports it found that no vNIC will use (duplicates carrying a vNIC's device id)."""

    ports: dict[str, tuple[PortPlan, ProviderPort]] = field(default_factory=dict)
    created: list[tuple[PortPlan, ProviderPort]] = field(default_factory=list)
    discard: list[tuple[PortPlan, ProviderPort]] = field(default_factory=list)


Created = Callable[[list[tuple[PortPlan, ProviderPort]]], None]
Binding = Callable[[PortPlan], str]


@dataclass(frozen=True)
class PortAllocator:
    """Finds, creates or updates the ports of a VM's vNICs, bound for its host: ``binding`` names each plan's binding
    host, ``pending`` the ports queued for deletion per provider (never taken up again), and ``on_created`` stores
    the ports made as soon as they exist."""

    services: EngineServices
    lifecycle: Lifecycle
    binding: Binding
    pending: dict[str, set[str]]
    on_created: Created
    vm_name: str

    def allocate(self, plans: list[PortPlan], into: Allocation) -> Allocation:
        """The port of every plan, in ``into`` (which keeps what was done when this raises PortFailure)."""
        for provider_id, group in by_provider(plans).items():
            self._allocate_on(group, self.pending.get(provider_id, set()), into)
        return into

    def _allocate_on(self, plans: list[PortPlan], pending: set[str], into: Allocation) -> None:
        provider = plans[0].provider
        client: NetworkProvider = self.services.providers.get(provider.config)
        label = _label(plans, self.vm_name)
        try:
            # A vNIC without a stored port has no port, unless an operation died after the provider made it and
            # before it was stored: then its MAC is taken on the network (a conflict) and the lookup finds it.
            looked = any(plan.stored for plan in plans)
            found = _find(client, plans, pending, label, into) if looked else {}
            try:
                self._create_missing(client, plans, found, into)
            except ProviderError as err:
                if looked or err.kind != "conflict":
                    raise
                found = _find(client, plans, pending, label, into)
                self._create_missing(client, plans, found, into)
            by_id = {plan.vnic_id: plan for plan in plans}
            for vnic_id, port in found.items():
                plan = by_id[vnic_id]
                into.ports[vnic_id] = (plan, self._update(client, plan, port))
        except ProviderError as err:
            raise PortFailure(err.message, provider.id) from None
        for plan in plans:
            _check_bound(plan, into.ports[plan.vnic_id][1], self.binding(plan), self.vm_name)

    def _create_missing(self, client: NetworkProvider, plans: list[PortPlan], found: dict[str, ProviderPort],
                        into: Allocation) -> None:  # fmt: skip
        """Create, in one request, the ports of the plans not ``found``."""
        missing = [plan for plan in plans if plan.vnic_id not in found]
        if not missing:
            return
        bodies = [create_body(plan, self.binding(plan), self.lifecycle.marker) for plan in missing]
        made = client.create_ports(bodies, f"create the port of {_label(missing, self.vm_name)}")
        pairs = list(zip(missing, made, strict=True))
        into.created.extend(pairs)
        self.on_created(pairs)
        for plan, port in pairs:
            into.ports[plan.vnic_id] = (plan, port)

    def _update(self, client: NetworkProvider, plan: PortPlan, port: ProviderPort) -> ProviderPort:
        for body in updates(plan, port, self.binding(plan)):
            port = client.update_port(port.id, body, f"update the port of {_one(plan, self.vm_name)}")
        return port


def _find(client: NetworkProvider, plans: list[PortPlan], pending: set[str], label: str,
          into: Allocation) -> dict[str, ProviderPort]:  # fmt: skip
    """The existing port of each plan that has one: its stored port, else a port with its device id on its network.

    One ``?device_id=`` lookup for all the plans finds both (a port carries its vNIC's id); only a stored port whose
    device id a user changed needs a second lookup, by id."""
    by_vnic = {plan.vnic_id: plan for plan in plans}
    listed = client.find_ports(f"find the ports of {label}", {"device_id": list(by_vnic), "device_owner": DEVICE_OWNER})
    candidates = [port for port in listed if port.id not in pending]
    stored = {plan.stored: plan for plan in plans if plan.stored and plan.stored not in pending}
    unseen = [port_id for port_id in stored if all(port.id != port_id for port in candidates)]
    if unseen:
        candidates += client.find_ports(f"find the ports of {label}", {"id": unseen})
    found: dict[str, ProviderPort] = {}
    for port in candidates:  # the stored ports first, then the others by device id
        plan = stored.get(port.id)
        if plan is not None and port.network_id == plan.external_id:
            found[plan.vnic_id] = port
    for port in candidates:
        plan = by_vnic.get(port.device_id or "")
        if plan is None or port.network_id != plan.external_id or found.get(plan.vnic_id) is port:
            continue
        if plan.vnic_id in found:
            into.discard.append((plan, port))
        else:
            found[plan.vnic_id] = port
    return found


def _check_bound(plan: PortPlan, port: ProviderPort, binding_host: str, vm_name: str) -> None:
    if port.vif_type in UNBOUND_VIF_TYPES:
        raise PortFailure(f"Provider '{plan.provider.name}' could not bind the port {port.id} of "
                          f"{_one(plan, vm_name)} to binding host '{binding_host}' (binding:vif_type "
                          f"{port.vif_type}): it has no alive agent there that reaches network "
                          f"'{plan.network_name}'", plan.provider.id)  # fmt: skip


def _one(plan: PortPlan, vm_name: str) -> str:
    return f"vNIC '{plan.vnic_name}' of VM '{vm_name}'"


def _label(plans: list[PortPlan], vm_name: str) -> str:
    names = ", ".join(f"'{plan.vnic_name}'" for plan in plans)
    return f"vNIC{'s' if len(plans) > 1 else ''} {names} of VM '{vm_name}'"


# --- the host's view -------------------------------------------------------------------------------------------


def vif_of(plan: PortPlan, port: ProviderPort, vm_name: str) -> Vif:
    try:
        return Vif.from_port(
            port, vnic_id=plan.vnic_id, vnic_name=plan.vnic_name, network_name=plan.network_name,
            provider=VifProvider(plan.provider.id, plan.provider.type), plugin_type=plan.provider.plugin_type,
            mtu=plan.mtu, plugged=plan.plugged, linked=plan.linked, model=plan.model,
        )  # fmt: skip
    except VifError as err:
        raise PortFailure(f"The port {port.id} of {_one(plan, vm_name)} on provider '{plan.provider.name}' cannot be "
                          f"handed to the host: {err}", plan.provider.id) from None  # fmt: skip


def reports_status(lifecycle: Lifecycle, reporting: frozenset[str], provider_id: str) -> bool:
    """Whether to wait for the ports of ``provider_id`` to become ACTIVE on a host.

    ``auto`` (the default): when the provider listed an alive agent on the host (``reporting``, found while
    choosing the host): that agent tells the provider what the host plugged (an Open vSwitch agent or OVN
    controller with a data-plane runtime; extnet's host agent itself, in its heartbeat, whatever its runtime, even
    ``noop``). A provider that lists no agents (or none there) would never hear of the plug: waiting would only time
    out, so the engine does not wait. ``always`` and ``never`` override."""
    if lifecycle.active_wait != "auto":
        return lifecycle.active_wait == "always"
    return provider_id in reporting


def wait_active(services: EngineServices, ports: list[tuple[PortPlan, ProviderPort]], timeout: float, vm_name: str,
                host_name: str) -> None:  # fmt: skip
    """Wait (with a deadline) until every port is ACTIVE, as Nova waits for network-vif-plugged. A port whose
    provider reports no status, or that is administratively down, is not waited for. Raises PortFailure."""
    deadline = time.monotonic() + timeout
    for group in by_provider(plan for plan, _port in ports).values():
        provider = group[0].provider
        waiting = {port.id: plan for plan, port in ports if plan.provider.id == provider.id}
        _wait_on(services, provider, waiting, deadline, timeout, vm_name, host_name)


def _wait_on(services: EngineServices, provider: ProviderRef, waiting: dict[str, PortPlan], deadline: float,
             timeout: float, vm_name: str, host_name: str) -> None:  # fmt: skip
    client: NetworkProvider = services.providers.get(provider.config)
    delay = POLL_MIN_S
    while waiting:
        try:
            plural = "s" if len(waiting) > 1 else ""
            what = f"read the status of the port{plural} of {_label(list(waiting.values()), vm_name)}"
            answered = client.find_ports(what, {"id": list(waiting)}, ("id", "status", "admin_state_up"))
        except ProviderError as err:
            raise PortFailure(err.message, provider.id) from None
        for port in answered:
            plan = waiting.get(port.id)
            if plan is None:
                continue
            if port.status in FAILED_STATUSES:
                raise PortFailure(f"The port {port.id} of {_one(plan, vm_name)} is in status {port.status} on "
                                  f"provider '{provider.name}'", provider.id)  # fmt: skip
            if port.status is None or port.status == ACTIVE or port.admin_state_up is False:
                del waiting[port.id]
        if not waiting:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(f"'{plan.vnic_name}'" for plan in waiting.values())
            raise PortFailure(f"The port{'s' if len(waiting) > 1 else ''} of vNIC{'s' if len(waiting) > 1 else ''} "
                              f"{names} of VM '{vm_name}' did not become ACTIVE on provider '{provider.name}' within "
                              f"{timeout:g} s of being plugged on host '{host_name}'; check the host's data plane "
                              "and its agent on the provider", provider.id)  # fmt: skip
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
        delay = min(delay * 1.5, POLL_MAX_S)
