"""The operator console's sessions, found by the digest of the id their cookie holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col

from tollway.store.tables import ConsoleSession


def get(session: Session, id_digest: str) -> ConsoleSession | None:
    return session.get(ConsoleSession, id_digest)


def delete_one(session: Session, id_digest: str) -> None:
    session.execute(delete(ConsoleSession).where(col(ConsoleSession.id_digest) == id_digest))


def delete_expired(session: Session, now: datetime) -> None:
    session.execute(delete(ConsoleSession).where(col(ConsoleSession.expires_at) <= now))
