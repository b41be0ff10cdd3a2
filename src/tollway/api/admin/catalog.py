"""/admin/v1/providers/{id}/catalog: a provider's model catalog, served from the cache."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.api.errors import ErrorBody
from tollway.domain.catalog_query import CatalogQuery
from tollway.domain.catalog_schemas import CatalogRead, RefreshResult
from tollway.providers.catalog import Capability

router = APIRouter(prefix="/providers", tags=["catalog"])

_REFRESH_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "The provider cannot be listed (no listing, no enabled key), or "
        "another replica is refreshing it now (catalog_refresh_in_progress)",
    },
    502: {
        "model": ErrorBody,
        "description": "The provider's models could not be listed; details.outcome says how "
        "(rejected, forbidden, rate_limited, provider_error, timeout, …)",
    },
}


@router.get("/{provider_id}/catalog")
def read_catalog(
    provider_id: uuid.UUID,
    *,
    services: ServicesDep,
    _actor: AdminActor,
    capability: Annotated[Capability | None, Query(description="Only models with it.")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Search the id and display name.")
    ] = None,
    key_id: Annotated[
        uuid.UUID | None, Query(description="A team key's own catalog; default: the shared one.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> CatalogRead:
    """From the cache, at once, even with the provider down; a stale catalog is
    refreshed in the background."""
    query = CatalogQuery(key_id, capability, q, limit, offset)
    return services.catalog.read(provider_id, query)


@router.post("/{provider_id}/catalog:refresh", responses=_REFRESH_ERRORS)
def refresh_catalog(
    provider_id: uuid.UUID, services: ServicesDep, actor: AdminActor
) -> RefreshResult:
    """List the provider's models now (every catalog: shared keys' and each team key's)
    and say what changed."""
    return services.catalog.refresh(provider_id, actor)
