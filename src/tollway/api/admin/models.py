"""/admin/v1/models."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.api.app_state import app_runtime
from tollway.domain.common import Page
from tollway.domain.models import ModelCreate, ModelRead, ModelUpdate
from tollway.domain.verification_schemas import VerificationRead, VerificationRun, VerifyRequest
from tollway.domain.verification_tests import Suite

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


@router.post("/{model_id}/verify")
async def verify_model(
    model_id: uuid.UUID,
    request: Request,
    actor: AdminActor,
    suite: Annotated[Suite, Query(description=VerifyRequest.model_fields["suite"].description)] = (
        Suite.BASIC
    ),
) -> VerificationRun:
    """Run the model's verification tests now (through the engine, billed to the system
    team ``verification``) and answer every result and the model's resulting status."""
    return await app_runtime(request.app).verification.verify(model_id, suite, actor)


@router.get("/{model_id}/verifications")
def list_verifications(
    model_id: uuid.UUID,
    request: Request,
    _actor: AdminActor,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Page[VerificationRead]:
    """The model's verification results, newest first."""
    return app_runtime(request.app).verification.history(model_id, limit, offset)
