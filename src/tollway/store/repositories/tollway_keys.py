"""Tollway keys (the keys clients present)."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from tollway.store.tables import TollwayKey


def in_creation_order(session: Session, team_id: uuid.UUID | None = None) -> list[TollwayKey]:
    statement = select(TollwayKey).order_by(col(TollwayKey.created_at), col(TollwayKey.id))
    if team_id is not None:
        statement = statement.where(TollwayKey.team_id == team_id)
    return list(session.exec(statement).all())
