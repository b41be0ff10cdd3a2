"""/admin/v1/models."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.models import ModelCreate, ModelRead, ModelUpdate

router = APIRouter(prefix="/models", tags=["models"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_model(body: ModelCreate, services: ServicesDep, actor: AdminActor) -> ModelRead:
    return services.models.create(body, actor)


@router.get("")
def list_models(
    services: ServicesDep,
    _actor: AdminActor,
    name: Annotated[str | None, Query(max_length=400, description="Public name")] = None,
    provider_id: uuid.UUID | None = None,
) -> list[ModelRead]:
    return services.models.list(name=name, provider_id=provider_id)


@router.get("/{model_id}")
def get_model(model_id: uuid.UUID, services: ServicesDep, _actor: AdminActor) -> ModelRead:
    return services.models.get(model_id)


@router.patch("/{model_id}")
def update_model(
    model_id: uuid.UUID, body: ModelUpdate, services: ServicesDep, actor: AdminActor
) -> ModelRead:
    return services.models.update(model_id, body, actor)


@router.delete("/{model_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_model(model_id: uuid.UUID, services: ServicesDep, actor: AdminActor) -> Response:
    services.models.delete(model_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
