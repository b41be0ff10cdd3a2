"""/admin/v1/providers/{id}/ratelimits: the limits providers publish per key."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.limits import LimitsRead
from tollway.domain.provider_limits import KeyRateLimitsRead

router = APIRouter(prefix="/providers", tags=["providers"])


@router.get("/{provider_id}/ratelimits")
def provider_ratelimits(
    provider_id: uuid.UUID, services: ServicesDep, _actor: AdminActor
) -> list[KeyRateLimitsRead]:
    """Each key's published limits and headroom, as the provider's latest response to
    this server said (per server process; null until a response through the key)."""
    return services.provider_ratelimits.of_provider(provider_id)


@router.post("/{provider_id}/keys/{key_id}/limits:from-provider")
def limits_from_provider(
    provider_id: uuid.UUID, key_id: uuid.UUID, services: ServicesDep, actor: AdminActor
) -> LimitsRead:
    """Copy the key's published request and token limits into its per-minute limits."""
    return services.provider_ratelimits.copy_to_limits(provider_id, key_id, actor)
