"""Limits entries, each scoped to one team, key, provider or model."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlmodel import Session, col, select

from tollway.store.enums import LimitScope
from tollway.store.tables import LimitsInfo


def listed(
    session: Session, scope: LimitScope | None = None, scope_id: uuid.UUID | None = None
) -> list[LimitsInfo]:
    statement = select(LimitsInfo).order_by(col(LimitsInfo.scope), col(LimitsInfo.created_at))
    if scope is not None:
        statement = statement.where(LimitsInfo.scope == scope)
    if scope_id is not None:
        statement = statement.where(LimitsInfo.scope_id == scope_id)
    return list(session.exec(statement).all())


def delete_for_scopes(session: Session, scope_ids: Collection[uuid.UUID]) -> None:
    """Limits of things being deleted go with them (scope ids are not foreign keys)."""
    statement = select(LimitsInfo).where(col(LimitsInfo.scope_id).in_(scope_ids))
    for limits in session.exec(statement):
        session.delete(limits)
