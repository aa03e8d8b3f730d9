"""When a host is ready for VMs: its agent answers and every managed provider took its first heartbeat.

A provider's scheduling needs the host's agent alive on it (``scheduling``): a host called ``up`` before that would
refuse the first VM on an external network. So a host whose agent answers but whose beats are still on their way
(``pending`` on the agent) is ``initializing``, and becomes ``up`` once each provider took the first beat or refused
it; a provider that refused or cannot be reached is named in the host's ``status_detail``, because the other
providers' networks still run there. A host already up stays up while a provider added later gets its first beat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

UP, INITIALIZING = "up", "initializing"
_TAKEN = frozenset({"alive", "not_supported"})  # not_supported: a provider with agents of its own (real Neutron)


@dataclass(frozen=True)
class Readiness:
    waiting: tuple[str, ...] = ()  # providers that have not answered the first beat yet
    failing: tuple[tuple[str, str], ...] = ()  # (provider, why) of those that refused it or cannot be reached

    def status(self, current: str) -> tuple[str, str | None]:
        """The host's (status, status_detail) now that its agent answered, ``current`` its status so far."""
        if self.waiting and current != UP:
            return INITIALIZING, (f"Waiting for {_providers(self.waiting)} to take the first heartbeat of the "
                                  "host's agent")  # fmt: skip
        if not self.failing:
            return UP, None
        return UP, "; ".join(_refusal(name, why) for name, why in self.failing)


def readiness(heartbeats: Iterable[Any]) -> Readiness:
    """What the agent's heartbeat states (``Host.ping``'s ``heartbeats``) say of the host's readiness."""
    waiting: list[str] = []
    failing: list[tuple[str, str]] = []
    for beat in heartbeats:
        if not isinstance(beat, dict):
            continue
        name, state = str(beat.get("name") or beat.get("provider_id")), beat.get("state")
        if state == "pending":
            waiting.append(name)
        elif state not in _TAKEN:
            failing.append((name, str(beat.get("detail") or state)))
    return Readiness(tuple(waiting), tuple(failing))


def _refusal(name: str, why: str) -> str:
    return (f"Provider '{name}' does not take the heartbeats of the host's agent ({why}): VMs on its networks cannot "
            "run on this host until it does")  # fmt: skip


def _providers(names: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{name}'" for name in names)
    return f"provider{'s' if len(names) > 1 else ''} {quoted}"
