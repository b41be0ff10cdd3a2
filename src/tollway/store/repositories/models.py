"""Models: the names clients ask for, each served by one provider."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from tollway.store.tables import Model


def listed(
    session: Session, *, name: str | None = None, provider_id: uuid.UUID | None = None
) -> list[Model]:
    """By name, then highest priority first."""
    statement = select(Model).order_by(col(Model.name), col(Model.priority).desc(), col(Model.id))
    if name is not None:
        statement = statement.where(Model.name == name)
    if provider_id is not None:
        statement = statement.where(Model.provider_id == provider_id)
    return list(session.exec(statement).all())


def of_provider(session: Session, provider_id: uuid.UUID) -> list[Model]:
    return list(session.exec(select(Model).where(Model.provider_id == provider_id)))


def by_name(session: Session) -> list[Model]:
    """By name, then id: a stable order for documents that list every model."""
    return list(session.exec(select(Model).order_by(col(Model.name), col(Model.id))).all())


def named(session: Session, name: str) -> list[Model]:
    """Every deployment published under one public name."""
    return list(session.exec(select(Model).where(Model.name == name)).all())


def public_names(session: Session) -> list[str]:
    """Every public name, once, in order."""
    return list(session.exec(select(Model.name).distinct().order_by(col(Model.name))).all())
