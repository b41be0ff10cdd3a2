"""Providers: where models are served from, with their keys and base URL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, HttpUrl, SecretStr, TypeAdapter, model_validator

from tollway.domain.common import Actor, Input, Name, Output, Text, audit, target
from tollway.domain.names import printable_name
from tollway.domain.provider_keys import (
    ProviderKeyRead,
    ProviderKeyService,
    get_provider,
    read_keys,
    secret_value,
)
from tollway.domain.provider_summaries import ProviderSummary, provider_summaries
from tollway.domain.teams import get_team
from tollway.errors import ConflictError, ValidationError
from tollway.providers.families import family
from tollway.providers.url_safety import UnsafeBaseUrl, validate_base_url
from tollway.store.db import Database, Session
from tollway.store.enums import ModelStatus, ProviderStatus, ProviderType
from tollway.store.repositories import limits, models, provider_keys, providers
from tollway.store.tables import Model, Provider, utcnow

PROVIDER_MISSING = "provider missing"

_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    _HTTP_URL.validate_python(value)
    return value.rstrip("/")


UrlStr = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]
ModelName = Annotated[str, Field(min_length=1, max_length=400), AfterValidator(printable_name)]


class ProviderCreate(Input):
    name: Name
    type: ProviderType
    base_url: UrlStr | None = None
    description: Text | None = None
    website: UrlStr | None = None
    default_model: ModelName | None = None
    api_key: SecretStr | None = Field(
        default=None, description="Stored in the secret store; never returned."
    )
    key_label: Name = "default"
    team_id: uuid.UUID | None = Field(
        default=None, description="Owner of the initial key; null makes it a shared key."
    )

    @model_validator(mode="after")
    def _type_rules(self) -> ProviderCreate:
        if family(self.type).needs_key and self.api_key is None:
            raise ValueError(f"api_key is required for providers of type '{self.type}'")
        if family(self.type).needs_base_url and self.base_url is None:
            raise ValueError(f"base_url is required for providers of type '{self.type}'")
        return self


class ProviderUpdate(Input):
    name: Name | None = None
    base_url: UrlStr | None = None
    description: Text | None = None
    website: UrlStr | None = None
    default_model: ModelName | None = None
    api_key: SecretStr | None = Field(
        default=None, description="Rotates the provider's first shared key (adds one if none)."
    )


class ProviderRead(Output):
    id: uuid.UUID
    name: str
    type: ProviderType
    base_url: str | None
    description: str | None
    website: str | None
    default_model: str | None
    status: ProviderStatus
    keys: list[ProviderKeyRead]
    created_at: datetime
    updated_at: datetime


_NULLABLE_FIELDS = frozenset({"base_url", "description", "website", "default_model"})
_PROVIDER_COLUMNS = frozenset({"name", "type", *_NULLABLE_FIELDS})


def insert_provider(session: Session, provider: Provider, actor: Actor) -> Provider:
    session.add(provider)
    audit(
        session,
        actor,
        "provider.create",
        target("provider", provider.id),
        {"name": provider.name, "type": str(provider.type)},
    )
    session.flush()
    return provider


def read_provider(session: Session, provider: Provider) -> ProviderRead:
    keys = read_keys(session, provider, provider_keys.of_provider(session, provider.id))
    return ProviderRead.model_validate({**provider.model_dump(), "keys": keys})


class ProviderService:
    def __init__(
        self, database: Database, keys: ProviderKeyService, *, allow_private_urls: bool
    ) -> None:
        self._db = database
        self._keys = keys
        self._allow_private = allow_private_urls

    def create(self, data: ProviderCreate, actor: Actor) -> ProviderRead:
        base_url = self._safe_url(data.base_url)
        value = secret_value(data.api_key) if data.api_key is not None else None
        if data.team_id is not None:
            with self._db.session() as session:
                get_team(session, data.team_id)
        staged = self._keys.stage_new(value, data.key_label, data.team_id) if value else None
        with self._keys.discard_on_error([staged]), self._db.session() as session:
            fields = data.model_dump(include=set(_PROVIDER_COLUMNS)) | {"base_url": base_url}
            provider = insert_provider(session, Provider(**fields), actor)
            if staged is not None:
                self._keys.record(session, provider.id, staged, actor)
            return read_provider(session, provider)

    def list_all(self) -> list[ProviderRead]:
        with self._db.session() as session:
            return [read_provider(session, p) for p in providers.in_creation_order(session)]

    def summaries(self) -> list[ProviderSummary]:
        """Every provider with its key and model counts and catalog age (the console's list)."""
        with self._db.session() as session:
            return provider_summaries(session)

    def get(self, provider_id: uuid.UUID) -> ProviderRead:
        with self._db.session() as session:
            return read_provider(session, get_provider(session, provider_id))

    def update(self, provider_id: uuid.UUID, data: ProviderUpdate, actor: Actor) -> ProviderRead:
        changes = data.model_dump(exclude_unset=True, exclude={"api_key"})
        self._check_nulls(changes)
        if changes.get("base_url") is not None:
            changes["base_url"] = self._safe_url(changes["base_url"])
        with self._db.session() as session:  # refuse before writing any secret
            self._check_update(get_provider(session, provider_id), changes)
        staged = None
        if data.api_key is not None:
            staged = self._keys.stage_shared(provider_id, secret_value(data.api_key))
        with self._keys.discard_on_error([staged]), self._db.session() as session:
            provider = get_provider(session, provider_id)
            for field, new in changes.items():
                setattr(provider, field, new)
            provider.updated_at = utcnow()
            session.add(provider)
            fields = sorted(changes) + (["api_key"] if data.api_key is not None else [])
            audit(
                session,
                actor,
                "provider.update",
                target("provider", provider.id),
                {"fields": fields},
            )
            if staged is not None:
                self._keys.record(session, provider.id, staged, actor)
            session.flush()
            return read_provider(session, provider)

    def delete(self, provider_id: uuid.UUID, actor: Actor, *, strict: bool = False) -> None:
        """Remove a provider and its keys. Its models stay, marked invalid, unless
        ``strict`` asks to refuse while models still reference it."""
        with self._db.session() as session:
            provider = get_provider(session, provider_id)
            # A retired model is no longer served: it stays retired, and does not block.
            served = [
                m
                for m in models.of_provider(session, provider_id)
                if m.status is not ModelStatus.RETIRED
            ]
            if strict and served:
                raise ConflictError(
                    f"provider '{provider_id}' is used by {len(served)} model(s); "
                    "delete them first or retry without strict=true"
                )
            paths = self._delete_provider_rows(session, provider, served, actor)
        self._keys.forget_secrets(paths)

    # -- helpers ------------------------------------------------------------------

    def _delete_provider_rows(
        self, session: Session, provider: Provider, served: list[Model], actor: Actor
    ) -> list[str]:
        keys = provider_keys.of_provider(session, provider.id)
        limits.delete_for_scopes(session, [provider.id, *(key.id for key in keys)])
        for model in served:
            model.status = ModelStatus.INVALID
            model.status_reason = PROVIDER_MISSING
            model.updated_at = utcnow()
            session.add(model)
        for key in keys:
            session.delete(key)
        session.flush()
        session.delete(provider)
        audit(
            session,
            actor,
            "provider.delete",
            target("provider", provider.id),
            {"name": provider.name, "keys_deleted": len(keys), "models_invalidated": len(served)},
        )
        return [key.secret_path for key in keys]

    def safe_url(self, url: str | None) -> str | None:
        return self._safe_url(url)

    def _safe_url(self, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            return validate_base_url(url, allow_private=self._allow_private)
        except UnsafeBaseUrl as exc:
            raise ValidationError(
                str(exc), details=[{"loc": ["body", "base_url"], "msg": str(exc)}]
            ) from None

    @staticmethod
    def _check_update(provider: Provider, changes: dict[str, Any]) -> None:
        if (
            "base_url" in changes
            and changes["base_url"] is None
            and family(provider.type).needs_base_url
        ):
            raise ValidationError(f"base_url is required for providers of type '{provider.type}'")

    @staticmethod
    def _check_nulls(changes: dict[str, Any]) -> None:
        for field, value in changes.items():
            if value is None and field not in _NULLABLE_FIELDS:
                raise ValidationError(
                    f"{field} cannot be null", details=[{"loc": ["body", field], "msg": "null"}]
                )
