"""/admin/v1/keys: tollway keys for agents."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.tollway_keys import (
    TollwayKeyCreate,
    TollwayKeyCreated,
    TollwayKeyRead,
    TollwayKeyUpdate,
)

router = APIRouter(prefix="/keys", tags=["tollway keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_key(
    body: TollwayKeyCreate, services: ServicesDep, actor: AdminActor
) -> TollwayKeyCreated:
    """Create a key; the response carries the key itself, once."""
    return services.tollway_keys.create(body, actor)


@router.get("")
def list_keys(
    services: ServicesDep, _actor: AdminActor, team_id: uuid.UUID | None = None
) -> list[TollwayKeyRead]:
    return services.tollway_keys.list(team_id)


@router.get("/{key_id}")
def get_key(key_id: uuid.UUID, services: ServicesDep, _actor: AdminActor) -> TollwayKeyRead:
    return services.tollway_keys.get(key_id)


@router.patch("/{key_id}")
def update_key(
    key_id: uuid.UUID, body: TollwayKeyUpdate, services: ServicesDep, actor: AdminActor
) -> TollwayKeyRead:
    """Rename, change allowed models, or set ``expires_at`` (a past time expires it now)."""
    return services.tollway_keys.update(key_id, body, actor)


@router.post("/{key_id}/revoke")
def revoke_key(key_id: uuid.UUID, services: ServicesDep, actor: AdminActor) -> TollwayKeyRead:
    return services.tollway_keys.revoke(key_id, actor)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_key(key_id: uuid.UUID, services: ServicesDep, actor: AdminActor) -> Response:
    services.tollway_keys.delete(key_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
