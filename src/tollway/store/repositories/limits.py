"""Limits entries, each scoped to one team, key, provider or model."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlmodel import Session, col, select

from tollway.store.enums import LimitScope
from tollway.store.tables import LimitsInfo, Provider, ProviderKey, Team, TollwayKey


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


def scope_targets(session: Session) -> dict[LimitScope, list[tuple[uuid.UUID, str, str | None]]]:
    """Everything a limit can apply to, by scope: (id, name, owner's name or key prefix),
    by name; one query per scope. Revoked tollway keys are left out."""
    providers = session.exec(select(Provider.id, Provider.name).order_by(col(Provider.name)))
    keys = session.exec(
        select(ProviderKey.id, ProviderKey.label, Provider.name)
        .join(Provider, col(Provider.id) == col(ProviderKey.provider_id))
        .order_by(col(Provider.name), col(ProviderKey.label))
    )
    teams = session.exec(select(Team.id, Team.name).order_by(col(Team.name)))
    tollway_keys = session.exec(
        select(TollwayKey.id, TollwayKey.name, TollwayKey.prefix)
        .where(col(TollwayKey.revoked_at).is_(None))
        .order_by(col(TollwayKey.name))
    )
    return {
        LimitScope.PROVIDER: [(ident, name, None) for ident, name in providers],
        LimitScope.PROVIDER_KEY: [(ident, label, owner) for ident, label, owner in keys],
        LimitScope.TEAM: [(ident, name, None) for ident, name in teams],
        LimitScope.TOLLWAY_KEY: [(ident, name, prefix) for ident, name, prefix in tollway_keys],
    }
