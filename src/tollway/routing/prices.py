"""A deployment's prices per token, with the routing builder's precedence.

Model override (a ``PricingInfo`` row for the model), then the provider default (the
row without a model), then LiteLLM's bundled price map for the provider's model name
(which has no cached-input price; mock providers are never looked up there). A row
wins as a whole, even with a side left empty: an operator who priced only input on
the model meant that model, not a mix with the provider default.

The routing builder prices deployments with it, and the cost comparison report shows
the same prices with where each came from.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tollway.engine.base import Endpoint
from tollway.providers.families import family
from tollway.store.enums import ProviderType
from tollway.store.tables import Model, PricingInfo, Provider

# (input, output) USD per token for a LiteLLM model name, from its bundled price map.
PriceLookup = Callable[[str], tuple[Decimal, Decimal] | None]
# PricingInfo rows by (provider id, model row id or None for the provider default).
PriceRows = Mapping[tuple[uuid.UUID, uuid.UUID | None], PricingInfo]


class PriceOrigin(StrEnum):
    MODEL = "model"  # the model's own pricing entry
    PROVIDER = "provider"  # the provider's default pricing entry
    LITELLM = "litellm"  # LiteLLM's bundled price map


@dataclass(frozen=True, slots=True)
class ResolvedPrices:
    """USD per token; ``origin`` None means no price is known at all."""

    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None
    origin: PriceOrigin | None = None


def chat_litellm_model(provider_type: ProviderType, model_id: str) -> str:
    """The LiteLLM model name a chat call to this deployment uses."""
    return f"{family(provider_type).litellm_prefix(Endpoint.CHAT)}/{model_id}"


def resolve_prices(
    model: Model, provider: Provider, rows: PriceRows, lookup: PriceLookup | None
) -> ResolvedPrices:
    for scope, origin in (
        ((provider.id, model.id), PriceOrigin.MODEL),
        ((provider.id, None), PriceOrigin.PROVIDER),
    ):
        row = rows.get(scope)
        if row is not None:
            return ResolvedPrices(
                row.input_price_per_token,
                row.output_price_per_token,
                row.cached_input_price_per_token,
                origin,
            )
    if lookup is not None and not family(provider.type).answers_locally:
        bundled = lookup(chat_litellm_model(provider.type, model.model_id))
        if bundled is not None:
            return ResolvedPrices(bundled[0], bundled[1], None, PriceOrigin.LITELLM)
    return ResolvedPrices()
