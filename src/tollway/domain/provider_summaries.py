"""One line per provider for the console's list: status, keys, models, catalog age.

Read in a handful of queries whatever the number of providers (no per-provider
lookups), from the same tables the provider, key and catalog services write.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

from tollway.domain.common import Output
from tollway.store.db import Session
from tollway.store.enums import ProviderKeyStatus, ProviderStatus, ProviderType
from tollway.store.repositories import catalog, models, provider_keys, providers


class ProviderSummary(Output):
    id: uuid.UUID
    name: str
    type: ProviderType
    base_url: str | None
    status: ProviderStatus
    key_count: int
    team_key_count: int
    disabled_key_count: int
    invalid_key_count: int
    model_count: int
    catalog_fetched_at: datetime | None
    catalog_model_count: int | None
    catalog_last_outcome: str | None
    catalog_last_error: str | None


def provider_summaries(session: Session) -> list[ProviderSummary]:
    """Every provider in creation order, with its counts and its shared catalog's state."""
    keys = provider_keys.every_key(session)
    total = Counter(key.provider_id for key in keys)
    team = Counter(key.provider_id for key in keys if key.team_id is not None)
    disabled = Counter(key.provider_id for key in keys if key.status is ProviderKeyStatus.DISABLED)
    invalid = Counter(key.provider_id for key in keys if key.status is ProviderKeyStatus.INVALID)
    model_counts = models.count_by_provider(session)
    states = {state.provider_id: state for state in catalog.shared_states(session)}
    summaries = []
    for provider in providers.in_creation_order(session):
        state = states.get(provider.id)
        summaries.append(
            ProviderSummary(
                id=provider.id,
                name=provider.name,
                type=provider.type,
                base_url=provider.base_url,
                status=provider.status,
                key_count=total[provider.id],
                team_key_count=team[provider.id],
                disabled_key_count=disabled[provider.id],
                invalid_key_count=invalid[provider.id],
                model_count=model_counts.get(provider.id, 0),
                catalog_fetched_at=state.last_success_at if state else None,
                catalog_model_count=state.model_count if state and state.last_success_at else None,
                catalog_last_outcome=state.last_outcome if state else None,
                catalog_last_error=state.last_error if state else None,
            )
        )
    return summaries
