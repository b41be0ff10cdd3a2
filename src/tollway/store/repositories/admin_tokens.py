"""Stored admin token digests."""

from __future__ import annotations

from sqlmodel import Session, select

from tollway.store.tables import AdminToken


def any_stored(session: Session) -> bool:
    return session.exec(select(AdminToken.id)).first() is not None


def digest_stored(session: Session, token_hash: str) -> bool:
    row = session.exec(select(AdminToken.id).where(AdminToken.token_hash == token_hash))
    return row.first() is not None
