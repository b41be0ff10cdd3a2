"""What the catalog service answers, and its errors."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from tollway.domain.common import Money, Output
from tollway.errors import ConflictError, TollwayError


class CatalogEntry(Output):
    model_id: str
    display_name: str | None
    context_window: int | None
    max_output_tokens: int | None
    input_modalities: list[str]
    output_modalities: list[str]
    capabilities: list[str]
    input_price: Money | None = Field(description="USD per input token, when known.")
    output_price: Money | None = Field(description="USD per output token, when known.")
    deprecation: str | None
    owned_by: str | None
    sources: dict[str, str] = Field(
        description="Where each filled field came from: provider, litellm, static or manual."
    )
    fetched_at: datetime


class CatalogRead(Output):
    provider_id: uuid.UUID
    provider_key_id: uuid.UUID | None = Field(
        description="The team key whose catalog this is; null: the one shared keys see."
    )
    fetched_at: datetime | None = Field(description="Last successful refresh; null: never.")
    age_seconds: float | None
    stale: bool = Field(description="Older than the TTL, or never fetched.")
    refreshing: bool = Field(description="A refresh is running in this process.")
    last_attempt_at: datetime | None
    last_outcome: str | None = Field(description="'valid', or how the last refresh failed.")
    last_error: str | None = Field(description="Why the last refresh failed; null if it worked.")
    static: bool = Field(description="The provider lists nothing: a static list stands in.")
    items: list[CatalogEntry]
    total: int
    limit: int
    offset: int


class CatalogChange(Output):
    provider_key_id: uuid.UUID | None
    outcome: str
    message: str
    skipped: bool = Field(description="Not tried: the last failure is still backed off.")
    model_count: int
    added: list[str]
    removed: list[str]
    changed: dict[str, list[str]]


class RefreshResult(Output):
    provider_id: uuid.UUID
    refreshed_at: datetime
    added: int
    removed: int
    changed: int
    missing_from_catalog: list[str] = Field(
        description="Public names of the provider's models its catalog no longer lists."
    )
    catalogs: list[CatalogChange]


class CatalogRefreshFailedError(TollwayError):
    """The provider could not be listed: its failure, classified, for the caller."""

    status_code = 502
    code = "catalog_refresh_failed"


class CatalogUnavailableError(ConflictError):
    """Nothing to refresh with: no listing for the family, or no usable key."""

    code = "catalog_unavailable"


class CatalogRefreshInProgressError(ConflictError):
    """Another replica holds the catalog's refresh."""

    code = "catalog_refresh_in_progress"
