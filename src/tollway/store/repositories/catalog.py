"""The model catalog's cache: discovered models and the refresh state, per catalog.

A catalog is one provider's list as one of its scopes sees it: ``key_id`` None for the
list its shared keys see, a team key's id for that key's own list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from tollway.store.enums import ModelStatus, ProviderType
from tollway.store.tables import CatalogRefreshState, DiscoveredModel, Model, Provider


def _key_is(column: object, key_id: uuid.UUID | None) -> object:
    return col(column).is_(None) if key_id is None else col(column) == key_id


def models_of(
    session: Session, provider_id: uuid.UUID, key_id: uuid.UUID | None
) -> list[DiscoveredModel]:
    statement = (
        select(DiscoveredModel)
        .where(DiscoveredModel.provider_id == provider_id)
        .where(_key_is(DiscoveredModel.provider_key_id, key_id))  # type: ignore[arg-type]
        .order_by(col(DiscoveredModel.model_id))
    )
    return list(session.exec(statement).all())


def page_of(
    session: Session,
    provider_id: uuid.UUID,
    key_id: uuid.UUID | None,
    *,
    capability: str | None,
    search: str | None,
    limit: int,
    offset: int,
) -> tuple[list[DiscoveredModel], int]:
    """One page of a catalog in id order, filtered in SQL, and how many rows match.

    ``search`` matches the id or the display name, in any case (``lower`` on both
    sides: SQLite folds ASCII letters only). ``capability`` matches the quoted value
    in the JSON list's text, which holds a closed set of plain names, so no JSON
    function is needed on either database."""
    conditions: list[Any] = [
        DiscoveredModel.provider_id == provider_id,
        _key_is(DiscoveredModel.provider_key_id, key_id),
    ]
    if capability:
        listed = cast(DiscoveredModel.capabilities, String)
        conditions.append(listed.contains(f'"{capability}"', autoescape=True))
    if search:
        needle = search.lower()
        conditions.append(
            or_(
                func.lower(DiscoveredModel.model_id).contains(needle, autoescape=True),
                func.lower(func.coalesce(DiscoveredModel.display_name, "")).contains(
                    needle, autoescape=True
                ),
            )
        )
    total = session.exec(select(func.count()).select_from(DiscoveredModel).where(*conditions)).one()
    rows = session.exec(
        select(DiscoveredModel)
        .where(*conditions)
        .order_by(col(DiscoveredModel.model_id))
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def all_models_of(session: Session, provider_id: uuid.UUID) -> list[DiscoveredModel]:
    """Every cached catalog of the provider, the shared one's and each team key's."""
    statement = select(DiscoveredModel).where(DiscoveredModel.provider_id == provider_id)
    return list(session.exec(statement).all())


def replace_models(
    session: Session,
    provider_id: uuid.UUID,
    key_id: uuid.UUID | None,
    rows: Iterable[DiscoveredModel],
) -> None:
    session.execute(
        delete(DiscoveredModel)
        .where(col(DiscoveredModel.provider_id) == provider_id)
        .where(_key_is(DiscoveredModel.provider_key_id, key_id))  # type: ignore[arg-type]
    )
    session.add_all(list(rows))


def scope_key(key_id: uuid.UUID | None) -> str:
    return "shared" if key_id is None else str(key_id)


def state_of(
    session: Session, provider_id: uuid.UUID, key_id: uuid.UUID | None
) -> CatalogRefreshState | None:
    statement = (
        select(CatalogRefreshState)
        .where(CatalogRefreshState.provider_id == provider_id)
        .where(CatalogRefreshState.scope_key == scope_key(key_id))
    )
    return session.exec(statement).first()


def claim(
    session: Session,
    provider_id: uuid.UUID,
    key_id: uuid.UUID | None,
    now: datetime,
    until: datetime,
) -> bool:
    """Take the refresh of one catalog until ``until``; False while another process
    holds it. The state row is created first if missing (concurrent creators: one wins,
    the others find it), then taken with one conditional update."""
    table: Any = CatalogRefreshState.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    row = {
        "id": uuid.uuid4(),
        "provider_id": provider_id,
        "provider_key_id": key_id,
        "scope_key": scope_key(key_id),
        "model_count": 0,
        "static": False,
    }
    session.execute(
        insert.values(**row).on_conflict_do_nothing(index_elements=["provider_id", "scope_key"])
    )
    taken = session.execute(
        update(CatalogRefreshState)
        .where(col(CatalogRefreshState.provider_id) == provider_id)
        .where(col(CatalogRefreshState.scope_key) == scope_key(key_id))
        .where(
            or_(
                col(CatalogRefreshState.refreshing_until).is_(None),
                col(CatalogRefreshState.refreshing_until) < now,
            )
        )
        .values(refreshing_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def listed_ids(session: Session, provider_id: uuid.UUID) -> set[str]:
    """Every model id any of the provider's catalogs lists."""
    statement = select(DiscoveredModel.model_id).where(DiscoveredModel.provider_id == provider_id)
    return set(session.exec(statement).all())


def flag_missing(session: Session, provider_id: uuid.UUID, listed: set[str]) -> list[Model]:
    """Set ``missing_from_catalog`` on the provider's models; the models whose flag moved."""
    moved = []
    for model in session.exec(select(Model).where(Model.provider_id == provider_id)).all():
        missing = model.model_id not in listed
        if model.missing_from_catalog != missing:
            model.missing_from_catalog = missing
            session.add(model)
            moved.append(model)
    return moved


def clear_missing(session: Session, provider_id: uuid.UUID) -> None:
    session.execute(
        update(Model)
        .where(col(Model.provider_id) == provider_id)
        .values(missing_from_catalog=False)
    )


def missing_by_type(session: Session) -> dict[ProviderType, int]:
    statement = (
        select(Provider.type, func.count())
        .select_from(Model)
        .join(Provider, col(Provider.id) == col(Model.provider_id))
        .where(col(Model.missing_from_catalog).is_(True))
        .where(col(Model.status) != ModelStatus.RETIRED.value)
        .group_by(col(Provider.type))
    )
    return {ProviderType(kind): int(count) for kind, count in session.exec(statement).all()}


def scope_keys(session: Session, provider_id: uuid.UUID) -> set[uuid.UUID | None]:
    """The catalogs of a provider that were ever refreshed, by key (None: shared)."""
    statement = select(CatalogRefreshState.provider_key_id).where(
        CatalogRefreshState.provider_id == provider_id
    )
    return set(session.exec(statement).all())


def missing_names(session: Session, provider_id: uuid.UUID) -> list[str]:
    statement = (
        select(Model.name)
        .where(Model.provider_id == provider_id)
        .where(col(Model.missing_from_catalog).is_(True))
        .where(col(Model.status) != ModelStatus.RETIRED.value)
        .order_by(col(Model.name))
    )
    return list(session.exec(statement).all())


def entries_of(session: Session, provider_id: uuid.UUID) -> dict[str, DiscoveredModel]:
    """Every model any of the provider's catalogs lists, by id (the shared catalog's
    entry first, a team key's where only it lists the model)."""
    statement = (
        select(DiscoveredModel)
        .where(DiscoveredModel.provider_id == provider_id)
        .order_by(col(DiscoveredModel.provider_key_id).is_not(None))
    )
    found: dict[str, DiscoveredModel] = {}
    for row in session.exec(statement).all():
        found.setdefault(row.model_id, row)
    return found


def states_of(session: Session, provider_id: uuid.UUID) -> list[CatalogRefreshState]:
    statement = select(CatalogRefreshState).where(CatalogRefreshState.provider_id == provider_id)
    return list(session.exec(statement).all())


def shared_states(session: Session) -> list[CatalogRefreshState]:
    """The refresh state of every provider's shared catalog, in one query."""
    statement = select(CatalogRefreshState).where(CatalogRefreshState.scope_key == scope_key(None))
    return list(session.exec(statement).all())
