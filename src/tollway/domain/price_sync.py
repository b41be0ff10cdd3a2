"""Price sync: every published model's best non-manual price, kept in its pricing row.

Precedence, first that knows wins: the operator's manual price (a manual row is never
touched), the provider's own catalog (OpenRouter and Together publish prices), LiteLLM's
bundled map (filled into the cached catalog at refresh), else unknown: no row is
written, never a 0. Prices come from the provider's cached catalog (the shared keys'
one, else a team key's), so a sync never calls the provider. Each change is audited
with its old and new values; an unchanged row is not touched (``last_updated`` keeps
telling when the price last moved).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel

from tollway.domain.common import Actor, Money, audit, target
from tollway.providers.catalog import FieldSource
from tollway.store.db import Database, Session
from tollway.store.enums import PriceSource, ProviderType
from tollway.store.repositories import catalog, models, pricing, providers
from tollway.store.tables import DiscoveredModel, Model, PricingInfo, Provider, utcnow

_PRICE_FIELDS = ("input_price", "output_price")


class PriceChange(BaseModel):
    """One pricing row a sync created or changed (or would, in a dry run)."""

    provider_id: uuid.UUID
    provider_name: str
    model_id: uuid.UUID
    model_name: str
    old_input: Money | None
    old_output: Money | None
    old_source: PriceSource | None  # None: there was no row
    new_input: Money | None
    new_output: Money | None
    new_source: PriceSource


class SyncResult(BaseModel):
    dry_run: bool
    changes: list[PriceChange]
    unchanged: int  # already at the best price
    manual: int  # left alone: the operator's own price
    unknown: int  # no source prices the model: no row, never 0


@dataclass(frozen=True, slots=True)
class _Best:
    input: Decimal | None
    output: Decimal | None
    source: PriceSource


def catalog_source(provider_type: ProviderType) -> PriceSource:
    """The source of a price a provider's own catalog published."""
    if provider_type is ProviderType.OPENROUTER:
        return PriceSource.OPENROUTER
    return PriceSource.PROVIDER


def best_price(provider_type: ProviderType, entry: DiscoveredModel | None) -> _Best | None:
    """The provider's published prices if it published any, else LiteLLM's, else None."""
    if entry is None:
        return None
    by_source: dict[str, dict[str, Decimal]] = {}
    for name in _PRICE_FIELDS:
        value = getattr(entry, name)
        if value is not None:
            by_source.setdefault(entry.sources.get(name, ""), {})[name] = value
    provider = by_source.get(FieldSource.PROVIDER.value)
    if provider:
        return _Best(
            provider.get("input_price"), provider.get("output_price"), catalog_source(provider_type)
        )
    litellm = {**by_source.get(FieldSource.STATIC.value, {}), **by_source.get("litellm", {})}
    if litellm:
        return _Best(litellm.get("input_price"), litellm.get("output_price"), PriceSource.LITELLM)
    return None


class PriceSyncService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def after_refresh(self, provider_id: uuid.UUID, actor: Actor) -> None:
        """The hook a successful catalog refresh calls: that provider's models only."""
        self.sync(actor, provider_id=provider_id)

    def sync(
        self, actor: Actor, *, provider_id: uuid.UUID | None = None, dry_run: bool = False
    ) -> SyncResult:
        """Every published model's (or one provider's) pricing row to its best price."""
        result = SyncResult(dry_run=dry_run, changes=[], unchanged=0, manual=0, unknown=0)
        with self._db.session() as session:
            listed = (
                providers.in_creation_order(session)
                if provider_id is None
                else providers.with_ids(session, [provider_id])
            )
            for provider in listed:
                self._sync_provider(session, provider, actor, result)
        return result

    def _sync_provider(
        self, session: Session, provider: Provider, actor: Actor, result: SyncResult
    ) -> None:
        entries = _catalog_entries(session, provider.id)
        rows = {
            row.model_id: row
            for row in pricing.listed(session, provider.id)
            if row.model_id is not None
        }
        for model in models.of_provider(session, provider.id):
            row = rows.get(model.id)
            if row is not None and row.source is PriceSource.MANUAL:
                result.manual += 1
                continue
            best = best_price(provider.type, entries.get(model.model_id))
            if best is None:
                result.unknown += 1  # unknown stays unknown; an old row stays as it was
                continue
            if row is not None and _same(row, best):
                result.unchanged += 1
                continue
            change = _change(provider, model, row, best)
            if not result.dry_run:
                _apply(session, change, row, actor)
            result.changes.append(change)


def _change(provider: Provider, model: Model, row: PricingInfo | None, best: _Best) -> PriceChange:
    return PriceChange(
        provider_id=provider.id,
        provider_name=provider.name,
        model_id=model.id,
        model_name=model.name,
        old_input=row.input_price_per_token if row else None,
        old_output=row.output_price_per_token if row else None,
        old_source=row.source if row else None,
        new_input=best.input,
        new_output=best.output,
        new_source=best.source,
    )


def _apply(session: Session, change: PriceChange, row: PricingInfo | None, actor: Actor) -> None:
    if row is None:
        row = PricingInfo(provider_id=change.provider_id, model_id=change.model_id)
    row.input_price_per_token = change.new_input
    row.output_price_per_token = change.new_output
    row.source = change.new_source
    row.last_updated = utcnow()
    session.add(row)
    session.flush()
    details = change.model_dump(mode="json", exclude={"model_name", "provider_name"})
    audit(session, actor, "pricing.sync", target("pricing", row.id), details)


def _same(row: PricingInfo, best: _Best) -> bool:
    return (row.input_price_per_token, row.output_price_per_token, row.source) == (
        best.input,
        best.output,
        best.source,
    )


def _catalog_entries(session: Session, provider_id: uuid.UUID) -> dict[str, DiscoveredModel]:
    """The provider's cached catalog by model id: the shared one's entry first, a team
    key's where the shared catalog lacks the model."""
    entries: dict[str, DiscoveredModel] = {}
    for entry in catalog.all_models_of(session, provider_id):
        if entry.model_id not in entries or entry.provider_key_id is None:
            entries[entry.model_id] = entry
    return entries
