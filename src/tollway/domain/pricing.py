"""Prices per token: a provider default and per-model overrides."""

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
from tollway.store.enums import PriceSource
from tollway.store.repositories import pricing, rows
from tollway.store.repositories.names import names_by_id
from tollway.store.tables import Model, PricingInfo, Provider, utcnow

Price = Annotated[Decimal, Field(ge=0, le=1, max_digits=24, decimal_places=12)]


class _PriceFields(Input):
    input_price_per_token: Price | None = None
    output_price_per_token: Price | None = None
    cached_input_price_per_token: Price | None = None


class PricingCreate(_PriceFields):
    provider_id: uuid.UUID
    model_id: uuid.UUID | None = Field(
        default=None, description="A model of the provider; null sets the provider default."
    )
    currency: Annotated[str, Field(pattern=r"^USD$")] = "USD"
    source: PriceSource = PriceSource.MANUAL

    @model_validator(mode="after")
    def _some_price(self) -> PricingCreate:
        if self.input_price_per_token is None and self.output_price_per_token is None:
            raise ValueError("set input_price_per_token, output_price_per_token or both")
        return self


class PricingUpdate(_PriceFields):
    source: PriceSource | None = None


class PricingRead(Output):
    id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str | None
    model_id: uuid.UUID | None
    model_name: str | None = Field(description="The model's public name; null for a default.")
    input_price_per_token: Money | None
    output_price_per_token: Money | None
    cached_input_price_per_token: Money | None
    currency: str
    source: PriceSource
    last_updated: datetime


def read_pricing(session: Session, listed: Sequence[PricingInfo]) -> list[PricingRead]:
    """With the names of their providers and models, looked up once for the list."""
    providers = names_by_id(session, "provider", {row.provider_id for row in listed})
    models = names_by_id(session, "model", {row.model_id for row in listed if row.model_id})
    return [
        PricingRead.model_validate(
            {
                **row.model_dump(),
                "provider_name": providers.get(row.provider_id),
                "model_name": models.get(row.model_id) if row.model_id else None,
            }
        )
        for row in listed
    ]


class ModelPrice(Output):
    """A published model and its price (None: no source prices it, unpriced)."""

    model_id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str
    model_name: str
    provider_model_id: str
    price: PricingRead | None


class ModelChoice(Output):
    model_id: uuid.UUID
    provider_name: str
    model_name: str
    provider_model_id: str


def get_pricing(session: Session, pricing_id: uuid.UUID) -> PricingInfo:
    return rows.require(session, PricingInfo, pricing_id, "pricing")


class PricingService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, data: PricingCreate, actor: Actor) -> PricingRead:
        try:
            with self._db.session() as session:
                self._check_scope(session, data.provider_id, data.model_id)
                if pricing.scope_taken(session, data.provider_id, data.model_id):
                    raise _duplicate()
                row = PricingInfo(**data.model_dump())
                session.add(row)
                audit(session, actor, "pricing.create", target("pricing", row.id), _summary(row))
                session.flush()
                return read_pricing(session, [row])[0]
        except ConstraintViolation:  # a concurrent create of the same scope
            raise _duplicate() from None

    def published(
        self, provider_id: uuid.UUID | None, offset: int, limit: int
    ) -> tuple[int, list[ModelPrice]]:
        """How many models are published (of one provider or all), and one page of them
        with their prices; a few queries whatever the page."""
        with self._db.session() as session:
            total, found = pricing.published_prices(session, provider_id, offset, limit)
            prices = read_pricing(session, [row[5] for row in found if row[5] is not None])
            by_id = {price.id: price for price in prices}
            return total, [
                ModelPrice(
                    model_id=ident,
                    provider_id=owner,
                    provider_name=provider,
                    model_name=name,
                    provider_model_id=model_id,
                    price=by_id[row.id] if row is not None else None,
                )
                for ident, owner, provider, name, model_id, row in found
            ]

    def model_choices(self) -> list[ModelChoice]:
        """Every published model, light: what a form offers to price."""
        with self._db.session() as session:
            return [
                ModelChoice(model_id=ident, provider_name=p, model_name=n, provider_model_id=m)
                for ident, p, n, m in pricing.model_choices(session)
            ]

    def defaults(self, provider_id: uuid.UUID | None = None) -> list[PricingRead]:
        """Provider default prices (no model)."""
        with self._db.session() as session:
            return read_pricing(session, pricing.defaults(session, provider_id))

    def provider_names(self) -> list[tuple[uuid.UUID, str]]:
        """Every provider's id and name, by name (one light query)."""
        with self._db.session() as session:
            return pricing.provider_names(session)

    def list(self, provider_id: uuid.UUID | None = None) -> list[PricingRead]:
        with self._db.session() as session:
            return read_pricing(session, pricing.listed(session, provider_id))

    def get(self, pricing_id: uuid.UUID) -> PricingRead:
        with self._db.session() as session:
            return read_pricing(session, [get_pricing(session, pricing_id)])[0]

    def update(self, pricing_id: uuid.UUID, data: PricingUpdate, actor: Actor) -> PricingRead:
        changes = data.model_dump(exclude_unset=True)
        if changes.get("source", "") is None:
            raise ValidationError("source cannot be null")
        with self._db.session() as session:
            row = get_pricing(session, pricing_id)
            for field, value in changes.items():
                setattr(row, field, value)
            if row.input_price_per_token is None and row.output_price_per_token is None:
                raise ValidationError("a pricing entry needs an input or an output price")
            row.last_updated = utcnow()
            session.add(row)
            audit(session, actor, "pricing.update", target("pricing", row.id), _summary(row))
            session.flush()
            return read_pricing(session, [row])[0]

    def delete(self, pricing_id: uuid.UUID, actor: Actor) -> None:
        with self._db.session() as session:
            row = get_pricing(session, pricing_id)
            session.delete(row)
            audit(session, actor, "pricing.delete", target("pricing", pricing_id))

    @staticmethod
    def _check_scope(session: Session, provider_id: uuid.UUID, model_id: uuid.UUID | None) -> None:
        if not rows.exists(session, Provider, provider_id):
            raise ValidationError(f"provider '{provider_id}' does not exist")
        if model_id is None:
            return
        model = rows.find(session, Model, model_id)
        if model is None or model.provider_id != provider_id:
            raise ValidationError(f"model '{model_id}' is not a model of provider '{provider_id}'")


def _duplicate() -> ConflictError:
    return ConflictError("pricing for this provider and model already exists; update it instead")


def _summary(row: PricingInfo) -> dict[str, str | None]:
    return {
        "provider_id": str(row.provider_id),
        "model_id": str(row.model_id) if row.model_id else None,
        "input": str(row.input_price_per_token),
        "output": str(row.output_price_per_token),
    }
