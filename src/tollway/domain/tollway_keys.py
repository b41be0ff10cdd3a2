"""Tollway keys: what agents authenticate with on /v1.

A key is ``tw-`` plus 256 random bits, shown once at creation and stored only as
a SHA-256 digest (a fast hash is right here: the input is random, not a password).
Revocation and expiry reach every replica through the routing table rebuild.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from tollway.domain.common import Actor, Input, Name, Output, audit, target
from tollway.domain.names import printable_name
from tollway.domain.teams import get_team
from tollway.errors import ConflictError, ValidationError
from tollway.store.db import Database, Session
from tollway.store.repositories import rows, tollway_keys
from tollway.store.repositories.names import names_by_id
from tollway.store.tables import TollwayKey, utcnow

KEY_PREFIX = "tw-"
SHOWN_PREFIX_LENGTH = 10  # "tw-" and 7 characters: enough to recognise a key in a list

ModelName = Annotated[str, Field(min_length=1, max_length=400), AfterValidator(printable_name)]


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class TollwayKeyCreate(Input):
    name: Name
    team_id: uuid.UUID | None = Field(
        default=None, description="Owner; its own provider keys are used first (BYOK)."
    )
    allowed_models: list[ModelName] | None = Field(
        default=None, max_length=1000, description="Public model names; null allows all."
    )
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware_future(cls, value: datetime | None) -> datetime | None:
        return _check_expiry(value)


class TollwayKeyUpdate(Input):
    name: Name | None = None
    allowed_models: list[ModelName] | None = Field(default=None, max_length=1000)
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at needs a timezone, e.g. 2027-01-01T00:00:00Z")
        return value


class TollwayKeyRead(Output):
    id: uuid.UUID
    name: str
    prefix: str
    team_id: uuid.UUID | None
    team_name: str | None = Field(description="Null without a team, or when it was deleted.")
    allowed_models: list[str] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TollwayKeyCreated(TollwayKeyRead):
    key: str = Field(description="The key itself. Shown once; store it now.")


def _check_expiry(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("expires_at needs a timezone, e.g. 2027-01-01T00:00:00Z")
    if value <= utcnow():
        raise ValueError("expires_at must be in the future")
    return value


def read_keys(session: Session, listed: Sequence[TollwayKey]) -> list[TollwayKeyRead]:
    """With their teams' names, looked up once for the whole list."""
    names = names_by_id(session, "team", {row.team_id for row in listed if row.team_id})
    return [
        TollwayKeyRead.model_validate(
            {**row.model_dump(), "team_name": names.get(row.team_id) if row.team_id else None}
        )
        for row in listed
    ]


def read_key(session: Session, row: TollwayKey) -> TollwayKeyRead:
    return read_keys(session, [row])[0]


def get_tollway_key(session: Session, key_id: uuid.UUID) -> TollwayKey:
    return rows.require(session, TollwayKey, key_id, "tollway key")


class TollwayKeyService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, data: TollwayKeyCreate, actor: Actor) -> TollwayKeyCreated:
        key = new_key()
        with self._db.session() as session:
            team_name = get_team(session, data.team_id).name if data.team_id else None
            row = TollwayKey(
                name=data.name,
                team_id=data.team_id,
                prefix=key[:SHOWN_PREFIX_LENGTH],
                key_hash=key_digest(key),
                allowed_models=_unique(data.allowed_models),
                expires_at=data.expires_at,
            )
            session.add(row)
            audit(
                session, actor, "tollway_key.create", target("tollway_key", row.id), _summary(row)
            )
            session.flush()
            return TollwayKeyCreated.model_validate(
                {**row.model_dump(), "team_name": team_name, "key": key}
            )

    def list(self, team_id: uuid.UUID | None = None) -> list[TollwayKeyRead]:
        with self._db.session() as session:
            return read_keys(session, tollway_keys.in_creation_order(session, team_id))

    def count_by_team(self) -> dict[uuid.UUID | None, int]:
        """How many keys each team owns (None: keys without a team), in one query."""
        with self._db.session() as session:
            return tollway_keys.count_by_team(session)

    def get(self, key_id: uuid.UUID) -> TollwayKeyRead:
        with self._db.session() as session:
            return read_key(session, get_tollway_key(session, key_id))

    def update(self, key_id: uuid.UUID, data: TollwayKeyUpdate, actor: Actor) -> TollwayKeyRead:
        changes = data.model_dump(exclude_unset=True)
        if "name" in changes and changes["name"] is None:
            raise ValidationError("name cannot be null")
        with self._db.session() as session:
            row = get_tollway_key(session, key_id)
            for field, value in changes.items():
                setattr(row, field, _unique(value) if field == "allowed_models" else value)
            row.updated_at = utcnow()
            session.add(row)
            audit(
                session, actor, "tollway_key.update", target("tollway_key", row.id), _summary(row)
            )
            session.flush()
            return read_key(session, row)

    def revoke(self, key_id: uuid.UUID, actor: Actor) -> TollwayKeyRead:
        with self._db.session() as session:
            row = get_tollway_key(session, key_id)
            if row.revoked_at is not None:
                raise ConflictError(f"tollway key '{key_id}' is already revoked")
            row.revoked_at = row.updated_at = utcnow()
            session.add(row)
            audit(
                session, actor, "tollway_key.revoke", target("tollway_key", row.id), _summary(row)
            )
            session.flush()
            return read_key(session, row)

    def delete(self, key_id: uuid.UUID, actor: Actor) -> None:
        with self._db.session() as session:
            row = get_tollway_key(session, key_id)
            session.delete(row)
            audit(
                session, actor, "tollway_key.delete", target("tollway_key", key_id), _summary(row)
            )

    def touch(self, used: dict[uuid.UUID, datetime]) -> None:
        """Record last use, batched by the data plane; never audited (not a change)."""
        with self._db.session() as session:
            for key_id, when in used.items():
                row = rows.find(session, TollwayKey, key_id)
                if row is not None and (row.last_used_at is None or row.last_used_at < when):
                    row.last_used_at = when
                    session.add(row)


def _unique(models: list[str] | None) -> list[str] | None:
    return None if models is None else list(dict.fromkeys(models))


def _summary(row: TollwayKey) -> dict[str, str | None]:
    return {
        "name": row.name,
        "prefix": row.prefix,
        "team_id": str(row.team_id) if row.team_id else None,
    }
