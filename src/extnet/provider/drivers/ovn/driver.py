"""The ``ovn`` driver.

- Every committed change goes to the OVN Northbound database in one OVSDB transaction, made by a worker of the
  driver's own right after the commit (an API call does not wait for OVN; changes committed meanwhile share it).
- Port status follows ``up`` there (ovn-controller bound the port).
- The chassis in the Southbound database are the provider's ``OVN Controller agent`` rows, alive while they keep up
  with the ``nb_cfg`` the driver asks for.
- A maintenance task compares revision numbers and repairs what differs (a crash between the SQL commit and the
  OVSDB transaction, an OVN database restored from an old backup), as Neutron's ``ovn_revision_numbers`` and its
  periodic check do. A change still waiting for its transaction may be repaired by it too: no harm, the same rows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from extnet.common.progress import ProgressCallback, no_progress
from extnet.common.worker import Backoff, Delay, Worker
from extnet.provider.drivers.base import Changes
from extnet.provider.drivers.ovn import units
from extnet.provider.drivers.ovn.chassis import Southbound, refresh_agents
from extnet.provider.drivers.ovn.desired import (
    FLOATING,
    GATEWAY,
    dhcp_key,
    group_name,
    router_name,
    serves_dhcp,
    switch_name,
)
from extnet.provider.drivers.ovn.nb import Northbound, Ref
from extnet.provider.service.common import timestamp
from extnet.provider.store.backend import BUMP, In, Kind, Query, Record, StoreBusy, StoreConflict, Tx
from extnet.provider.store.sql import SqlBackend

log = logging.getLogger("extnet.provider.ovn")
AGENT_INTERVAL = 5.0
# what commits within this time of one another goes to OVN in one transaction: each transaction costs ovn-northd a
# recompute of its flows, whatever its size
CARRY_WINDOW_S = 0.01
CARRY_RETRY_S = 1.0  # a transaction OVN refused is tried again after this (the maintenance task repairs the rest)
BURST_S = 0.05  # chassis confirmations closer than this are taken in one refresh of the agents
IDLE_S = 60.0  # the carrying and status workers wait this long unless woken (they always are, when needed)
STOP_WAIT_S = 10.0


@dataclass
class Report:
    """What a consistency check found (and, with repair, fixed)."""

    units: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)


class OvnDriver:
    name = "ovn"

    def __init__(self, backend: SqlBackend, nb_remote: str, sb_remote: str, maintenance_interval: float = 30.0,
                 agent_interval: float = AGENT_INTERVAL) -> None:  # fmt: skip
        self.backend = backend
        self.nb_remote = nb_remote
        self.sb_remote = sb_remote
        self.maintenance_interval = maintenance_interval
        self.agent_interval = agent_interval
        self.nb: Northbound | None = None
        self.sb: Southbound | None = None
        self._ups: queue.Queue[tuple[str, bool]] = queue.Queue()
        self._chassis_changed = threading.Event()  # a chassis came, went or confirmed an nb_cfg
        self._pending = Changes()  # committed, not yet in OVN
        self._window_end: float | None = None  # pending changes wait for others until then, in one transaction
        self._retry_at = 0.0  # after a failed transaction, no other before this
        self._pending_lock = threading.Lock()
        self._last_ask = self._last_check = self._last_refresh = 0.0
        self._asked: int | None = None
        tick = min(agent_interval, maintenance_interval)
        self._carrier = Worker("ovn-carry", self._carry_round, log=log, backoff=Backoff(CARRY_RETRY_S, CARRY_RETRY_S),
                               failure="could not carry changes to OVN Northbound", join_timeout=lambda: STOP_WAIT_S)
        self._port_status = Worker("ovn-port-status", self._status_round, log=log, backoff=Backoff(1.0, 1.0),
                              failure="could not set the status of ports", join_timeout=lambda: STOP_WAIT_S)
        self._maintenance = Worker("ovn-maintenance", self._maintenance_round, log=log, backoff=Backoff(tick, tick),
                                   failure=f"OVN maintenance failed; trying again in {tick:.0f} s",
                                   join_timeout=lambda: STOP_WAIT_S, first_delay=lambda: tick)  # fmt: skip

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.nb = Northbound(self.nb_remote, on_port_up=self._port_up)
        self.sb = Southbound(self.sb_remote, on_change=self._chassis_change)
        report = self.check(repair=True)  # what changed while the provider was down
        if report.differences:
            log.warning("OVN Northbound differed from the API in %d places at start; repaired", len(report.differences))
        self._sync_status(self.nb.ports_up())
        self._last_ask = self._last_check = time.monotonic()
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        for worker in self._workers:
            worker.request_stop()
        for worker in self._workers:
            worker.stop()
        if self._pending and self.nb is not None:
            self._carried(self._pending)
        for db in (self.nb, self.sb):
            if db is not None:
                db.close()

    @property
    def _workers(self) -> tuple[Worker, ...]:
        return self._carrier, self._port_status, self._maintenance

    # --- after each API call -----------------------------------------------------------------------------------

    def after_commit(self, changes: Changes) -> None:
        """Queue a committed transaction's changes for the carrying worker."""
        if self.nb is None:
            return
        with self._pending_lock:
            self._pending.merge(changes)
        self._carrier.wake()

    def _carry_round(self) -> Delay:
        """Carry what is pending ``CARRY_WINDOW_S`` after the carrier, free, first saw it (what comes meanwhile
        goes along), and not sooner than ``CARRY_RETRY_S`` after a transaction that failed."""
        now = time.monotonic()
        with self._pending_lock:
            if not self._pending:
                return IDLE_S
            if self._window_end is None:
                self._window_end = max(now + CARRY_WINDOW_S, self._retry_at)
            if now < self._window_end:
                return self._window_end - now
            changes, self._pending, self._window_end = self._pending, Changes(), None
        if not self._carried(changes):
            with self._pending_lock:  # tried again shortly (the maintenance task repairs what never goes)
                self._pending.merge(changes)
            self._retry_at = time.monotonic() + CARRY_RETRY_S
        return 0.0

    def _carried(self, changes: Changes) -> bool:
        assert self.nb is not None
        try:
            began = time.perf_counter()
            with self.backend.transaction(write=False) as tx:
                wanted = units.rows_of(tx, units.touched(tx, changes))
            read = time.perf_counter()
            self.nb.apply(wanted)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%d units to OVN Northbound: read %.1f ms, OVSDB transaction %.1f ms", len(wanted),
                          (read - began) * 1000, (time.perf_counter() - read) * 1000)  # fmt: skip
            return True
        except Exception:
            log.exception("could not carry changes to OVN Northbound; trying again")
            return False

    # --- consistency -------------------------------------------------------------------------------------------

    def check(self, repair: bool, full: bool = False, progress: ProgressCallback = no_progress) -> Report:
        """Compare the API with OVN Northbound: by revision numbers (``full``: every column of every row) and,
        with ``repair``, make OVN match; ``progress`` hears how many resources are done."""
        assert self.nb is not None
        have = self.nb.revisions()  # first: whatever OVN has now was committed to SQL before, so SQL shows it next
        with self.backend.transaction(write=False) as tx:
            chosen = units.everything(tx) | set(have) if full else _stale(have, _main_rows(tx))
            wanted = units.rows_of(tx, chosen, progress)
        differences = self.nb.apply(wanted, repair=repair, thorough=full, progress=progress) if wanted else []
        return Report(sorted(chosen), differences)

    # --- background work ---------------------------------------------------------------------------------------

    def _chassis_change(self) -> None:
        self._chassis_changed.set()
        self._maintenance.wake()

    def _maintenance_round(self) -> Delay:
        """The agents follow the chassis as they change; every agent interval the chassis are asked to confirm a new
        ``nb_cfg``; every maintenance interval, the consistency check."""
        assert self.nb is not None and self.sb is not None
        now = time.monotonic()
        changed = self._chassis_changed.is_set()
        if changed and now - self._last_refresh < BURST_S:  # the rest of a burst: taken together a moment later
            return BURST_S - (now - self._last_refresh)
        self._chassis_changed.clear()
        asking = now - self._last_ask >= self.agent_interval - 0.01
        if changed or asking:
            self._last_refresh = now
            if refresh_agents(self.backend, self.sb, self._asked):
                self.after_commit(self._gateway_ports())  # where routers' gateways live follows the chassis
        if asking:
            self._last_ask = now
            self._asked = self.nb.bump_nb_cfg()
        if now - self._last_check >= self.maintenance_interval - 0.01:
            self._last_check = now
            self._repair()
        return min(self.agent_interval, self.maintenance_interval)

    def _gateway_ports(self) -> Changes:
        changes = Changes()
        with self.backend.transaction(write=False) as tx:
            found = tx.find(Kind.PORT, Query(where=In("device_owner", (GATEWAY,)), want=frozenset({"id"})))
        changes.add(Kind.PORT, [port["id"] for port in found.records])
        return changes

    def _repair(self) -> None:
        """The resources whose revision differs in OVN go to the carrying worker, as a commit's do: it reads them
        from SQL right before its transaction, so a repair never writes what a newer commit has changed since."""
        assert self.nb is not None
        have = self.nb.revisions()
        with self.backend.transaction(write=False) as tx:
            stale = _stale(have, _main_rows(tx))
            if "global" in stale:  # the drop group depends on nothing in SQL: repaired here
                self.nb.apply(units.rows_of(tx, {"global"}))
        stale.discard("global")
        if stale:
            log.warning("%d resources differ from OVN Northbound (%s); carrying them again", len(stale),
                        ", ".join(sorted(stale)[:5]))  # fmt: skip
            self.after_commit(units.changes_of(stale))

    def _port_up(self, name: str, up: bool) -> None:
        self._ups.put((name, up))
        self._port_status.wake()

    def _status_round(self) -> Delay:
        """What ovn-controller said of the ports since the last round, taken in one transaction (the last word on
        each port wins)."""
        batch: dict[str, bool] = {}
        while True:
            try:
                name, up = self._ups.get_nowait()
            except queue.Empty:
                break
            batch[name] = up
        try:
            self._sync_status(batch)
        except Exception:
            log.exception("could not set the status of ports %s", ", ".join(batch))
        return IDLE_S

    def _sync_status(self, ups: dict[str, bool]) -> None:
        """Ports follow ovn-controller: ACTIVE when their logical switch port is up (and they are up and bound)."""
        if not ups:
            return
        with self.backend.transaction(write=False) as tx:
            ports = tx.find(Kind.PORT, Query(where=In("id", tuple(ups)))).records
        moved = {port["id"]: target for port in ports if port["status"] != (target := _status(port, ups[port["id"]]))}
        if not moved:
            return
        changes = Changes()
        for _ in range(10):
            try:
                with self.backend.transaction(write=True) as tx:
                    for port in tx.find(Kind.PORT, Query(where=In("id", tuple(moved)), lock=True)).records:
                        target = _status(port, ups[port["id"]])
                        if port["status"] != target:
                            tx.update(Kind.PORT, port["id"], {"status": target, "revision_number": BUMP,
                                                              "updated_at": timestamp()})  # fmt: skip
                            changes.add(Kind.PORT, [port["id"]])
                break
            except (StoreConflict, StoreBusy):
                time.sleep(0.01)
        if changes:
            self.after_commit(changes)


def _status(port: Record, up: bool) -> str:
    if up and port["admin_state_up"] and port["vif_type"] not in ("unbound", "binding_failed"):
        return "ACTIVE"
    return "DOWN"


def _stale(have: dict[str, dict[Ref, str]], expected: dict[str, tuple[Ref | None, int]]) -> set[str]:
    """The units whose rows in OVN (``have``: revisions by owner) do not show their revision in SQL, are missing, or
    belong to nothing in SQL."""
    stale = {owner for owner in have if owner != "global"}  # every unit OVN has, unless shown current below
    for unit, (ref, revision) in expected.items():
        found = have.get(unit, {})
        if ref is None:
            if not found:
                stale.discard(unit)
        elif found.get(ref) == str(revision):
            stale.discard(unit)
        else:
            stale.add(unit)
    if "global" not in have or len(have["global"]) < 3:
        stale.add("global")
    return stale


def _main_rows(tx: Tx) -> dict[str, tuple[Ref | None, int]]:
    """{unit: (the row that carries its revision, or None when the unit has no rows; the revision in SQL)}."""
    found: dict[str, tuple[Ref | None, int]] = {}
    read = tx.find
    for record in read(Kind.NETWORK, Query()).records:
        found[f"network:{record['id']}"] = (("Logical_Switch", switch_name(record["id"])), record["revision_number"])
    for record in read(Kind.SUBNET, Query()).records:
        ref = ("DHCP_Options", dhcp_key(record["id"])) if serves_dhcp(record) else None
        found[f"subnet:{record['id']}"] = (ref, record["revision_number"])
    for record in read(Kind.PORT, Query()).records:
        ref = None if record["device_owner"] == FLOATING else ("Logical_Switch_Port", record["id"])
        found[f"port:{record['id']}"] = (ref, record["revision_number"])
    for record in read(Kind.SECURITY_GROUP, Query()).records:
        found[f"sg:{record['id']}"] = (("Port_Group", group_name(record["id"])), record["revision_number"])
    for record in read(Kind.SECURITY_GROUP_RULE, Query()).records:
        found[f"rule:{record['id']}"] = (("ACL", f"acl:{record['id']}"), record["revision_number"])
    for record in read(Kind.ROUTER, Query()).records:
        found[f"router:{record['id']}"] = (("Logical_Router", router_name(record["id"])), record["revision_number"])
    for record in read(Kind.FLOATINGIP, Query()).records:
        ref = ("NAT", f"fip:{record['id']}") if record["router_id"] and record["fixed_ip_address"] else None
        found[f"fip:{record['id']}"] = (ref, record["revision_number"])
    return found
