"""Providers: one upstream account each."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tollway.store.tables import Provider


def in_creation_order(session: Session) -> list[Provider]:
    statement = select(Provider).order_by(col(Provider.created_at), col(Provider.id))
    return list(session.exec(statement).all())
