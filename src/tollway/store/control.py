"""The routing version: one counter every replica polls to know when to rebuild."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from tollway.store.tables import ControlState


def bump_routing_version(session: Session) -> None:
    session.execute(
        update(ControlState)
        .where(col(ControlState.id) == 1)
        .values(routing_version=col(ControlState.routing_version) + 1)
    )


def routing_version(session: Session) -> int:
    version = session.exec(select(ControlState.routing_version).where(ControlState.id == 1)).first()
    return version or 0
