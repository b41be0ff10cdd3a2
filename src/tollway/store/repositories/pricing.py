"""Pricing entries: a provider default (no model) or one model's prices."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from tollway.store.tables import Model, PricingInfo, Provider


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


ModelPriceRow = tuple[uuid.UUID, uuid.UUID, str, str, str, PricingInfo | None]


def published_prices(
    session: Session, provider_id: uuid.UUID | None, offset: int, limit: int
) -> tuple[int, list[ModelPriceRow]]:
    """One page of published models with their pricing rows (None: unpriced), by provider
    name, model name and the provider's model id: (model row id, provider id, provider
    name, public name, provider's model id, pricing). Two queries, whatever the page."""
    joined = (
        sa.select(
            col(Model.id),
            col(Model.provider_id),
            col(Provider.name),
            col(Model.name),
            col(Model.model_id),
            PricingInfo,
        )
        .join(Provider, col(Provider.id) == col(Model.provider_id))
        .outerjoin(PricingInfo, col(PricingInfo.model_id) == col(Model.id))
    )
    counted = select(func.count()).select_from(Model)
    if provider_id is not None:
        joined = joined.where(col(Model.provider_id) == provider_id)
        counted = counted.where(Model.provider_id == provider_id)
    ordered = joined.order_by(
        col(Provider.name), col(Model.name), col(Model.model_id), col(Model.id)
    )
    rows = session.execute(ordered.offset(offset).limit(limit)).all()
    found: list[ModelPriceRow] = [(a, b, c, d, e, f) for a, b, c, d, e, f in rows]
    return session.exec(counted).one(), found


def model_choices(session: Session) -> list[tuple[uuid.UUID, str, str, str]]:
    """Every published model as (row id, provider name, public name, provider's model
    id), in that order: what a form offers to price. One query, no ORM objects."""
    statement = (
        select(Model.id, Provider.name, Model.name, Model.model_id)
        .join(Provider, col(Provider.id) == col(Model.provider_id))
        .order_by(col(Provider.name), col(Model.name), col(Model.model_id))
    )
    return [
        (ident, provider, name, model_id)
        for ident, provider, name, model_id in session.exec(statement)
    ]


def defaults(session: Session, provider_id: uuid.UUID | None) -> list[PricingInfo]:
    """Provider default prices (no model), of one provider or all."""
    statement = select(PricingInfo).where(col(PricingInfo.model_id).is_(None))
    if provider_id is not None:
        statement = statement.where(PricingInfo.provider_id == provider_id)
    return list(session.exec(statement).all())


def provider_names(session: Session) -> list[tuple[uuid.UUID, str]]:
    """Every provider's id and name, by name: what a price list filters by."""
    statement = select(Provider.id, Provider.name).order_by(col(Provider.name))
    return [(ident, name) for ident, name in session.exec(statement)]
