"""Keeping this host's agent alive on the engine's providers.

The engine hands the agent its providers (``Host.setProviders``: URL, Keystone URL and credentials, certificates to
trust); the agent posts ``POST /v2.0/agents/heartbeat`` to each every ``heartbeat_interval`` seconds, as an Open
vSwitch agent whose host is its binding host id, with the ports it has plugged (``devices_up``) and unplugged
(``devices_down``) for that provider: only those that changed since the provider's last answer, with a digest of
them all, and every port only when the two sides' digests differ (docs/host-agent.md). A provider answering 404
does not take heartbeats (it is not an extnet provider): the agent stops trying it until the engine sends its
providers again. Failures back off; authentication failures back off longer (retrying wrong credentials every few
seconds could lock the provider's account).
Credentials live in memory only and are never logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from extnet.common.keystone import provider_session
from extnet.common.worker import Backoff, Worker

log = logging.getLogger("extnet.host.heartbeat")

MAX_BACKOFF = 300.0
MAX_PARALLEL_BEATS = 16  # providers beaten at the same time
MAX_AUTH_BACKOFF = 900.0
_TEXT_FIELDS = ("authentication_url", "username", "tenant_name", "project_name", "user_domain_name",
                "project_domain_name")  # fmt: skip


@dataclass(frozen=True)
class ProviderTarget:
    """A provider as the engine describes it to the agent."""

    id: str
    name: str
    url: str
    requires_authentication: bool = False
    authentication_url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tenant_name: str | None = None
    project_name: str | None = None
    user_domain_name: str | None = None
    project_domain_name: str | None = None
    certificates: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> ProviderTarget:
        if not isinstance(data, dict):
            raise ValueError("each provider must be an object")
        for key in ("id", "name", "url"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"provider {data.get('name') or data.get('id')!r}: {key} must be a non-empty string")
        if not data["url"].startswith(("http://", "https://")):
            raise ValueError(f"provider {data['name']!r}: url must be http:// or https://")
        texts = {key: data.get(key) for key in (*_TEXT_FIELDS, "password")}
        if any(value is not None and not isinstance(value, str) for value in texts.values()):
            raise ValueError(f"provider {data['name']!r}: credentials must be strings")
        certificates = data.get("certificates") or []
        if not isinstance(certificates, list) or not all(isinstance(pem, str) for pem in certificates):
            raise ValueError(f"provider {data['name']!r}: certificates must be a list of PEM texts")
        requires = data.get("requires_authentication") is True
        if requires and not (texts["authentication_url"] and texts["username"]):
            raise ValueError(f"provider {data['name']!r} requires authentication: give authentication_url and "
                             "username")  # fmt: skip
        return cls(id=data["id"], name=data["name"], url=data["url"].rstrip("/"), requires_authentication=requires,
                   certificates=tuple(certificates), **texts)  # fmt: skip


@dataclass
class BeatState:
    target: ProviderTarget
    state: str = "pending"  # pending | alive | not_supported | auth_failed | failing
    detail: str = ""
    failures: int = 0
    next_at: float = 0.0
    started: bool = False
    pending_up: set[str] = field(default_factory=set)
    pending_down: set[str] = field(default_factory=set)
    acked: str | None = None  # the device digest the provider took last; None: the next beat reports every device
    acked_up: frozenset[str] = frozenset()  # the devices that digest describes
    acked_down: frozenset[str] = frozenset()
    done: int = 0  # the wake count its last finished beat started after
    statuses: dict[str, str] = field(default_factory=dict)  # what the provider answered of the ports last reported
    statuses_at: int = 0  # the wake count the beat that got ``statuses`` started after
    in_flight: bool = False  # a worker is posting a beat to this provider now

    def to_json(self) -> dict[str, Any]:
        return {"provider_id": self.target.id, "name": self.target.name, "state": self.state, "detail": self.detail}


Devices = Callable[[str], tuple[list[str], list[str]]]  # provider id -> (ports plugged, ports unplugged)


def device_digest(up: set[str] | frozenset[str], down: set[str] | frozenset[str]) -> str:
    """SHA-256 (hex) of a device set: the sorted plugged ports, then the sorted unplugged ones."""
    text = "\n".join(["up", *sorted(up), "down", *sorted(down)])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class DeviceReport:
    """What one beat reports of a provider's devices: the changes (everything, when ``since`` is None) and the
    digest of the whole set ``up``/``down`` once they are taken."""

    sent_up: set[str]
    sent_down: set[str]
    up: frozenset[str]
    down: frozenset[str]
    digest: str
    since: str | None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"devices_digest": self.digest}
        if self.since is None:
            body["devices_full"] = True
        else:
            body["devices_since"] = self.since
        if self.sent_up:
            body["devices_up"] = sorted(self.sent_up)
        if self.sent_down:
            body["devices_down"] = sorted(self.sent_down)
        return body


class HeartbeatService:
    def __init__(self, interval: float, report: Callable[[], dict[str, Any]], devices: Devices,
                 timeouts: tuple[float, float]) -> None:  # fmt: skip
        self.interval = max(interval, 0.05)
        self._report = report
        self._devices = devices
        self._timeouts = timeouts
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._beats: dict[str, BeatState] = {}
        self._sessions: dict[str, ks_session.Session] = {}
        self.digest: str | None = None
        self._woken = 0  # how often wake() was called: a beat that started before the last wake reports again
        # each round starts the beats that are due (a round that fails unexpectedly is logged and tried again later)
        self._worker = Worker("extnet-host-heartbeat", self._beat_round, log=log,
                              failure="starting the due heartbeats failed", backoff=Backoff(self.interval, MAX_BACKOFF),
                              join_timeout=lambda: sum(self._timeouts) + 5)  # fmt: skip
        self._workers = ThreadPoolExecutor(max_workers=MAX_PARALLEL_BEATS, thread_name_prefix="extnet-beat")

    # --- what the API calls -----------------------------------------------------------------------------------

    def set_providers(self, targets: list[ProviderTarget], digest: str | None) -> None:
        with self._lock:
            old = self._beats
            self._beats = {t.id: BeatState(t, pending_up=old[t.id].pending_up if t.id in old else set(),
                                           pending_down=old[t.id].pending_down if t.id in old else set())
                           for t in targets}  # fmt: skip
            self._sessions = {}
            self.digest = digest
        self.wake()

    def states(self) -> list[dict[str, Any]]:
        with self._lock:
            return [beat.to_json() for beat in self._beats.values()]

    def first_beats(self, wait: float) -> list[dict[str, Any]]:
        """The states once every provider took its first beat or failed to (none ``pending``), or after ``wait``
        seconds: what the engine needs before it calls the host up."""
        deadline = time.monotonic() + wait
        with self._finished:
            while True:
                left = deadline - time.monotonic()
                pending = any(beat.state == "pending" for beat in self._beats.values())
                if not pending or left <= 0 or self._worker.stopping:
                    return [beat.to_json() for beat in self._beats.values()]
                self._finished.wait(left)

    def changed(self, up: dict[str, set[str]], down: dict[str, set[str]], wait: float = 0.0) -> dict[str, str]:
        """Ports plugged (``up``) and unplugged (``down``), by provider id: reported at once; with ``wait``, returns
        when those providers took the report (or could not: it failed), or after ``wait`` seconds, with the status
        the providers answered for the ``up`` ports (those they took)."""
        with self._lock:
            for provider_id, ports in up.items():
                beat = self._beats.get(provider_id)
                if beat is not None:
                    beat.pending_up |= ports
                    beat.pending_down -= ports
            for provider_id, ports in down.items():
                beat = self._beats.get(provider_id)
                if beat is not None:
                    beat.pending_down |= ports
                    beat.pending_up -= ports
        ticket = self.wake()
        if wait <= 0:
            return {}
        self._await(ticket, set(up) | set(down), time.monotonic() + wait)
        answered: dict[str, str] = {}
        with self._lock:
            for provider_id, ports in up.items():
                beat = self._beats.get(provider_id)
                if beat is not None and beat.statuses_at >= ticket:
                    answered.update({port: beat.statuses[port] for port in ports if port in beat.statuses})
        return answered

    def _await(self, ticket: int, providers: set[str], deadline: float) -> None:
        with self._finished:
            while True:
                waiting = [beat for pid in providers if (beat := self._beats.get(pid)) is not None
                           and beat.state in ("alive", "pending") and beat.done < ticket]  # fmt: skip
                left = deadline - time.monotonic()
                if not waiting or left <= 0 or self._worker.stopping:
                    return
                self._finished.wait(left)

    def wake(self) -> int:
        """Report now: beats that are not backing off from failures are due at once, so that a provider marks a port
        ACTIVE right after it was plugged, not a heartbeat interval later. Returns the wake's number."""
        with self._lock:
            self._woken += 1
            ticket = self._woken
            for beat in self._beats.values():
                if beat.state in ("alive", "pending"):
                    beat.next_at = 0.0
        self._worker.wake()
        return ticket

    # --- the thread ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.request_stop()
        with self._finished:
            self._finished.notify_all()
        self._worker.stop()
        self._workers.shutdown(wait=False, cancel_futures=True)

    def _beat_round(self) -> float:
        self.beat_due()
        return self._next_delay()

    def _next_delay(self) -> float:
        with self._lock:
            due = [b.next_at for b in self._beats.values() if b.state != "not_supported" and not b.in_flight]
        return max(0.01, min(due, default=time.monotonic() + self.interval) - time.monotonic())

    def beat_due(self) -> None:
        """Start the beats that are due, each provider's on a worker of its own: a provider that hangs delays only
        its own beats."""
        now = time.monotonic()
        with self._lock:
            due = [b for b in self._beats.values()
                   if b.state != "not_supported" and b.next_at <= now and not b.in_flight]  # fmt: skip
            for beat in due:
                beat.in_flight = True
        for beat in due:
            if self._worker.stopping:
                return
            self._workers.submit(self._beat_and_loop, beat)

    def _beat_and_loop(self, beat: BeatState) -> None:
        try:
            self._beat(beat)
        except Exception:  # noqa: BLE001 - a beat must never take its provider's beats down with it
            log.exception("heartbeat to provider %s", beat.target.name)
        finally:
            with self._lock:
                beat.in_flight = False
            self._worker.wake()  # the loop computes the next due time without this beat in flight

    def _beat(self, beat: BeatState) -> None:
        target = beat.target
        with self._lock:
            woken = self._woken
            pending_up, pending_down = set(beat.pending_up), set(beat.pending_down)
            since = beat.acked if beat.started else None
            acked = (beat.acked_up, beat.acked_down) if since is not None else (frozenset(), frozenset())
        devices = self._report_devices(target.id, (pending_up, pending_down), since, acked)
        report = {**self._report(), **devices.to_json()}
        if not beat.started:
            report["start_flag"] = True
        state, detail, answer = self._post(target, {"agent": report})
        with self._finished:
            if self._beats.get(target.id) is not beat:
                return  # the providers were replaced meanwhile
            previous = beat.state
            beat.state, beat.detail = state, detail
            beat.done = woken
            self._finished.notify_all()
            if state == "alive":
                self._took(beat, devices, answer, woken)
            else:
                beat.failures += 1
                cap = MAX_AUTH_BACKOFF if state == "auth_failed" else MAX_BACKOFF
                beat.next_at = time.monotonic() + min(self.interval * 2 ** min(beat.failures - 1, 12), cap)
        if state != previous:
            level = logging.INFO if state == "alive" else logging.WARNING
            log.log(level, "heartbeat to provider %s: %s%s", target.name, state, f" ({detail})" if detail else "")

    def _report_devices(self, provider_id: str, pending: tuple[set[str], set[str]], since: str | None,
                        acked: tuple[frozenset[str], frozenset[str]]) -> DeviceReport:  # fmt: skip
        """The changes since the set the provider took (``acked``: up, down; empty for a full report), plus those
        the agent was told of (``pending``: up, down; also ports gone with their VM)."""
        up_list, down_list = self._devices(provider_id)
        up, down = frozenset(up_list), frozenset(down_list)
        (sent_up, sent_down), (acked_up, acked_down) = pending, acked
        sent_up |= (up - acked_up) - sent_down
        sent_down |= ((down - acked_down) | (acked_up - up)) - sent_up
        return DeviceReport(sent_up, sent_down, up, down, device_digest(up, down), since)

    def _took(self, beat: BeatState, devices: DeviceReport, answer: dict[str, Any], woken: int) -> None:
        """A beat the provider took (under the lock)."""
        beat.statuses, beat.statuses_at = _statuses(answer, devices.sent_up | devices.sent_down), woken
        beat.failures, beat.started = 0, True
        beat.pending_up -= devices.sent_up
        beat.pending_down -= devices.sent_down
        resync = answer.get("devices_resync")
        if resync is False:
            beat.acked, beat.acked_up, beat.acked_down = devices.digest, devices.up, devices.down
        else:  # asked to report all again, or a provider that keeps no digests: the next beat reports everything
            beat.acked, beat.acked_up, beat.acked_down = None, frozenset(), frozenset()
        # woken while this beat was under way, or asked to resync: report at once, not an interval later
        again = self._woken != woken or resync is True
        beat.next_at = 0.0 if again else time.monotonic() + self.interval

    def _post(self, target: ProviderTarget, body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """Post one beat: (state, detail, the provider's answer: an empty one unless it took the beat)."""
        state, detail, response = self._send(target, body)
        answer: Any = {}
        if response is not None:
            try:
                answer = response.json()
            except ValueError:
                answer = {}
        return state, detail, answer if isinstance(answer, dict) else {}

    def _send(self, target: ProviderTarget, body: dict[str, Any]) -> tuple[str, str, requests.Response | None]:
        url = f"{target.url}/v2.0/agents/heartbeat"
        try:
            response = self._session(target).post(url, json=body, raise_exc=False, connect_retries=0,
                                                   authenticated=target.requires_authentication or None)  # fmt: skip
        except ks_exc.Unauthorized:
            return "auth_failed", f"Keystone at {target.authentication_url} refused the credentials", None
        except (ks_exc.ConnectFailure, ks_exc.ConnectionError, requests.ConnectionError) as err:
            return "failing", f"cannot connect: {type(err).__name__}", None
        except (ks_exc.ClientException, requests.RequestException) as err:
            return "failing", f"{type(err).__name__}: {str(err)[:200]}", None
        status = response.status_code
        if status in (200, 201):
            return "alive", "", response
        if status == 404:
            return "not_supported", f"{url} answered 404: this provider takes no heartbeats; not trying it again", None
        if status in (401, 403):
            return "auth_failed", f"{url} answered {status}: the credentials are not an admin's of this provider", None
        return "failing", f"{url} answered {status}: {response.text[:200]}", None

    def get_json(self, provider_id: str, path: str) -> Any:
        """GET ``path`` (``/v2.0/...``) of a provider the engine handed this agent, with its credentials; raises
        LookupError for a provider it does not know, requests/keystoneauth errors as they come."""
        with self._lock:
            beat = self._beats.get(provider_id)
        if beat is None:
            raise LookupError(f"provider {provider_id} is not one of this host's providers")
        target = beat.target
        response = self._session(target).get(f"{target.url}{path}", raise_exc=False, connect_retries=0,
                                              authenticated=target.requires_authentication or None)  # fmt: skip
        response.raise_for_status()
        return response.json()

    def _session(self, target: ProviderTarget) -> ks_session.Session:
        with self._lock:
            session = self._sessions.get(target.id)
            if session is None:
                session, _adapter = provider_session(target, target.certificates, self._timeouts, pool_maxsize=4)
                self._sessions[target.id] = session
            return session


def _statuses(answer: dict[str, Any], reported: set[str] | frozenset[str]) -> dict[str, str]:
    """{port id: status} the provider answered for the ``reported`` ports that followed: those it names, and, when it
    names only what is not ACTIVE, every other reported port it did not set aside as bound elsewhere."""
    statuses = answer.get("device_status")
    if not isinstance(statuses, dict):
        return {}
    named = {str(k): v for k, v in statuses.items() if isinstance(v, str)}
    if answer.get("device_status_omits_active") is not True:
        return named
    not_bound = answer.get("devices_not_bound")
    aside = set(named) | (set(map(str, not_bound)) if isinstance(not_bound, list) else set())
    return dict.fromkeys(set(reported) - aside, "ACTIVE") | named
