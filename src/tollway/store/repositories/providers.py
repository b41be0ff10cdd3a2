"""Providers: one upstream account each."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlmodel import Session, col, select

from tollway.store.tables import Provider


def in_creation_order(session: Session) -> list[Provider]:
    statement = select(Provider).order_by(col(Provider.created_at), col(Provider.id))
    return list(session.exec(statement).all())


def existing_ids(session: Session, wanted: Collection[uuid.UUID]) -> list[uuid.UUID]:
    """Which of ``wanted`` are providers in the store."""
    if not wanted:
        return []
    return list(session.exec(select(Provider.id).where(col(Provider.id).in_(wanted))).all())


def with_ids(session: Session, ids: Collection[uuid.UUID]) -> list[Provider]:
    return list(session.exec(select(Provider).where(col(Provider.id).in_(ids))).all())
