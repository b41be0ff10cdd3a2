"""/admin/v1/teams."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from tollway.api.admin.deps import AdminActor, ServicesDep
from tollway.domain.teams import TeamCreate, TeamRead, TeamUpdate

router = APIRouter(prefix="/teams", tags=["teams"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_team(body: TeamCreate, services: ServicesDep, actor: AdminActor) -> TeamRead:
    return services.teams.create(body, actor)


@router.get("")
def list_teams(services: ServicesDep, _actor: AdminActor) -> list[TeamRead]:
    return services.teams.list()


@router.get("/{team_id}")
def get_team(team_id: uuid.UUID, services: ServicesDep, _actor: AdminActor) -> TeamRead:
    return services.teams.get(team_id)


@router.patch("/{team_id}")
def update_team(
    team_id: uuid.UUID, body: TeamUpdate, services: ServicesDep, actor: AdminActor
) -> TeamRead:
    return services.teams.update(team_id, body, actor)


@router.delete("/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_team(team_id: uuid.UUID, services: ServicesDep, actor: AdminActor) -> Response:
    services.teams.delete(team_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
