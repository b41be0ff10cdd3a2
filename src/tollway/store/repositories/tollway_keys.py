"""Tollway keys (the keys clients present)."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from tollway.store.tables import TollwayKey


def in_creation_order(session: Session, team_id: uuid.UUID | None = None) -> list[TollwayKey]:
    statement = select(TollwayKey).order_by(col(TollwayKey.created_at), col(TollwayKey.id))
    if team_id is not None:
        statement = statement.where(TollwayKey.team_id == team_id)
    return list(session.exec(statement).all())


def count_by_team(session: Session) -> dict[uuid.UUID | None, int]:
    """How many tollway keys each team owns (None: keys without a team), in one query."""
    statement = select(TollwayKey.team_id, func.count()).group_by(col(TollwayKey.team_id))
    return {team_id: count for team_id, count in session.exec(statement).all()}
