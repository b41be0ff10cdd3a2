"""What one read of a cached catalog asks for, and the page it answers: the rows come
filtered and paged from SQL (``repositories.catalog.page_of``), since a big provider
lists thousands of models and a console page shows fifty."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tollway.domain.catalog_schemas import CatalogEntry, CatalogRead
from tollway.providers.catalog import Capability
from tollway.store.tables import CatalogRefreshState, DiscoveredModel, utcnow


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    key_id: uuid.UUID | None = None  # a team key's catalog; None: the shared one
    capability: Capability | None = None
    search: str | None = None  # in the id or the display name, any case
    limit: int = 100
    offset: int = 0


def catalog_page(
    provider_id: uuid.UUID,
    window: Sequence[DiscoveredModel],
    state: CatalogRefreshState | None,
    query: CatalogQuery,
    ttl_seconds: float,
    *,
    total: int,
    refreshing: bool,
) -> CatalogRead:
    now = utcnow()
    fetched_at = state.last_success_at if state else None
    age = (now - fetched_at).total_seconds() if fetched_at else None
    # Another replica holding the refresh lease is refreshing too.
    leased = bool(state and state.refreshing_until and state.refreshing_until > now)
    return CatalogRead(
        provider_id=provider_id,
        provider_key_id=query.key_id,
        fetched_at=fetched_at,
        age_seconds=round(age, 3) if age is not None else None,
        stale=age is None or age > ttl_seconds,
        refreshing=refreshing or leased,
        last_attempt_at=state.last_attempt_at if state else None,
        last_outcome=state.last_outcome if state else None,
        last_error=state.last_error if state else None,
        static=bool(state and state.static),
        items=[CatalogEntry.model_validate(row) for row in window],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )
