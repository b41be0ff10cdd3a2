"""/admin/v1/models, and publishing a provider's catalog models in bulk."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import Field

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.api.app_state import app_runtime
from tollway.api.errors import ErrorBody
from tollway.domain.common import Input, Page
from tollway.domain.models import Identifier, ModelCreate, ModelRead, ModelUpdate, ModelWritten
from tollway.domain.verification_schemas import VerificationRead, VerificationRun, VerifyRequest
from tollway.domain.verification_tests import Suite
from tollway.errors import ValidationError

router = APIRouter(prefix="/models", tags=["models"])
publish_router = APIRouter(prefix="/providers", tags=["models"])

SkipCheck = Annotated[
    bool,
    Query(
        description="Do not look at the provider's catalog (for providers that list nothing "
        "or not this model): nothing is checked or filled; the audit event records it."
    ),
]
_CHECK_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "Invalid body; model_not_in_catalog (details.unknown: each unknown id "
        "with its closest listed ones); catalog_unavailable (no catalog to check against)",
    },
}


class PublishItem(Input):
    model_id: Identifier = Field(description="An id of the provider's catalog.")
    name: Identifier | None = Field(default=None, description="Public name; default: model_id.")


class PublishRequest(Input):
    models: list[PublishItem] = Field(min_length=1, max_length=500)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_CHECK_ERRORS)
def create_model(
    body: ModelCreate,
    services: ServicesDep,
    actor: AdminActor,
    skip_catalog_check: SkipCheck = False,
) -> ModelWritten:
    """model_id is checked against the provider's catalog (refreshed first when stale);
    limits and flags not given are filled from the catalog entry."""
    return services.models.create(body, actor, skip_catalog_check=skip_catalog_check)


@router.get("")
def list_models(
    services: ServicesDep,
    _actor: AdminActor,
    name: Annotated[str | None, Query(max_length=400, description="Public name")] = None,
    provider_id: uuid.UUID | None = None,
    include_retired: Annotated[
        bool,
        Query(
            description="Also list retired models (deleted while they had verification "
            "results; kept for the record, never routed to)."
        ),
    ] = False,
) -> list[ModelRead]:
    retired = None if include_retired else False
    return services.models.list(name=name, provider_id=provider_id, retired=retired)


@router.get("/{model_id}")
def get_model(model_id: uuid.UUID, services: ServicesDep, _actor: AdminActor) -> ModelRead:
    return services.models.get(model_id)


@router.patch("/{model_id}", responses=_CHECK_ERRORS)
def update_model(
    model_id: uuid.UUID,
    body: ModelUpdate,
    services: ServicesDep,
    actor: AdminActor,
    skip_catalog_check: SkipCheck = False,
) -> ModelWritten:
    """A changed model_id is checked against the provider's catalog."""
    return services.models.update(model_id, body, actor, skip_catalog_check=skip_catalog_check)


_DELETE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": ModelRead,
        "description": "Retired, not deleted: the model had "
        "verification results, which are kept (status retired)",
    },
    204: {"description": "Deleted"},
    409: {
        "model": ErrorBody,
        "description": "strict=true and the model has verification "
        "results; or the model is retired (PATCH, verify)",
    },
}


@router.delete("/{model_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_DELETE_ANSWERS)
def delete_model(
    model_id: uuid.UUID,
    services: ServicesDep,
    actor: AdminActor,
    strict: Annotated[
        bool,
        Query(description="Refuse (409) rather than retire a model with verification results."),
    ] = False,
) -> Response:
    """Delete a model. One with verification results is retired instead: out of routing
    and listings, its results kept and readable; the answer is then 200 with the model."""
    retired = services.models.delete(model_id, actor, strict=strict)
    if retired is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return Response(retired.model_dump_json(), media_type="application/json")


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


@publish_router.post(
    "/{provider_id}/models:publish", status_code=status.HTTP_201_CREATED, responses=_CHECK_ERRORS
)
def publish_models(
    provider_id: uuid.UUID,
    body: PublishRequest,
    services: ServicesDep,
    actor: AdminActor,
    skip_catalog_check: SkipCheck = False,
) -> list[ModelWritten]:
    """Publish catalog models under public names, all or nothing: one id the catalog
    does not list refuses the whole request (422 naming each unknown id)."""
    items = [(item.model_id, item.name or item.model_id) for item in body.models]
    repeated = sorted({pair for pair in items if items.count(pair) > 1})
    if repeated:
        raise ValidationError(
            "a model is listed twice under the same name: "
            + ", ".join(f"{model_id} as {name}" for model_id, name in repeated),
            details=[{"loc": ["body", "models"], "msg": "repeated model_id and name"}],
        )
    return services.models.publish(provider_id, items, actor, skip_catalog_check=skip_catalog_check)
