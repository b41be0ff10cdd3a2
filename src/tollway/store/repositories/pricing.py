"""Pricing entries: a provider default (no model) or one model's prices."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlmodel import Session, col, select

from tollway.store.tables import PricingInfo


def listed(session: Session, provider_id: uuid.UUID | None = None) -> list[PricingInfo]:
    statement = select(PricingInfo).order_by(col(PricingInfo.provider_id), col(PricingInfo.id))
    if provider_id is not None:
        statement = statement.where(PricingInfo.provider_id == provider_id)
    return list(session.exec(statement).all())


def scope_taken(session: Session, provider_id: uuid.UUID, model_id: uuid.UUID | None) -> bool:
    # The unique constraint cannot see duplicates of the provider default: SQL
    # treats NULL model ids as distinct.
    statement = select(PricingInfo.id).where(
        PricingInfo.provider_id == provider_id, PricingInfo.model_id == model_id
    )
    return session.exec(statement).first() is not None


def of_providers(session: Session, provider_ids: Collection[uuid.UUID]) -> list[PricingInfo]:
    statement = select(PricingInfo).where(col(PricingInfo.provider_id).in_(provider_ids))
    return list(session.exec(statement).all())
