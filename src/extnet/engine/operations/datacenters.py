"""Removing a data center: with ``force``, its clusters' VMs go with it, and their ports then leave their providers
through the port outbox, woken once the removal has committed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from extnet.engine.commands.base import run
from extnet.engine.commands.datacenters import RemoveDataCenter
from extnet.engine.operations.pairing import after_commit
from extnet.engine.services import EngineServices
from extnet.engine.store.models import DataCenter


def remove_data_center(session: Session, services: EngineServices, dc: DataCenter, force: bool) -> None:
    run(RemoveDataCenter(session, dc, force=force))
    lifecycle = getattr(services, "lifecycle", None)
    if lifecycle is not None:
        after_commit(session, lifecycle.wake_outbox)
