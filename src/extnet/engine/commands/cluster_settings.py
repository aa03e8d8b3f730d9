"""The settings a cluster carries beyond its identity and networks, as oVirt's Cluster type has them: memory
over-commit, KSM, scheduling policy and its properties, resilience (error handling), migration options, fencing
policy, required RNG sources, serial number policy, SPICE proxy and the reason flags.

``ClusterSettings`` works out what a request asks for (``ClusterSettingsInput``) on top of a cluster's current
values (a new cluster starts from oVirt's defaults, which are the column defaults), lists what breaks a rule, and
writes the columns.

The nested settings of the input (``Ksm``, ``MemoryPolicy``, ...) name their fields by the cluster columns they set;
the comments say where a request body gives them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from extnet.engine.commands.base import Violation
from extnet.engine.commands.inputs import Entity, Property, Ref, wire
from extnet.engine.domain.scheduling import MIGRATION_POLICIES, property_problem, scheduling_policy
from extnet.engine.store.models import Cluster

JAVA_INT_MAX = 2**31 - 1  # oVirt keeps these numbers in Java ints (and the columns are 32-bit integers)
TEXT_MAX = 255
ALWAYS_REQUIRED_RNG = "urandom"  # every cluster of version 4.1 or newer requires it, as oVirt renders
_PROXY = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)?[^\s:/@]+(:[0-9]{1,5})?/?$")

# the columns a request sets as given (in the nested settings of the input, named by these columns)
COLUMNS = (
    "ksm_enabled", "ksm_merge_across_nodes", "memory_over_commit", "transparent_hugepages", "on_error",
    "migration_auto_converge", "migration_compressed", "migration_encrypted", "migration_bandwidth",
    "migration_bandwidth_custom", "fencing_enabled", "fencing_skip_if_sd_active",
    "fencing_skip_if_connectivity_broken", "fencing_connectivity_threshold", "fencing_skip_if_gluster_bricks_up",
    "fencing_skip_if_gluster_quorum_not_met", "serial_number_policy", "serial_number_value", "spice_proxy",
    "gluster_tuned_profile",
)  # fmt: skip
DERIVED = ("scheduling_policy_id", "scheduling_properties", "migration_policy_id", "additional_rng_sources")
# text column -> where a request body gives it
TEXTS = {"spice_proxy": "display.proxy", "serial_number_value": "serial_number.value",
         "gluster_tuned_profile": "gluster_tuned_profile"}  # fmt: skip
VM_ONLY_MEMORY = {"guaranteed": "memory_policy.guaranteed", "max": "memory_policy.max",
                  "ballooning": "memory_policy.ballooning (use ballooning_enabled)"}  # fmt: skip


def at(value: Entity, *path: str) -> Any:
    """The value at ``path`` in a nested value of a body (None: not given)."""
    found: Any = value
    for key in path:
        if not isinstance(found, dict):
            return None
        found = found.get(key)
    return found


@dataclass(frozen=True)
class Ksm:
    ksm_enabled: bool | None = None  # ksm.enabled
    ksm_merge_across_nodes: bool | None = None  # ksm.merge_across_nodes

    @classmethod
    def of(cls, value: Entity) -> Ksm:
        return cls(at(value, "enabled"), at(value, "merge_across_nodes"))


@dataclass(frozen=True)
class MemoryPolicy:
    memory_over_commit: int | None = None  # memory_policy.over_commit.percent
    transparent_hugepages: bool | None = None  # memory_policy.transparent_hugepages.enabled
    vm_only: tuple[str, ...] = ()  # the fields of VM_ONLY_MEMORY given (refused)

    @classmethod
    def of(cls, value: Entity) -> MemoryPolicy:
        return cls(at(value, "over_commit", "percent"), at(value, "transparent_hugepages", "enabled"),
                   tuple(key for key in VM_ONLY_MEMORY if key in value))  # fmt: skip


@dataclass(frozen=True)
class ErrorHandling:
    on_error: str | None = None  # error_handling.on_error

    @classmethod
    def of(cls, value: Entity) -> ErrorHandling:
        return cls(at(value, "on_error"))


@dataclass(frozen=True)
class MigrationOptions:
    migration_auto_converge: str | None = None  # migration.auto_converge
    migration_compressed: str | None = None  # migration.compressed
    migration_encrypted: str | None = None  # migration.encrypted
    migration_bandwidth: str | None = None  # migration.bandwidth.assignment_method
    migration_bandwidth_custom: int | None = None  # migration.bandwidth.custom_value
    policy: Ref | None = None  # migration.policy, by id or by name (an empty reference is none)

    @classmethod
    def of(cls, value: Entity) -> MigrationOptions:
        return cls(at(value, "auto_converge"), at(value, "compressed"), at(value, "encrypted"),
                   at(value, "bandwidth", "assignment_method"), at(value, "bandwidth", "custom_value"),
                   Ref.of(at(value, "policy") or {}))  # fmt: skip


@dataclass(frozen=True)
class FencingPolicy:
    fencing_enabled: bool | None = None  # fencing_policy.enabled
    fencing_skip_if_sd_active: bool | None = None  # fencing_policy.skip_if_sd_active.enabled
    fencing_skip_if_connectivity_broken: bool | None = None  # fencing_policy.skip_if_connectivity_broken.enabled
    fencing_connectivity_threshold: int | None = None  # fencing_policy.skip_if_connectivity_broken.threshold
    fencing_skip_if_gluster_bricks_up: bool | None = None  # fencing_policy.skip_if_gluster_bricks_up
    fencing_skip_if_gluster_quorum_not_met: bool | None = None  # fencing_policy.skip_if_gluster_quorum_not_met

    @classmethod
    def of(cls, value: Entity) -> FencingPolicy:
        broken = at(value, "skip_if_connectivity_broken") or {}
        return cls(at(value, "enabled"), at(value, "skip_if_sd_active", "enabled"), at(broken, "enabled"),
                   at(broken, "threshold"), at(value, "skip_if_gluster_bricks_up"),
                   at(value, "skip_if_gluster_quorum_not_met"))  # fmt: skip


@dataclass(frozen=True)
class SerialNumber:
    serial_number_policy: str | None = None  # serial_number.policy
    serial_number_value: str | None = None  # serial_number.value

    @classmethod
    def of(cls, value: Entity) -> SerialNumber:
        return cls(at(value, "policy"), at(value, "value"))


@dataclass(frozen=True)
class Display:
    spice_proxy: str | None = None  # display.proxy

    @classmethod
    def of(cls, value: Entity) -> Display:
        return cls(at(value, "proxy"))


@dataclass(frozen=True)
class ClusterSettingsInput:
    """The settings of a ``<cluster>`` (``ClusterInput`` adds its identity, data center and networks)."""

    ksm: Ksm | None = wire(convert=Ksm.of)
    memory_policy: MemoryPolicy | None = wire(convert=MemoryPolicy.of)
    error_handling: ErrorHandling | None = wire(convert=ErrorHandling.of)
    migration: MigrationOptions | None = wire(convert=MigrationOptions.of)
    fencing_policy: FencingPolicy | None = wire(convert=FencingPolicy.of)
    serial_number: SerialNumber | None = wire(convert=SerialNumber.of)
    display: Display | None = wire(convert=Display.of)
    gluster_tuned_profile: str | None = wire()
    scheduling_policy: Ref | None = wire(convert=Ref.of)
    custom_scheduling_policy_properties: tuple[Property, ...] | None = wire(convert=Property.of)
    required_rng_sources: tuple[str, ...] | None = wire()

    def columns(self) -> dict[str, Any]:
        """The columns the nested settings give (in the order of COLUMNS), with their values."""
        parts = (self, self.ksm, self.memory_policy, self.error_handling, self.migration, self.fencing_policy,
                 self.serial_number, self.display)  # fmt: skip
        given = {f.name: getattr(part, f.name) for part in parts if part is not None for f in dataclasses.fields(part)}
        return {column: given[column] for column in COLUMNS if given.get(column) is not None}


def column_default(column: str) -> Any:
    default = Cluster.__table__.c[column].default
    return None if default is None else default.arg


def rng_sources(cluster: Cluster) -> list[str]:
    """The RNG sources a cluster requires: urandom and the additional ones."""
    return sorted({ALWAYS_REQUIRED_RNG, *filter(None, cluster.additional_rng_sources.split(","))})


class ClusterSettings:
    """What ``request`` sets over ``cluster``'s settings (None: a new cluster named ``name``)."""

    def __init__(self, request: ClusterSettingsInput, cluster: Cluster | None, name: str) -> None:
        self.request = request
        self.name = name
        columns = (*COLUMNS, *DERIVED)
        self.current = {c: getattr(cluster, c) if cluster is not None else column_default(c) for c in columns}
        self.changes: dict[str, Any] = request.columns()
        self._derive()

    def value(self, column: str) -> Any:
        return self.changes.get(column, self.current[column])

    def given(self, column: str) -> bool:
        return column in self.changes

    # the values that follow from others

    def _derive(self) -> None:
        policy = self._scheduling_policy()
        if policy is not None:
            self.changes["scheduling_policy_id"] = policy
            if policy != self.current["scheduling_policy_id"]:
                self.changes["scheduling_properties"] = None  # the new policy's defaults
        properties = self.request.custom_scheduling_policy_properties
        if properties is not None:
            self.changes["scheduling_properties"] = {p.name: p.value for p in properties}
        migration_policy = self._migration_policy()
        if migration_policy is not None:
            self.changes["migration_policy_id"] = migration_policy
        if self.request.required_rng_sources is not None:
            extra = set(self.request.required_rng_sources) - {ALWAYS_REQUIRED_RNG}
            self.changes["additional_rng_sources"] = ",".join(sorted(extra))
        if self.given("migration_bandwidth") and self.value("migration_bandwidth") != "custom":
            self.changes.setdefault("migration_bandwidth_custom", None)
        if self.given("serial_number_policy") and self.value("serial_number_policy") != "custom":
            self.changes.setdefault("serial_number_value", None)
        if self.changes.get("spice_proxy") == "":
            self.changes["spice_proxy"] = None  # as oVirt: an empty proxy removes it

    def _scheduling_policy(self) -> str | None:
        reference = self.request.scheduling_policy
        if not reference:
            return None
        found = self._find_scheduling_policy(reference)
        return found.id if found else None

    @staticmethod
    def _find_scheduling_policy(reference: Ref) -> Any:
        if reference.id:
            return scheduling_policy(str(reference.id), "id")
        return scheduling_policy(str(reference.name or ""), "name")

    def _migration_reference(self) -> Ref | None:
        return self.request.migration.policy if self.request.migration else None

    def _migration_policy(self) -> str | None:
        reference = self._migration_reference()
        if not reference:
            return None
        if reference.id:
            key = str(reference.id).strip().lower()
            return key if key in MIGRATION_POLICIES else None
        return next((pid for pid, name in MIGRATION_POLICIES.items() if name == reference.name), None)

    # the rules

    def violations(self) -> Iterable[Violation]:
        yield from self._memory_violations()
        yield from self._scheduling_violations()
        yield from self._property_violations()
        yield from self._migration_violations()
        yield from self._fencing_violations()
        yield from self._serial_number_violations()
        yield from self._text_violations()

    def _memory_violations(self) -> Iterable[Violation]:
        percent = self.changes.get("memory_over_commit")
        if percent is not None and not 1 <= percent <= JAVA_INT_MAX:
            yield Violation(
                f"Memory over-commit {percent}% of cluster '{self.name}' is out of range; it must be between 1 "
                f"and {JAVA_INT_MAX}",
                400,
            )
        vm_only = self.request.memory_policy.vm_only if self.request.memory_policy else ()
        for key, label in VM_ONLY_MEMORY.items():
            if key in vm_only:
                yield Violation(f"{label} applies to VMs, not to cluster '{self.name}'", 400)

    def _scheduling_violations(self) -> Iterable[Violation]:
        reference = self.request.scheduling_policy
        if not reference or "scheduling_policy_id" in self.changes:
            return
        if reference.id:
            yield Violation(f"The scheduling policy with id '{str(reference.id)[:60]}' does not exist", 400)
        elif reference.name:
            yield Violation(f"The scheduling policy named '{str(reference.name)[:60]}' does not exist", 400)
        else:
            yield Violation(f"The scheduling policy of cluster '{self.name}' needs an id or a name", 400)

    def _property_violations(self) -> Iterable[Violation]:
        properties = self.request.custom_scheduling_policy_properties or ()
        names = [p.name for p in properties]
        for duplicate in sorted({n for n in names if names.count(n) > 1}):
            yield Violation(f"Scheduling policy property '{duplicate[:60]}' is given more than once", 400)
        for prop in properties:
            if not prop.name:
                yield Violation(f"A scheduling policy property of cluster '{self.name}' has no name", 400)
                continue
            problem = property_problem(prop.name, prop.value)
            if problem:
                yield Violation(f"{problem} (cluster '{self.name}')", 400)

    def _migration_violations(self) -> Iterable[Violation]:
        reference = self._migration_reference()
        if reference and "migration_policy_id" not in self.changes:
            key = reference.id or reference.name or ""
            known = ", ".join(f"{pid} ({name})" for pid, name in MIGRATION_POLICIES.items())
            yield Violation(f"Unknown migration policy '{str(key)[:60]}'; known: {known}", 400)
        method, custom = self.value("migration_bandwidth"), self.value("migration_bandwidth_custom")
        if method != "custom" and self.changes.get("migration_bandwidth_custom") is not None:
            yield Violation(
                f"The custom migration bandwidth of cluster '{self.name}' applies only with assignment_method "
                f"custom, not {method}",
                400,
            )
        if method == "custom" and custom is None:
            yield Violation(
                f"The custom migration bandwidth of cluster '{self.name}' needs custom_value (in Mbps)", 400
            )
        if custom is not None and not 1 <= custom <= JAVA_INT_MAX:
            yield Violation(
                f"Migration bandwidth {custom} Mbps of cluster '{self.name}' is out of range; it must be between 1 "
                f"and {JAVA_INT_MAX}",
                400,
            )

    def _fencing_violations(self) -> Iterable[Violation]:
        threshold = self.changes.get("fencing_connectivity_threshold")
        if threshold is not None and not 0 <= threshold <= 100:
            yield Violation(
                f"Fencing connectivity threshold {threshold}% of cluster '{self.name}' is out of range; it must be "
                "between 0 and 100",
                400,
            )

    def _serial_number_violations(self) -> Iterable[Violation]:
        policy, value = self.value("serial_number_policy"), self.value("serial_number_value")
        if policy == "custom" and not value:
            yield Violation(f"The custom serial number policy of cluster '{self.name}' needs a value", 400)
        if policy != "custom" and self.changes.get("serial_number_value"):
            yield Violation(
                f"A serial number value of cluster '{self.name}' applies only with the custom policy, not "
                f"{policy or 'none'}",
                400,
            )

    def _text_violations(self) -> Iterable[Violation]:
        proxy = self.changes.get("spice_proxy")
        if proxy and not _PROXY.match(proxy):
            yield Violation(
                f"SPICE proxy '{proxy[:60]}' of cluster '{self.name}' is not a valid address; use "
                "[protocol://]host[:port]",
                400,
            )
        for column in ("spice_proxy", "serial_number_value", "gluster_tuned_profile"):
            text = self.changes.get(column)
            if text is not None and len(text) > TEXT_MAX:
                label = TEXTS[column]
                yield Violation(f"{label} of cluster '{self.name}' is longer than {TEXT_MAX} characters", 400)

    def apply(self, cluster: Cluster) -> None:
        for column, value in self.changes.items():
            setattr(cluster, column, value)
