"""Provider keys: references to secrets, shared or owned by a team."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from tollway.store.tables import ProviderKey


def of_provider(session: Session, provider_id: uuid.UUID) -> list[ProviderKey]:
    statement = (
        select(ProviderKey)
        .where(ProviderKey.provider_id == provider_id)
        .order_by(col(ProviderKey.created_at), col(ProviderKey.id))
    )
    return list(session.exec(statement).all())


def every_key(session: Session) -> list[ProviderKey]:
    """Every provider's keys in one query (the console's provider list counts them)."""
    return list(session.exec(select(ProviderKey)).all())
