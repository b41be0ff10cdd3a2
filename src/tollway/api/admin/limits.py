"""/admin/v1/limits."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.limits import LimitsCreate, LimitsRead, LimitsUpdate
from tollway.store.enums import LimitScope

router = APIRouter(prefix="/limits", tags=["limits"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_limits(body: LimitsCreate, services: ServicesDep, actor: AdminActor) -> LimitsRead:
    return services.limits.create(body, actor)


@router.get("")
def list_limits(
    services: ServicesDep,
    _actor: AdminActor,
    scope: LimitScope | None = None,
    scope_id: uuid.UUID | None = None,
) -> list[LimitsRead]:
    return services.limits.list(scope, scope_id)


@router.get("/{limits_id}")
def get_limits(limits_id: uuid.UUID, services: ServicesDep, _actor: AdminActor) -> LimitsRead:
    return services.limits.get(limits_id)


@router.patch("/{limits_id}")
def update_limits(
    limits_id: uuid.UUID, body: LimitsUpdate, services: ServicesDep, actor: AdminActor
) -> LimitsRead:
    return services.limits.update(limits_id, body, actor)


@router.delete("/{limits_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_limits(limits_id: uuid.UUID, services: ServicesDep, actor: AdminActor) -> Response:
    services.limits.delete(limits_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
