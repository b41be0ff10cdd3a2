"""Models: a provider's model published under a public name agents ask for."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from tollway.domain.common import Actor, Input, Output, Text, audit, target
from tollway.domain.model_catalog import (
    FILLABLE,
    UNCHANGED,
    CatalogCheck,
    ModelCatalogCheck,
    Verdict,
    Wanted,
    filled_metadata,
)
from tollway.domain.names import printable_name
from tollway.domain.provider_keys import get_provider
from tollway.domain.verification_schemas import VerificationSummary, summary_of
from tollway.errors import ConflictError, ValidationError
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


class ModelWritten(ModelRead):
    """A create's, update's or publish's answer: the model, and what the catalog said."""

    catalog_check: CatalogCheck = Field(
        description="How model_id was checked against the provider's catalog."
    )
    metadata_sources: dict[str, str] = Field(
        description="Where max_input_tokens, max_output_tokens, supports_streaming and "
        "supports_reasoning came from: manual (given), or the catalog's source (provider, "
        "litellm, static) for those tollway filled. Kept in the audit event, not the model."
    )


_NULLABLE = frozenset(_ModelFields.model_fields)
_LIMIT_FIELDS = ("max_input_tokens", "max_output_tokens")


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


def live_model(session: Session, model_id: uuid.UUID) -> Model:
    """A model that may still change: a retired one is kept for the record only (409)."""
    model = get_model(session, model_id)
    if model.status is ModelStatus.RETIRED:
        raise ConflictError(
            f"model '{model.name}' is retired: it is kept with its verification results "
            "for the record and cannot change; publish the model again instead"
        )
    return model


def require_provider(session: Session, provider_id: uuid.UUID) -> Provider:
    """A model must point at an existing provider: 422, since the body is at fault."""
    provider = rows.find(session, Provider, provider_id)
    if provider is None:
        raise ValidationError(
            f"provider '{provider_id}' does not exist",
            details=[{"loc": ["body", "provider_id"], "msg": "unknown provider"}],
        )
    return provider


def written(model: ModelRead, check: CatalogCheck, sources: dict[str, str]) -> ModelWritten:
    return ModelWritten(**model.model_dump(), catalog_check=check, metadata_sources=sources)


def check_details(check: CatalogCheck, sources: dict[str, str]) -> dict[str, Any]:
    """What the audit event keeps of the check (the skip flag among it)."""
    details: dict[str, Any] = {"catalog_check": check.status, "metadata_sources": sources}
    if check.warnings:
        details["catalog_warnings"] = check.warnings
    return details


def _names_by_id(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for model_id, name in pairs:
        found.setdefault(model_id, []).append(name)
    return found


class ModelService:
    def __init__(self, database: Database, catalog: ModelCatalogCheck | None = None) -> None:
        """``catalog`` None: no check (a process without a catalog service)."""
        self._db = database
        self._catalog = catalog

    def verdict(
        self, provider_id: uuid.UUID, wanted: list[Wanted], actor: Actor, *, skip: bool
    ) -> Verdict:
        """The catalog's word on ``wanted`` (422 for an unknown id); before any write."""
        with self._db.session() as session:
            provider = require_provider(session, provider_id)
        if skip or self._catalog is None:
            return Verdict.skipped()
        return self._catalog.check(provider, wanted, actor)

    def create(
        self,
        data: ModelCreate,
        actor: Actor,
        model_id: uuid.UUID | None = None,
        *,
        skip_catalog_check: bool = False,
    ) -> ModelWritten:
        wanted = [Wanted(data.model_id)]
        verdict = self.verdict(data.provider_id, wanted, actor, skip=skip_catalog_check)
        with self._db.session() as session:
            provider = require_provider(session, data.provider_id)
            model, sources = self.insert(session, data, verdict, actor, model_id)
            return written(read_model(model, provider.name), verdict.check, sources)

    @staticmethod
    def insert(
        session: Session,
        data: ModelCreate,
        verdict: Verdict,
        actor: Actor,
        model_id: uuid.UUID | None = None,
    ) -> tuple[Model, dict[str, str]]:
        entry = verdict.entries.get(data.model_id)
        filled, sources = filled_metadata(entry, set(data.model_fields_set))
        model = Model(id=model_id or uuid.uuid4(), **(data.model_dump() | filled))
        session.add(model)
        details = {"name": model.name, "provider_id": str(model.provider_id)}
        audit(
            session,
            actor,
            "model.create",
            target("model", model.id),
            details | check_details(verdict.check_of(data.model_id), sources),
        )
        session.flush()
        return model, sources

    def publish(
        self,
        provider_id: uuid.UUID,
        items: Sequence[tuple[str, str]],
        actor: Actor,
        *,
        skip_catalog_check: bool = False,
    ) -> list[ModelWritten]:
        """(model id, public name) pairs, all checked before any is created: one unknown
        id refuses them all (422 naming each)."""
        with self._db.session() as session:
            get_provider(session, provider_id)  # 404: the provider is the path's
        wanted = [
            Wanted(model_id, ("body", "models", n, "model_id"))
            for n, (model_id, _) in enumerate(items)
        ]
        verdict = self.verdict(provider_id, wanted, actor, skip=skip_catalog_check)
        with self._db.session() as session:
            provider = require_provider(session, provider_id)
            answers = []
            for model_id, name in items:
                data = ModelCreate(provider_id=provider_id, model_id=model_id, name=name)
                model, sources = self.insert(session, data, verdict, actor)
                check = verdict.check_of(model_id)
                answers.append(written(read_model(model, provider.name), check, sources))
            return answers

    def list(
        self,
        *,
        name: str | None = None,
        provider_id: uuid.UUID | None = None,
        retired: bool | None = False,
    ) -> list[ModelRead]:
        """``retired``: False hides retired models, True lists only them, None both."""
        with self._db.session() as session:
            listed = models.listed(session, name=name, provider_id=provider_id, retired=retired)
            return read_models(session, listed)

    def published_names(self, provider_id: uuid.UUID) -> Mapping[str, Sequence[str]]:
        """The public names each of the provider's model ids is published under (a light
        read for the console's catalog page: no verification runs)."""
        with self._db.session() as session:
            return _names_by_id(models.names_by_model_id(session, provider_id))

    def get(self, model_id: uuid.UUID) -> ModelRead:
        with self._db.session() as session:
            return read_models(session, [get_model(session, model_id)])[0]

    def update(
        self,
        model_id: uuid.UUID,
        data: ModelUpdate,
        actor: Actor,
        *,
        skip_catalog_check: bool = False,
    ) -> ModelWritten:
        """A new ``model_id`` is checked against the catalog, and the fillable fields
        neither given now nor set before are filled from its entry."""
        changes = data.model_dump(exclude_unset=True)
        for field, value in changes.items():
            if value is None and field not in _NULLABLE:
                raise ValidationError(
                    f"{field} cannot be null", details=[{"loc": ["body", field], "msg": "null"}]
                )
        with self._db.session() as session:
            current = live_model(session, model_id)
            provider_id, old_id = current.provider_id, current.model_id
            # Only limits never set are filled on an update; flags always hold a value.
            open_limits = {n for n in _LIMIT_FIELDS if getattr(current, n) is None} - set(changes)
        new_id = changes.get("model_id")
        verdict = Verdict(CatalogCheck(status=UNCHANGED))  # the id stands: not checked again
        if new_id is not None and new_id != old_id:
            verdict = self.verdict(provider_id, [Wanted(new_id)], actor, skip=skip_catalog_check)
        entry = verdict.entries.get(new_id or "")
        filled, sources = filled_metadata(entry, set(FILLABLE) - open_limits)
        sources = {k: v for k, v in sources.items() if k in filled or k in changes}
        with self._db.session() as session:
            model = live_model(session, model_id)
            self.apply(model, changes | filled)
            session.add(model)
            details = {"fields": sorted(changes | filled)}
            if new_id not in (None, old_id) or skip_catalog_check:
                details |= check_details(verdict.check, sources)
            audit(session, actor, "model.update", target("model", model.id), details)
            session.flush()
            return written(read_models(session, [model])[0], verdict.check, sources)

    def delete(
        self, model_id: uuid.UUID, actor: Actor, *, strict: bool = False
    ) -> ModelRead | None:
        """Delete a model; one with verification results is retired instead (out of
        routing and listings, its results kept) and answered, unless ``strict`` asks to
        refuse (409). Deleting a retired model again changes nothing."""
        with self._db.session() as session:
            model = get_model(session, model_id)
            results = verifications.count_of(session, model_id)
            if not results:
                session.delete(model)
                details = {"name": model.name}
                audit(session, actor, "model.delete", target("model", model_id), details)
                return None
            if strict:
                raise ConflictError(
                    f"model '{model.name}' has {results} verification result(s), which "
                    "deleting it would lose; retry without strict=true to retire it instead "
                    "(out of routing and listings, its results kept)"
                )
            if model.status is not ModelStatus.RETIRED:
                self.retire(session, model, results, actor)
            return read_models(session, [model])[0]

    @staticmethod
    def retire(session: Session, model: Model, results: int, actor: Actor) -> None:
        previous = model.status
        model.status = ModelStatus.RETIRED
        model.status_reason = None
        model.updated_at = utcnow()
        session.add(model)
        details = {"name": model.name, "previous_status": previous.value, "results": results}
        audit(session, actor, "model.retired", target("model", model.id), details)
        session.flush()

    @staticmethod
    def apply(model: Model, changes: dict[str, Any]) -> None:
        for field, value in changes.items():
            setattr(model, field, value)
        model.updated_at = utcnow()
