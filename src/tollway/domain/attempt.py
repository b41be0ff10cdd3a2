"""Who serves one attempt of a /v1 request, and at what prices it is billed.

The inference service makes each attempt at a deployment or at the OpenRouter fallback;
the request's account reserves, journals and settles against it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tollway.engine.base import Route
from tollway.metering.pricing import Prices
from tollway.routing.table import Deployment


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who serves an attempt, and how it is priced.

    ``reported_cost_wins``: the upstream's own reported cost is the bill (OpenRouter's
    ``usage.cost``), or the best price known (LiteLLM's, for a deployment tollway
    has no price for). Otherwise tollway's prices win: an operator's manual price
    must not be overridden by LiteLLM's map, and admission reserved at them.
    """

    route: Route
    provider_id: uuid.UUID | None
    provider_key_id: uuid.UUID | None
    model_row_id: uuid.UUID | None
    prices: Prices
    reported_cost_wins: bool
    fallback_reason: str | None = None
    max_output_tokens: int | None = None  # the model's, when the routing table knows it


def deployment_attempt(deployment: Deployment, prices: Prices) -> Attempt:
    """A deployment tollway routes to: billed at tollway's prices when it knows them."""
    return Attempt(
        Route.LITELLM,
        deployment.provider_id,
        deployment.provider_key_id,
        deployment.model_row_id,
        prices,
        reported_cost_wins=not prices.known,
        max_output_tokens=deployment.max_output_tokens,
    )
