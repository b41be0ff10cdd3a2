"""Models: a provider's model published under a public name agents ask for."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from tollway.domain.common import Actor, Input, Output, Text, audit, target
from tollway.domain.names import printable_name
from tollway.domain.verification_schemas import VerificationSummary, summary_of
from tollway.errors import ValidationError
from tollway.store.db import Database, Session
from tollway.store.enums import ModelStatus, RoutingStrategy
from tollway.store.repositories import models, rows, verifications
from tollway.store.repositories.names import names_by_id
from tollway.store.tables import Model, Provider, VerificationResult, utcnow

Identifier = Annotated[
    str, Field(min_length=1, max_length=400, pattern=r"^\S(.*\S)?$"), AfterValidator(printable_name)
]
ShortText = Annotated[str, Field(max_length=200)]
TokenCount = Annotated[int, Field(gt=0, le=100_000_000)]


class _ModelFields(Input):
    description: Text | None = None
    version: Annotated[str, Field(max_length=100)] | None = None
    architecture: ShortText | None = None
    max_input_tokens: TokenCount | None = None
    max_output_tokens: TokenCount | None = None
    openrouter_model_id: Identifier | None = None


class ModelCreate(_ModelFields):
    provider_id: uuid.UUID
    model_id: Identifier = Field(description="The provider's own id for the model.")
    name: Identifier = Field(description="Public name agents ask for; may be shared.")
    supports_streaming: bool = True
    supports_reasoning: bool = False
    priority: int = Field(default=0, ge=-1000, le=1000)
    weight: int = Field(default=1, ge=0, le=1000)
    routing_strategy: RoutingStrategy = Field(
        default=RoutingStrategy.PRIORITY,
        description="How deployments sharing this public name are ordered; when rows "
        "disagree, the highest-priority row's strategy applies.",
    )
    enabled: bool = True


class ModelUpdate(_ModelFields):
    model_id: Identifier | None = None
    name: Identifier | None = None
    supports_streaming: bool | None = None
    supports_reasoning: bool | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    weight: int | None = Field(default=None, ge=0, le=1000)
    routing_strategy: RoutingStrategy | None = None
    enabled: bool | None = None


class ModelRead(Output):
    id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str | None = Field(description="Null when the provider was deleted.")
    model_id: str
    name: str
    description: str | None
    version: str | None
    architecture: str | None
    max_input_tokens: int | None
    max_output_tokens: int | None
    supports_streaming: bool
    supports_reasoning: bool
    openrouter_model_id: str | None
    legacy_id: str | None = Field(
        description="The id a legacy settings file gave this entry, when the model's id "
        "was derived from it on import; null otherwise."
    )
    priority: int
    weight: int
    routing_strategy: RoutingStrategy
    status: ModelStatus
    error: str | None = Field(description="Why the model is invalid, e.g. 'provider missing'.")
    enabled: bool
    missing_from_catalog: bool = Field(
        description="The provider's catalog no longer lists model_id (as of its last refresh)."
    )
    last_verification: VerificationSummary | None = Field(
        default=None, description="The model's last verification run, null before the first."
    )
    created_at: datetime
    updated_at: datetime


_NULLABLE = frozenset(_ModelFields.model_fields)


def read_model(
    model: Model, provider_name: str | None, last_run: list[VerificationResult] | None = None
) -> ModelRead:
    return ModelRead.model_validate(
        {
            **model.model_dump(),
            "provider_name": provider_name,
            "error": model.status_reason,
            "last_verification": summary_of(last_run or []),
        }
    )


def read_models(session: Session, listed: Sequence[Model]) -> list[ModelRead]:
    """With their providers' names and last verification runs, looked up once for the
    whole list."""
    names = names_by_id(session, "provider", {model.provider_id for model in listed})
    runs = verifications.latest_runs(session, [model.id for model in listed])
    return [read_model(model, names.get(model.provider_id), runs.get(model.id)) for model in listed]


def get_model(session: Session, model_id: uuid.UUID) -> Model:
    return rows.require(session, Model, model_id, "model")


def require_provider(session: Session, provider_id: uuid.UUID) -> Provider:
    """A model must point at an existing provider: 422, since the body is at fault."""
    provider = rows.find(session, Provider, provider_id)
    if provider is None:
        raise ValidationError(
            f"provider '{provider_id}' does not exist",
            details=[{"loc": ["body", "provider_id"], "msg": "unknown provider"}],
        )
    return provider


class ModelService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(
        self, data: ModelCreate, actor: Actor, model_id: uuid.UUID | None = None
    ) -> ModelRead:
        with self._db.session() as session:
            provider = require_provider(session, data.provider_id)
            model = Model(id=model_id or uuid.uuid4(), **data.model_dump())
            session.add(model)
            audit(
                session,
                actor,
                "model.create",
                target("model", model.id),
                {"name": model.name, "provider_id": str(model.provider_id)},
            )
            session.flush()
            return read_model(model, provider.name)

    def list(
        self, *, name: str | None = None, provider_id: uuid.UUID | None = None
    ) -> list[ModelRead]:
        with self._db.session() as session:
            return read_models(session, models.listed(session, name=name, provider_id=provider_id))

    def get(self, model_id: uuid.UUID) -> ModelRead:
        with self._db.session() as session:
            return read_models(session, [get_model(session, model_id)])[0]

    def update(self, model_id: uuid.UUID, data: ModelUpdate, actor: Actor) -> ModelRead:
        changes = data.model_dump(exclude_unset=True)
        for field, value in changes.items():
            if value is None and field not in _NULLABLE:
                raise ValidationError(
                    f"{field} cannot be null", details=[{"loc": ["body", field], "msg": "null"}]
                )
        with self._db.session() as session:
            model = get_model(session, model_id)
            self.apply(model, changes)
            session.add(model)
            audit(
                session,
                actor,
                "model.update",
                target("model", model.id),
                {"fields": sorted(changes)},
            )
            session.flush()
            return read_models(session, [model])[0]

    def delete(self, model_id: uuid.UUID, actor: Actor) -> None:
        with self._db.session() as session:
            model = get_model(session, model_id)
            session.delete(model)
            audit(session, actor, "model.delete", target("model", model_id), {"name": model.name})

    @staticmethod
    def apply(model: Model, changes: dict[str, Any]) -> None:
        for field, value in changes.items():
            setattr(model, field, value)
        model.updated_at = utcnow()
