"""What a call cost, in USD, and where that number came from.

Precedence (docs/architecture.md §3, ``UsageRecord.cost_source``):

1. ``provider``: the cost the upstream reported (OpenRouter's ``usage.cost``, LiteLLM's
   response cost), when it is positive. LiteLLM reports 0.0, silently, for models it
   cannot price, so a zero is read as "not reported", never as "free".
2. ``computed``: tokens times the deployment's prices per token.
3. ``unpriced``: no reported cost and a price missing for tokens that were used. The
   cost is then None, never 0: a 0 would read as "free" in every report and budget.

Token conventions are OpenAI's (LiteLLM normalizes every family to them):

- ``cached_tokens`` are a part of ``prompt_tokens``: they are billed at the cached-input
  price when one is known, the rest of the prompt at the input price.
- ``reasoning_tokens`` are a part of ``completion_tokens`` and are billed at the output
  price through it; they are never added a second time.

Not modelled (flat per-token prices only): Anthropic's cache writes, which LiteLLM
counts inside ``prompt_tokens`` and which are billed here at the input price (Anthropic
charges 1.25x), and the long-context tiers some models have above 200k prompt tokens.

Arithmetic is exact ``Decimal`` with enough precision for any price the store holds
(Numeric(24, 12)) times any token count, rounded once at the end to ``COST_PLACES``
(10) decimal places, i.e. 1e-10 USD: far below the cheapest token (~1e-8 USD), so
rounding never erases a token. Rounding is away from zero, so a priced call that used
tokens never rounds down to a "free" 0, and the rounding stays monotonic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, localcontext

from tollway.engine.base import TokenUsage
from tollway.routing.table import Deployment

# The ledger's own enum (UsageRecord.cost_source), re-exported: one set of members, so
# identity checks (``source is CostSource.UNPRICED``) hold across metering and store.
from tollway.store.tables import CostSource

__all__ = ["COST_PLACES", "Cost", "CostSource", "Prices", "compute_cost", "prices_for"]

COST_PLACES = 10
_QUANTUM = Decimal(1).scaleb(-COST_PLACES)
_ZERO = Decimal(0)
# Numeric(24, 12) prices times token counts up to 10**18, summed, stay exact.
_PRECISION = 60


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per token; None when unknown. ``cached_input`` None means "bill cached
    prompt tokens at ``input``" (what providers without cache discounts do)."""

    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None

    @property
    def known(self) -> bool:
        """Some price is known (a call can be priced, at least in part)."""
        return self.input is not None or self.output is not None


@dataclass(frozen=True, slots=True)
class Cost:
    usd: Decimal | None  # None exactly when source is UNPRICED
    source: CostSource


_UNPRICED = Cost(None, CostSource.UNPRICED)


def compute_cost(
    usage: TokenUsage, prices: Prices, reported_cost: Decimal | float | None = None
) -> Cost:
    """The cost of ``usage``: the reported cost if positive, else computed, else unpriced."""
    reported = _positive(reported_cost)
    if reported is not None:
        return Cost(_round(reported), CostSource.PROVIDER)
    computed = _computed(usage, prices)
    if computed is None:
        return _UNPRICED
    return Cost(computed, CostSource.COMPUTED)


def prices_for(deployment: Deployment) -> Prices:
    """A routing deployment's prices (model override → provider default → LiteLLM's
    bundled map, already resolved by the routing builder). Without a cached-input
    price, cached prompt tokens are billed at the input price: an over-estimate,
    never an under-estimate."""
    return Prices(
        input=deployment.input_price,
        output=deployment.output_price,
        cached_input=deployment.cached_input_price,
    )


def _computed(usage: TokenUsage, prices: Prices) -> Decimal | None:
    prompt = max(usage.prompt_tokens, 0)
    completion = max(usage.completion_tokens, 0)
    cached = min(max(usage.cached_tokens, 0), prompt)  # a subset of the prompt
    input_price = _price(prices.input)
    output_price = _price(prices.output)
    cached_price = _price(prices.cached_input)
    if cached_price is None:
        cached_price = input_price
    # A side with no tokens needs no price (an embedding has no output price).
    if (prompt > cached and input_price is None) or (cached and cached_price is None):
        return None
    if completion and output_price is None:
        return None
    if input_price is None and output_price is None:
        return None  # nothing priced at all: unknown, even for an empty call
    with localcontext(prec=_PRECISION):
        total = (
            (input_price or _ZERO) * (prompt - cached)
            + (cached_price or _ZERO) * cached
            + (output_price or _ZERO) * completion
        )
        if total.adjusted() < _PRECISION - COST_PLACES - 1:  # always, for store prices
            return total.quantize(_QUANTUM, rounding=ROUND_UP)
    return _round(total)


def _round(value: Decimal) -> Decimal:
    # quantize needs every digit of the result to fit the context's precision; a huge
    # reported cost gets the precision it needs rather than an InvalidOperation.
    with localcontext(prec=max(_PRECISION, value.adjusted() + COST_PLACES + 2)):
        return value.quantize(_QUANTUM, rounding=ROUND_UP)


def _price(value: Decimal | None) -> Decimal | None:
    """A usable price: finite and not negative (anything else is as good as unknown)."""
    if value is None or not value.is_finite() or value < 0:
        return None
    return value


def _positive(value: Decimal | float | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() and value > 0 else None
    if not math.isfinite(value) or value <= 0:
        return None
    # repr is the shortest exact decimal of the float: 1.2e-05 → Decimal("0.000012").
    return Decimal(repr(float(value)))
