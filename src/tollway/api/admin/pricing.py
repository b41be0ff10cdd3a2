"""/admin/v1/pricing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.price_sync import SyncResult
from tollway.domain.pricing import PricingCreate, PricingRead, PricingUpdate

router = APIRouter(prefix="/pricing", tags=["pricing"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_pricing(body: PricingCreate, services: ServicesDep, actor: AdminActor) -> PricingRead:
    return services.pricing.create(body, actor)


@router.post(":sync")
def sync_pricing(
    services: ServicesDep,
    actor: AdminActor,
    provider_id: uuid.UUID | None = None,
    dry_run: bool = False,
) -> SyncResult:
    """Every published model's non-manual price to its best source: the provider's own
    catalog, else LiteLLM's map; manual prices are never touched, unknown stays unknown."""
    return services.price_sync.sync(actor, provider_id=provider_id, dry_run=dry_run)


@router.get("")
def list_pricing(
    services: ServicesDep, _actor: AdminActor, provider_id: uuid.UUID | None = None
) -> list[PricingRead]:
    return services.pricing.list(provider_id)


@router.get("/{pricing_id}")
def get_pricing(pricing_id: uuid.UUID, services: ServicesDep, _actor: AdminActor) -> PricingRead:
    return services.pricing.get(pricing_id)


@router.patch("/{pricing_id}")
def update_pricing(
    pricing_id: uuid.UUID, body: PricingUpdate, services: ServicesDep, actor: AdminActor
) -> PricingRead:
    return services.pricing.update(pricing_id, body, actor)


@router.delete("/{pricing_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_pricing(pricing_id: uuid.UUID, services: ServicesDep, actor: AdminActor) -> Response:
    services.pricing.delete(pricing_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
