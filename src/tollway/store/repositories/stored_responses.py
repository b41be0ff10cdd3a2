"""Stored /v1/responses answers: found only with the key that owns them, and only
until they expire."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, delete, select

from tollway.store.tables import StoredResponse


def find_live(
    session: Session, response_id: str, owner: uuid.UUID, now: datetime
) -> StoredResponse | None:
    """The owner's unexpired response with this id; None for another key's, an expired
    one and a missing one alike."""
    statement = select(StoredResponse).where(
        col(StoredResponse.id) == response_id,
        col(StoredResponse.tollway_key_id) == owner,
        col(StoredResponse.expires_at) > now,
    )
    return session.exec(statement).first()


def delete_live(session: Session, response_id: str, owner: uuid.UUID, now: datetime) -> bool:
    """Delete the owner's unexpired response with this id; whether there was one."""
    statement = delete(StoredResponse).where(
        col(StoredResponse.id) == response_id,
        col(StoredResponse.tollway_key_id) == owner,
        col(StoredResponse.expires_at) > now,
    )
    return bool(session.exec(statement).rowcount)


def purge_expired(session: Session, now: datetime, batch: int) -> int:
    """Delete up to ``batch`` expired responses (small transactions, however many
    expired at once); how many were deleted."""
    expired = select(StoredResponse.id).where(col(StoredResponse.expires_at) <= now).limit(batch)
    statement = delete(StoredResponse).where(col(StoredResponse.id).in_(expired))
    return int(session.exec(statement).rowcount)
