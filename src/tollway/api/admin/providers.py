"""/admin/v1/providers and their keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.connectivity import ProviderTestResult
from tollway.domain.provider_keys import ProviderKeyCreate, ProviderKeyRead, ProviderKeyRotate
from tollway.domain.providers import ProviderCreate, ProviderRead, ProviderUpdate

router = APIRouter(prefix="/providers", tags=["providers"])

Validate = Annotated[bool, Query(description="Test every key against the provider after saving.")]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_provider(
    body: ProviderCreate, services: ServicesDep, actor: AdminActor, validate: Validate = False
) -> ProviderRead:
    provider = services.providers.create(body, actor)
    if validate:
        services.connectivity.test(provider.id, actor)
        provider = services.providers.get(provider.id)
    return provider


@router.get("")
def list_providers(services: ServicesDep, _actor: AdminActor) -> list[ProviderRead]:
    return services.providers.list_all()


@router.get("/{provider_id}")
def get_provider(provider_id: uuid.UUID, services: ServicesDep, _actor: AdminActor) -> ProviderRead:
    return services.providers.get(provider_id)


@router.patch("/{provider_id}")
def update_provider(
    provider_id: uuid.UUID,
    body: ProviderUpdate,
    services: ServicesDep,
    actor: AdminActor,
    validate: Validate = False,
) -> ProviderRead:
    provider = services.providers.update(provider_id, body, actor)
    if validate:
        services.connectivity.test(provider.id, actor)
        provider = services.providers.get(provider.id)
    return provider


@router.delete("/{provider_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_provider(
    provider_id: uuid.UUID,
    services: ServicesDep,
    actor: AdminActor,
    strict: Annotated[
        bool, Query(description="Refuse with 409 while models reference the provider.")
    ] = False,
) -> Response:
    services.providers.delete(provider_id, actor, strict=strict)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{provider_id}/test")
def test_provider(
    provider_id: uuid.UUID, services: ServicesDep, actor: AdminActor
) -> ProviderTestResult:
    return services.connectivity.test(provider_id, actor)


@router.get("/{provider_id}/keys")
def list_keys(
    provider_id: uuid.UUID, services: ServicesDep, _actor: AdminActor
) -> list[ProviderKeyRead]:
    return services.provider_keys.list(provider_id)


@router.post("/{provider_id}/keys", status_code=status.HTTP_201_CREATED)
def add_key(
    provider_id: uuid.UUID, body: ProviderKeyCreate, services: ServicesDep, actor: AdminActor
) -> ProviderKeyRead:
    return services.provider_keys.add(provider_id, body, actor)


@router.post("/{provider_id}/keys/{key_id}/rotate")
def rotate_key(
    provider_id: uuid.UUID,
    key_id: uuid.UUID,
    body: ProviderKeyRotate,
    services: ServicesDep,
    actor: AdminActor,
) -> ProviderKeyRead:
    return services.provider_keys.rotate(provider_id, key_id, body, actor)


@router.post("/{provider_id}/keys/{key_id}/disable")
def disable_key(
    provider_id: uuid.UUID, key_id: uuid.UUID, services: ServicesDep, actor: AdminActor
) -> ProviderKeyRead:
    return services.provider_keys.set_enabled(provider_id, key_id, False, actor)


@router.post("/{provider_id}/keys/{key_id}/enable")
def enable_key(
    provider_id: uuid.UUID, key_id: uuid.UUID, services: ServicesDep, actor: AdminActor
) -> ProviderKeyRead:
    return services.provider_keys.set_enabled(provider_id, key_id, True, actor)


@router.delete("/{provider_id}/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_key(
    provider_id: uuid.UUID, key_id: uuid.UUID, services: ServicesDep, actor: AdminActor
) -> Response:
    services.provider_keys.delete(provider_id, key_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
