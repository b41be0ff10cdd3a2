"""Cost: reported beats computed beats unpriced; exact Decimal math; never a silent 0."""

from __future__ import annotations

import uuid
from decimal import Decimal, localcontext
from typing import Any

import pytest

from tollway.engine.base import Endpoint, Target, TokenUsage
from tollway.metering.pricing import (
    COST_PLACES,
    Cost,
    CostSource,
    Prices,
    compute_cost,
    prices_for,
)
from tollway.routing.table import Deployment
from tollway.store import tables
from tollway.store.enums import ProviderType

D = Decimal
MINI = Prices(input=D("1.5E-7"), output=D("6E-7"), cached_input=D("7.5E-8"))  # gpt-4o-mini


def test_cost_sources_are_the_usage_records_own() -> None:
    assert CostSource is tables.CostSource
    assert [source.value for source in CostSource] == ["provider", "computed", "unpriced"]


# -- precedence ------------------------------------------------------------------------


def test_reported_cost_wins() -> None:
    cost = compute_cost(TokenUsage(1000, 500, 1500), MINI, reported_cost=1.2e-05)
    assert cost == Cost(D("0.0000120000"), CostSource.PROVIDER)


def test_reported_decimal_cost_is_kept_exactly() -> None:
    cost = compute_cost(TokenUsage(1, 1, 2), Prices(), reported_cost=D("0.00001234567891"))
    assert cost == Cost(D("0.0000123457"), CostSource.PROVIDER)


@pytest.mark.parametrize(
    "reported",
    [None, 0, 0.0, -0.0, D(0), -1.0, D("-1"), float("nan"), float("inf"), D("NaN"), D("Infinity")],
)
def test_zero_or_odd_reported_cost_falls_back_to_prices(reported: Any) -> None:
    cost = compute_cost(TokenUsage(1000, 500, 1500), MINI, reported_cost=reported)
    assert cost == Cost(D("0.00045"), CostSource.COMPUTED)


@pytest.mark.parametrize("reported", [None, 0.0])
def test_unpriced_model_with_zero_reported_cost_is_unpriced_not_free(reported: Any) -> None:
    # LiteLLM's silent 0.0 for a model it cannot price.
    cost = compute_cost(TokenUsage(1000, 500, 1500), Prices(), reported_cost=reported)
    assert cost == Cost(None, CostSource.UNPRICED)


def test_free_model_is_computed_zero() -> None:
    free = Prices(input=D(0), output=D(0))
    assert compute_cost(TokenUsage(1000, 500, 1500), free, 0.0) == Cost(D(0), CostSource.COMPUTED)


def test_a_huge_reported_cost_is_kept_not_an_error() -> None:
    cost = compute_cost(TokenUsage(1, 1, 2), MINI, reported_cost=1e300)
    assert cost == Cost(D("1E+300"), CostSource.PROVIDER)


# -- computed --------------------------------------------------------------------------


def test_computed_matches_litellm_reference_numbers() -> None:
    # LiteLLM's own cost for gpt-4o-mini at its bundled prices ($0.15 / $0.60 per million
    # tokens), 1000 + 500 tokens → 0.00015 + 0.0003.
    assert compute_cost(TokenUsage(1000, 500, 1500), MINI).usd == D("0.00045")


def test_cached_tokens_use_the_cached_price() -> None:
    # litellm.md §7: with 800 cached prompt tokens LiteLLM says 0.00039.
    cost = compute_cost(TokenUsage(1000, 500, 1500, cached_tokens=800), MINI)
    assert cost == Cost(D("0.00039"), CostSource.COMPUTED)


def test_cached_tokens_without_a_cached_price_use_the_input_price() -> None:
    prices = Prices(input=MINI.input, output=MINI.output)
    cost = compute_cost(TokenUsage(1000, 500, 1500, cached_tokens=800), prices)
    assert cost.usd == D("0.00045")


def test_cached_tokens_beyond_the_prompt_are_clamped() -> None:
    cost = compute_cost(TokenUsage(100, 0, 100, cached_tokens=500), MINI)
    assert cost.usd == D("0.0000075")  # 100 cached tokens, not 500


def test_reasoning_tokens_are_inside_completion_tokens() -> None:
    plain = compute_cost(TokenUsage(1000, 500, 1500), MINI)
    reasoning = compute_cost(TokenUsage(1000, 500, 1500, reasoning_tokens=400), MINI)
    assert reasoning == plain


def test_negative_counts_are_zero() -> None:
    assert compute_cost(TokenUsage(-5, -5, -10, -1, -1), MINI).usd == D(0)


def test_rounding_is_to_ten_places_and_away_from_zero() -> None:
    tiny = Prices(input=D("1E-12"), output=D("1E-12"))
    cost = compute_cost(TokenUsage(1, 0, 1), tiny)
    assert cost == Cost(D("1E-10"), CostSource.COMPUTED)
    assert cost.usd is not None
    assert cost.usd.as_tuple().exponent == -COST_PLACES


def test_math_is_exact_for_the_widest_store_prices() -> None:
    # Numeric(24, 12) allows 12 integer digits; 32 significant digits in the product
    # would already be rounded by Python's default 28-digit context.
    price = D("123456789012.1234567891")
    cost = compute_cost(TokenUsage(10**9, 10**9 - 1, 2 * 10**9 - 1), Prices(price, price))
    with localcontext(prec=60):
        exact = price * (2 * 10**9 - 1)
    assert cost.usd == exact
    assert exact != price * (2 * 10**9 - 1)


# -- unpriced --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "prices"),
    [
        (TokenUsage(10, 5, 15), Prices()),
        (TokenUsage(10, 5, 15), Prices(input=D("1E-6"))),  # output tokens, no output price
        (TokenUsage(10, 5, 15), Prices(output=D("1E-6"))),  # prompt tokens, no input price
        (TokenUsage(10, 0, 10, cached_tokens=10), Prices(output=D("1E-6"))),
        (TokenUsage(10, 5, 15), Prices(input=D("-1E-6"), output=D("1E-6"))),  # nonsense price
        (TokenUsage(10, 5, 15), Prices(input=D("NaN"), output=D("1E-6"))),
        (TokenUsage(), Prices()),
    ],
)
def test_a_missing_price_for_used_tokens_is_unpriced(usage: TokenUsage, prices: Prices) -> None:
    assert compute_cost(usage, prices) == Cost(None, CostSource.UNPRICED)


def test_a_side_without_tokens_needs_no_price() -> None:
    embeddings = compute_cost(TokenUsage(8, 0, 8), Prices(input=D("2E-8")))
    assert embeddings == Cost(D("1.6E-7"), CostSource.COMPUTED)
    all_cached = compute_cost(
        TokenUsage(10, 0, 10, cached_tokens=10), Prices(cached_input=D("1E-8"), output=D("1"))
    )
    assert all_cached.usd == D("1E-7")


def test_empty_usage_of_a_priced_model_costs_zero() -> None:
    assert compute_cost(TokenUsage(), MINI) == Cost(D(0), CostSource.COMPUTED)


# -- deployments -----------------------------------------------------------------------


def deployment(input_price: str | None, output_price: str | None) -> Deployment:
    target = Target("dep", "openai/gpt-4o-mini", None, None, 30.0)
    return Deployment(
        id="dep",
        public_name="mini",
        model_row_id=uuid.uuid4(),
        model_id="gpt-4o-mini",
        provider_id=uuid.uuid4(),
        provider_name="openai",
        provider_type=ProviderType.OPENAI,
        provider_key_id=None,
        key_team_id=None,
        targets={endpoint: target for endpoint in Endpoint},
        input_price=D(input_price) if input_price is not None else None,
        output_price=D(output_price) if output_price is not None else None,
        priority=0,
        weight=1,
        supports_streaming=True,
    )


def test_prices_for_a_deployment() -> None:
    assert prices_for(deployment("1.5E-7", "6E-7")) == Prices(D("1.5E-7"), D("6E-7"))
    assert prices_for(deployment(None, None)) == Prices()
    usage = TokenUsage(1000, 500, 1500, cached_tokens=800)
    # No cached price on a Deployment: cached tokens at the input price.
    assert compute_cost(usage, prices_for(deployment("1.5E-7", "6E-7"))).usd == D("0.00045")
