"""The names people know ids by, for reports that outlive what they name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from tollway.store.tables import Model, Provider, ProviderKey, Team, TollwayKey

Named = Literal["tollway_key", "team", "provider", "provider_key", "model"]

_NAME_COLUMNS: dict[Named, tuple[type[SQLModel], str]] = {
    "tollway_key": (TollwayKey, "name"),
    "team": (Team, "name"),
    "provider": (Provider, "name"),
    "provider_key": (ProviderKey, "label"),
    "model": (Model, "name"),
}
_IN_CHUNK = 500  # ids per IN (...): far below any backend's parameter limit


def names_by_id(session: Session, named: Named, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The name of each id still in the store; deleted ones are simply absent."""
    table, column = _NAME_COLUMNS[named]
    columns = table.__table__.c  # type: ignore[attr-defined]
    ordered = sorted(ids)
    found: dict[uuid.UUID, str] = {}
    for first in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[first : first + _IN_CHUNK]
        statement = sa.select(columns.id, columns[column]).where(columns.id.in_(chunk))
        found.update((ident, name) for ident, name in session.execute(statement))
    return found


def name_of(session: Session, named: Named, ident: uuid.UUID | None) -> str | None:
    """One id's name; None for no id or one deleted since."""
    return None if ident is None else names_by_id(session, named, [ident]).get(ident)
