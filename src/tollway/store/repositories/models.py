"""Models: the names clients ask for, each served by one provider."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from tollway.store.enums import ModelStatus
from tollway.store.tables import Model

_LIVE = col(Model.status) != ModelStatus.RETIRED.value


def listed(
    session: Session,
    *,
    name: str | None = None,
    provider_id: uuid.UUID | None = None,
    retired: bool | None = False,
) -> list[Model]:
    """By name, then highest priority first. ``retired``: False hides retired models,
    True lists only them, None lists both."""
    statement = select(Model).order_by(col(Model.name), col(Model.priority).desc(), col(Model.id))
    if retired is not None:
        statement = statement.where(~_LIVE if retired else _LIVE)
    if name is not None:
        statement = statement.where(Model.name == name)
    if provider_id is not None:
        statement = statement.where(Model.provider_id == provider_id)
    return list(session.exec(statement).all())


def names_by_model_id(session: Session, provider_id: uuid.UUID) -> list[tuple[str, str]]:
    """(model id, public name) of each of the provider's models, by public name."""
    statement = (
        select(Model.model_id, Model.name)
        .where(Model.provider_id == provider_id)
        .order_by(col(Model.name))
    )
    return [(model_id, name) for model_id, name in session.exec(statement).all()]


def of_provider(session: Session, provider_id: uuid.UUID) -> list[Model]:
    return list(session.exec(select(Model).where(Model.provider_id == provider_id)))


def by_name(session: Session) -> list[Model]:
    """By name, then id: a stable order for documents that list every model (retired
    ones are no longer part of the configuration)."""
    statement = select(Model).where(_LIVE).order_by(col(Model.name), col(Model.id))
    return list(session.exec(statement).all())


def named(session: Session, name: str) -> list[Model]:
    """Every deployment published under one public name (retired ones are not)."""
    return list(session.exec(select(Model).where(Model.name == name).where(_LIVE)).all())


def count_by_provider(session: Session) -> dict[uuid.UUID, int]:
    """How many live models each provider serves, in one query (retired ones are not)."""
    statement = (
        select(Model.provider_id, func.count()).where(_LIVE).group_by(col(Model.provider_id))
    )
    return {provider_id: count for provider_id, count in session.exec(statement).all()}


def public_names(session: Session) -> list[str]:
    """Every public name, once, in order (names only retired models hold still count:
    their usage is still in the reports)."""
    return list(session.exec(select(Model.name).distinct().order_by(col(Model.name))).all())
