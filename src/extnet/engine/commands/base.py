"""Engine commands in oVirt's shape: validate every rule, execute, compensate on failure.

A command's ``validate`` yields one ``Violation`` per broken rule, each with its own message naming the object,
so a user sees everything that is wrong at once. ``run`` turns violations into one fault in oVirt's form
("[Cannot add Network. <message> <message>]").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from extnet.engine.errors import Conflict, Fault

R = TypeVar("R")


@dataclass(frozen=True)
class Violation:
    message: str
    status: int = 409  # 400: the input is malformed or out of range; 409: it conflicts with the inventory


class Command(ABC, Generic[R]):
    """One user action. Subclasses set ``verb`` and ``noun`` for the fault text ("Cannot add Network.")."""

    verb = "perform"
    noun = "action"

    def __init__(self, session: Session) -> None:
        self.session = session

    @abstractmethod
    def validate(self) -> Iterable[Violation]: ...

    @abstractmethod
    def execute(self) -> R: ...

    def compensate(self) -> None:
        """Undo effects outside the database transaction (which is rolled back anyway)."""

    def integrity_message(self, error: IntegrityError) -> str:
        """The message for a database constraint that caught a race the validation could not see."""
        return f"The {self.noun.lower()} conflicts with a concurrent change; retry the request."


def run(command: Command[R]) -> R:
    violations = list(command.validate())
    if violations:
        raise _fault(command, violations)
    try:
        result = command.execute()
        command.session.flush()  # constraint violations surface here, inside the compensation scope
        return result
    except IntegrityError as err:
        command.compensate()
        raise Conflict(f"[Cannot {command.verb} {command.noun}. {_integrity_message(command, err)}]") from None
    except BaseException:
        command.compensate()
        raise


def _integrity_message(command: Command[R], error: IntegrityError) -> str:
    # After a failed flush the session has expired its rows: a message that reads them cannot load them again.
    try:
        return command.integrity_message(error)
    except Exception:  # noqa: BLE001 - any failure here must not turn a conflict into a 500
        return f"The {command.noun.lower()} conflicts with a concurrent change; retry the request."


def _fault(command: Command[R], violations: list[Violation]) -> Fault:
    messages = " ".join(_sentence(v.message) for v in violations)
    return Fault(f"[Cannot {command.verb} {command.noun}. {messages}]", status=violations[0].status)


def _sentence(message: str) -> str:
    return message if message.endswith((".", "?", "!")) else message + "."
