"""Teams: owners of tollway keys and of their own provider keys (BYOK)."""

from __future__ import annotations

import uuid
from datetime import datetime

from tollway.domain.common import Actor, Input, Name, Output, audit, target
from tollway.errors import ConflictError
from tollway.store.db import Database, Session
from tollway.store.repositories import limits, rows, teams
from tollway.store.tables import Team, utcnow


class TeamCreate(Input):
    name: Name
    byok_only: bool = False


class TeamUpdate(Input):
    name: Name | None = None
    byok_only: bool | None = None


class TeamRead(Output):
    id: uuid.UUID
    name: str
    byok_only: bool
    created_at: datetime
    updated_at: datetime


def get_team(session: Session, team_id: uuid.UUID) -> Team:
    return rows.require(session, Team, team_id, "team")


class TeamService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, data: TeamCreate, actor: Actor) -> TeamRead:
        with self._db.session() as session:
            self._ensure_name_free(session, data.name)
            team = Team(name=data.name, byok_only=data.byok_only)
            session.add(team)
            audit(session, actor, "team.create", target("team", team.id), {"name": team.name})
            session.flush()
            return TeamRead.model_validate(team)

    def list(self) -> list[TeamRead]:
        with self._db.session() as session:
            return [TeamRead.model_validate(team) for team in teams.by_name(session)]

    def get(self, team_id: uuid.UUID) -> TeamRead:
        with self._db.session() as session:
            return TeamRead.model_validate(get_team(session, team_id))

    def update(self, team_id: uuid.UUID, data: TeamUpdate, actor: Actor) -> TeamRead:
        with self._db.session() as session:
            team = get_team(session, team_id)
            changes = data.model_dump(exclude_unset=True, exclude_none=True)
            if "name" in changes and changes["name"] != team.name:
                self._ensure_name_free(session, changes["name"])
            for field, value in changes.items():
                setattr(team, field, value)
            team.updated_at = utcnow()
            session.add(team)
            audit(
                session, actor, "team.update", target("team", team.id), {"fields": sorted(changes)}
            )
            session.flush()
            return TeamRead.model_validate(team)

    def delete(self, team_id: uuid.UUID, actor: Actor) -> None:
        with self._db.session() as session:
            team = get_team(session, team_id)
            for what, owned in teams.owned_keys(session, team_id).items():
                if owned:
                    raise ConflictError(
                        f"team '{team_id}' still owns {owned} {what}(s); delete them first"
                    )
            limits.delete_for_scopes(session, [team_id])
            session.delete(team)
            audit(session, actor, "team.delete", target("team", team_id), {"name": team.name})

    @staticmethod
    def _ensure_name_free(session: Session, name: str) -> None:
        if teams.name_taken(session, name):
            raise ConflictError(f"a team named '{name}' already exists")
