"""Rate limits, token quotas and USD budgets per provider, provider key or team."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from tollway.domain.common import Actor, Input, Money, Output, audit, target
from tollway.errors import ConflictError, ValidationError
from tollway.store.db import ConstraintViolation, Database, Session
from tollway.store.enums import LimitScope
from tollway.store.repositories import limits, rows
from tollway.store.repositories.names import Named, names_by_id
from tollway.store.tables import LimitsInfo, Provider, ProviderKey, Team, TollwayKey, utcnow

Count = Annotated[int, Field(gt=0, le=10**15)]
Usd = Annotated[Decimal, Field(gt=0, le=10**9, max_digits=24, decimal_places=12)]

_SCOPE_TABLES: dict[LimitScope, type[Provider | ProviderKey | Team | TollwayKey]] = {
    LimitScope.PROVIDER: Provider,
    LimitScope.PROVIDER_KEY: ProviderKey,
    LimitScope.TEAM: Team,
    LimitScope.TOLLWAY_KEY: TollwayKey,
}

_SCOPE_NAMES: dict[LimitScope, Named] = {
    LimitScope.PROVIDER: "provider",
    LimitScope.PROVIDER_KEY: "provider_key",
    LimitScope.TEAM: "team",
    LimitScope.TOLLWAY_KEY: "tollway_key",
}


class _LimitFields(Input):
    requests_per_minute: Count | None = None
    requests_per_hour: Count | None = None
    tokens_per_minute: Count | None = None
    tokens_per_hour: Count | None = None
    tokens_per_day: Count | None = None
    tokens_per_month: Count | None = None
    usd_per_day: Usd | None = None
    usd_per_month: Usd | None = None
    usd_total: Usd | None = None


LIMIT_FIELDS = tuple(_LimitFields.model_fields)


class LimitsCreate(_LimitFields):
    scope: LimitScope
    scope_id: uuid.UUID

    @model_validator(mode="after")
    def _some_limit(self) -> LimitsCreate:
        if all(getattr(self, field) is None for field in LIMIT_FIELDS):
            raise ValueError(f"set at least one of: {', '.join(LIMIT_FIELDS)}")
        return self


class LimitsUpdate(_LimitFields):
    """Fields sent as null remove that limit."""


class LimitsRead(Output):
    id: uuid.UUID
    scope: LimitScope
    scope_id: uuid.UUID
    scope_name: str | None = Field(
        description="The team's, key's or provider's name, or the provider key's label."
    )
    requests_per_minute: int | None
    requests_per_hour: int | None
    tokens_per_minute: int | None
    tokens_per_hour: int | None
    tokens_per_day: int | None
    tokens_per_month: int | None
    usd_per_day: Money | None
    usd_per_month: Money | None
    usd_total: Money | None
    created_at: datetime
    updated_at: datetime


class LimitTarget(Output):
    """Something a limit can apply to: its scope, id and a label for people."""

    scope: LimitScope
    scope_id: uuid.UUID
    label: str


def _target_label(scope: LimitScope, name: str, extra: str | None) -> str:
    if scope is LimitScope.PROVIDER_KEY and extra:
        return f"{extra}: {name}"  # the provider's name, then the key's label
    if scope is LimitScope.TOLLWAY_KEY and extra:
        return f"{name} ({extra}…)"  # the key's prefix
    return name


def read_limits(session: Session, listed: Sequence[LimitsInfo]) -> list[LimitsRead]:
    """With the names of their scopes, looked up once per kind of scope."""
    names: dict[uuid.UUID, str] = {}
    for scope in {row.scope for row in listed}:
        ids = {row.scope_id for row in listed if row.scope == scope}
        names.update(names_by_id(session, _SCOPE_NAMES[scope], ids))
    return [
        LimitsRead.model_validate({**row.model_dump(), "scope_name": names.get(row.scope_id)})
        for row in listed
    ]


def get_limits(session: Session, limits_id: uuid.UUID) -> LimitsInfo:
    return rows.require(session, LimitsInfo, limits_id, "limits")


class LimitsService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, data: LimitsCreate, actor: Actor) -> LimitsRead:
        try:
            with self._db.session() as session:
                if not rows.exists(session, _SCOPE_TABLES[data.scope], data.scope_id):
                    raise ValidationError(f"{data.scope} '{data.scope_id}' does not exist")
                row = LimitsInfo(**data.model_dump())
                session.add(row)
                audit(session, actor, "limits.create", target("limits", row.id), _summary(row))
                session.flush()
                return read_limits(session, [row])[0]
        except ConstraintViolation:
            raise ConflictError(
                f"limits for {data.scope} '{data.scope_id}' already exist; update them instead"
            ) from None

    def targets(self) -> list[LimitTarget]:
        """Every provider, provider key, team and live tollway key a limit can apply
        to, by scope then name; one query per scope."""
        with self._db.session() as session:
            found = limits.scope_targets(session)
        return [
            LimitTarget(scope=scope, scope_id=ident, label=_target_label(scope, name, extra))
            for scope in LimitScope
            for ident, name, extra in found[scope]
        ]

    def list(
        self, scope: LimitScope | None = None, scope_id: uuid.UUID | None = None
    ) -> list[LimitsRead]:
        with self._db.session() as session:
            return read_limits(session, limits.listed(session, scope, scope_id))

    def get(self, limits_id: uuid.UUID) -> LimitsRead:
        with self._db.session() as session:
            return read_limits(session, [get_limits(session, limits_id)])[0]

    def update(self, limits_id: uuid.UUID, data: LimitsUpdate, actor: Actor) -> LimitsRead:
        changes = data.model_dump(exclude_unset=True)
        with self._db.session() as session:
            row = get_limits(session, limits_id)
            for field, value in changes.items():
                setattr(row, field, value)
            if all(getattr(row, field) is None for field in LIMIT_FIELDS):
                raise ValidationError("removing every limit leaves nothing; delete the entry")
            row.updated_at = utcnow()
            session.add(row)
            audit(session, actor, "limits.update", target("limits", row.id), _summary(row))
            session.flush()
            return read_limits(session, [row])[0]

    def delete(self, limits_id: uuid.UUID, actor: Actor) -> None:
        with self._db.session() as session:
            row = get_limits(session, limits_id)
            session.delete(row)
            audit(session, actor, "limits.delete", target("limits", limits_id), _summary(row))


def _summary(row: LimitsInfo) -> dict[str, str]:
    summary = {"scope": str(row.scope), "scope_id": str(row.scope_id)}
    summary.update({f: str(getattr(row, f)) for f in LIMIT_FIELDS if getattr(row, f) is not None})
    return summary
