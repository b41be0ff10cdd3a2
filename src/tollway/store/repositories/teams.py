"""Teams and what they own."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, select

from tollway.store.tables import ProviderKey, Team, TollwayKey


def by_name(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(Team.name)).all())


def name_taken(session: Session, name: str) -> bool:
    return session.exec(select(Team.id).where(Team.name == name)).first() is not None


def owned_keys(session: Session, team_id: uuid.UUID) -> dict[str, int]:
    """How many provider keys and tollway keys the team owns, by kind."""
    owned: dict[str, int] = {}
    for table, kind in ((ProviderKey, "provider key"), (TollwayKey, "tollway key")):
        statement = select(func.count()).select_from(table).where(table.team_id == team_id)
        owned[kind] = session.exec(statement).one()
    return owned
