"""Filtering and paging one cached catalog (in memory: a catalog is at most a few
thousand rows, and the capability filter reads a JSON list)."""

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


def _matches(row: DiscoveredModel, query: CatalogQuery) -> bool:
    if query.capability is not None and query.capability.value not in row.capabilities:
        return False
    if query.search:
        needle = query.search.casefold()
        haystack = f"{row.model_id} {row.display_name or ''}".casefold()
        return needle in haystack
    return True


def catalog_page(
    provider_id: uuid.UUID,
    rows: Sequence[DiscoveredModel],
    state: CatalogRefreshState | None,
    query: CatalogQuery,
    ttl_seconds: float,
    *,
    refreshing: bool,
) -> CatalogRead:
    matching = [row for row in rows if _matches(row, query)]
    window = matching[query.offset : query.offset + query.limit]
    fetched_at = state.last_success_at if state else None
    age = (utcnow() - fetched_at).total_seconds() if fetched_at else None
    return CatalogRead(
        provider_id=provider_id,
        provider_key_id=query.key_id,
        fetched_at=fetched_at,
        age_seconds=round(age, 3) if age is not None else None,
        stale=age is None or age > ttl_seconds,
        refreshing=refreshing,
        last_attempt_at=state.last_attempt_at if state else None,
        last_outcome=state.last_outcome if state else None,
        last_error=state.last_error if state else None,
        static=bool(state and state.static),
        items=[CatalogEntry.model_validate(row) for row in window],
        total=len(matching),
        limit=query.limit,
        offset=query.offset,
    )
