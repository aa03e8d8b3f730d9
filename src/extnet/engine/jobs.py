"""Jobs: actions run in the background (oVirt's ``async`` actions and ``/jobs``).

An action that calls providers or hosts (a collection's ``self_managed`` actions), asked for with ``async``, is
answered at once with a job in the ``started`` state; a ``JobRunner`` worker runs the action and sets the job
``finished`` or ``failed`` (with the fault's detail as its ``comment``). Jobs still ``started`` when the engine
starts belonged to an engine process that is gone: they become ``unknown`` (the reconciler recovers what their
actions left half done). Ended jobs are cleared after a while, as oVirt clears its ``auto_cleared`` jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, or_, update
from sqlalchemy.exc import DataError

from extnet.engine.auth import Principal
from extnet.engine.errors import Fault
from extnet.engine.store.db import Database
from extnet.engine.store.models import Job, utcnow

log = logging.getLogger("extnet.engine.jobs")

STARTED, FINISHED, FAILED, ABORTED, UNKNOWN = "started", "finished", "failed", "aborted", "unknown"
INTERNAL_ERROR = "Internal error; the engine log has the details"
ABANDONED = "the engine stopped while the job ran; the reconciler finishes or undoes what it left"
NOT_RUN = "the engine stopped before the job ran; nothing was done"
WORKERS = 8
STOP_WAIT_S = 30.0  # how long a stopping engine waits for the jobs that run
# as oVirt's SucceededJobCleanupTimeInMinutes and FailedJobCleanupTimeInMinutes
CLEAR_FINISHED_AFTER = timedelta(minutes=10)
CLEAR_FAILED_AFTER = timedelta(minutes=60)


class JobsStopped(Exception):
    """The runner is stopped and takes no new work."""


@dataclass(frozen=True)
class _Task:
    work: Callable[[], None]
    cancelled: Callable[[], None]


class JobRunner:
    """At most ``workers`` threads run the submitted work, in submission order; the rest waits in a queue.

    The threads are daemons, as the engine's other workers: ``stop`` waits a bounded time for the running work, and
    what still runs after that must not keep the process from exiting (the next engine marks its jobs unknown)."""

    def __init__(self, workers: int = WORKERS) -> None:
        self.workers = workers
        self._queue: deque[_Task] = deque()
        self._changed = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._stopped = False

    def submit(self, work: Callable[[], None], cancelled: Callable[[], None] = lambda: None) -> None:
        """Queue ``work``; ``cancelled`` runs instead if the runner stops before the work began. Raises
        ``JobsStopped`` once the runner is stopped."""
        with self._changed:
            if self._stopped:
                raise JobsStopped("the job runner is stopped")
            self._queue.append(_Task(work, cancelled))
            idle = len(self._threads) - self._busy
            if len(self._queue) > idle and len(self._threads) < self.workers:
                thread = threading.Thread(target=self._loop, name=f"extnet-job-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._changed.notify()

    def stop(self, wait: float = STOP_WAIT_S) -> bool:
        """Take no more work, cancel what has not begun, and wait up to ``wait`` seconds for what runs. Returns
        whether everything ended."""
        with self._changed:
            self._stopped = True
            pending = list(self._queue)
            self._queue.clear()
            self._changed.notify_all()
        for task in pending:
            try:
                task.cancelled()
            except Exception:  # noqa: BLE001 - every cancelled task gets its turn
                log.exception("cancelling a job that had not begun failed")
        deadline = time.monotonic() + wait
        with self._changed:
            while self._busy and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            if self._busy:
                log.warning("%d job(s) still running after %.0f s; the next engine start marks them unknown",
                            self._busy, wait)  # fmt: skip
            return not self._busy

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._stopped:
                    self._changed.wait()
                if not self._queue:
                    return
                task = self._queue.popleft()
                self._busy += 1
            try:
                task.work()
            except Exception:  # noqa: BLE001 - the worker must outlive any one failure
                log.exception("a job failed outside its action")
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()


# --- the jobs in the database --------------------------------------------------------------------------------


def start_job(db: Database, description: str, owner: Principal, action: str, target_path: str, target_id: str,
              correlation_id: str | None = None) -> str:  # fmt: skip
    """Store a ``started`` job and return its id."""
    now = utcnow()
    job = Job(description=description, status=STARTED, start_time=now, last_updated=now, owner_id=owner.user_id,
              owner_name=owner.name, correlation_id=correlation_id, action=action, target_path=target_path,
              target_id=target_id)  # fmt: skip
    with db.transaction() as session:
        session.add(job)
    return job.id


def clear_ended_jobs(db: Database) -> int:
    """Remove the auto-cleared jobs that ended long enough ago; returns how many."""
    now = utcnow()
    finished = and_(Job.status == FINISHED, Job.end_time < now - CLEAR_FINISHED_AFTER)
    ended = and_(Job.status.in_((FAILED, ABORTED, UNKNOWN)), Job.end_time < now - CLEAR_FAILED_AFTER)
    with db.transaction() as session:
        result = session.execute(delete(Job).where(Job.auto_cleared.is_(True), or_(finished, ended)))
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_job(db: Database, job_id: str, status: str, comment: str | None = None) -> None:
    """A started job ended: ``finished``, ``failed`` or ``aborted`` (with why, for the last two)."""
    now = utcnow()
    with db.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.status == STARTED)
                        .values(status=status, end_time=now, last_updated=now, comment=comment))  # fmt: skip


def forget_job(db: Database, job_id: str) -> None:
    """Remove a job that never ran (the request that made it was refused)."""
    with db.transaction() as session:
        session.execute(delete(Job).where(Job.id == job_id))


def abandon_jobs(db: Database) -> int:
    """At engine start: the jobs still ``started`` belong to an engine process that is gone; they become
    ``unknown``. Returns how many."""
    now = utcnow()
    with db.transaction() as session:
        abandoned = update(Job).where(Job.status == STARTED, Job.external.is_(False))
        result = session.execute(abandoned.values(status=UNKNOWN, end_time=now, last_updated=now, comment=ABANDONED))
    return int(result.rowcount)  # type: ignore[attr-defined]


def run_job(db: Database, job_id: str, work: Callable[[], object]) -> None:
    """Run ``work`` as the job ``job_id``, record how it ended, and clear the jobs that ended long ago."""
    try:
        _run(db, job_id, work)
    finally:
        try:
            clear_ended_jobs(db)
        except Exception as err:  # noqa: BLE001 - only housekeeping: the next job tries again
            log.warning("clearing ended jobs failed: %s", err)


def _run(db: Database, job_id: str, work: Callable[[], object]) -> None:
    try:
        work()
    except Fault as fault:
        log.info("job %s failed: %s", job_id, fault.detail)
        end_job(db, job_id, FAILED, fault.detail)
    except DataError as err:  # as the API answers it: a value the checks let through but the database refused
        log.warning("database refused a value in job %s: %s", job_id, err.orig)
        detail = str(err.orig).strip().splitlines()[0] if err.orig else "invalid value"
        end_job(db, job_id, FAILED, f"A value in the request cannot be stored: {detail}")
    except Exception:
        log.exception("job %s failed", job_id)
        end_job(db, job_id, FAILED, INTERNAL_ERROR)
    else:
        end_job(db, job_id, FINISHED)
