"""The interface every mechanism driver offers, and the record of what one API call changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from extnet.provider.store.backend import Cond, Kind, Page, Query, Record, Tx


@dataclass
class Changes:
    """The records one committed transaction wrote (inserted, updated or deleted), by kind."""

    ids: dict[Kind, set[str]] = field(default_factory=dict)

    def add(self, kind: Kind, ids: Sequence[str]) -> None:
        self.ids.setdefault(kind, set()).update(ids)

    def merge(self, other: Changes) -> None:
        for kind, ids in other.ids.items():
            self.add(kind, list(ids))

    def __bool__(self) -> bool:
        return any(self.ids.values())

    def of(self, kind: Kind) -> set[str]:
        return self.ids.get(kind, set())


# fields no API reader sees: a change of only these is not one to carry anywhere
BOOKKEEPING = {"ipam_cursor", "devices_digest"}


class RecordingTx:
    """A transaction that notes every record written through it (for the driver's after-commit step)."""

    def __init__(self, tx: Tx, changes: Changes) -> None:
        self._tx = tx
        self.changes = changes

    def get(self, kind: Kind, id_: str, *, want: frozenset[str] | None = None, lock: bool = False) -> Record | None:
        return self._tx.get(kind, id_, want=want, lock=lock)

    def find(self, kind: Kind, query: Query) -> Page:
        return self._tx.find(kind, query)

    def count(self, kind: Kind, where: Cond) -> int:
        return self._tx.count(kind, where)

    def insert(self, kind: Kind, records: Sequence[Record]) -> None:
        self._tx.insert(kind, records)
        self.changes.add(kind, [record["id"] for record in records])

    def update(self, kind: Kind, id_: str, changes: Mapping[str, Any]) -> None:
        self._tx.update(kind, id_, changes)
        if not set(changes) <= BOOKKEEPING:
            self.changes.add(kind, [id_])

    def update_many(self, kind: Kind, ids: Sequence[str], changes: Mapping[str, Any]) -> None:
        self._tx.update_many(kind, ids, changes)
        if ids and not set(changes) <= BOOKKEEPING:
            self.changes.add(kind, ids)

    def port_states(self, host: str, ids: Sequence[str]) -> tuple[set[str], list[tuple[str, str, bool]]]:
        return self._tx.port_states(host, ids)

    def delete(self, kind: Kind, ids: Sequence[str]) -> None:
        self._tx.delete(kind, ids)
        self.changes.add(kind, ids)

    def lock(self, kind: Kind, ids: Sequence[str]) -> None:
        self._tx.lock(kind, ids)

    def taken_addresses(self, subnet_id: str, first_key: str, last_key: str, limit: int) -> list[str]:
        return self._tx.taken_addresses(subnet_id, first_key, last_key, limit)

    def count_addresses(self, subnet_id: str, first_key: str, last_key: str) -> int:
        return self._tx.count_addresses(subnet_id, first_key, last_key)

    def try_lock_blocks(self, subnet_id: str, blocks: Sequence[int]) -> int | None:
        return self._tx.try_lock_blocks(subnet_id, blocks)

    def save_cursor(self, subnet_id: str, cursor: str) -> None:
        self._tx.save_cursor(subnet_id, cursor)

    def free_segment(
        self, network_type: str, physnet: str | None, low: int, high: int, lowest: bool = False
    ) -> int | None:
        return self._tx.free_segment(network_type, physnet, low, high, lowest)

    def quota_limits(self, project_id: str | None) -> dict[str, dict[str, int]]:
        return self._tx.quota_limits(project_id)

    def set_quota_limits(self, project_id: str, limits: Mapping[str, int]) -> None:
        self._tx.set_quota_limits(project_id, limits)  # no driver carries quotas anywhere

    def delete_quota_limits(self, project_id: str) -> bool:
        return self._tx.delete_quota_limits(project_id)

    def lock_quota(self, project_id: str, resource: str) -> None:
        self._tx.lock_quota(project_id, resource)


class MechanismDriver(Protocol):
    name: str

    def start(self) -> None:
        """Begin the driver's background work (connections, watchers, maintenance)."""

    def after_commit(self, changes: Changes) -> None:
        """Carry a committed transaction's changes to the data plane (never raises: what fails here is repaired
        by the driver's maintenance)."""

    def stop(self) -> None: ...
