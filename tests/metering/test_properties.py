"""Properties of counting and pricing, over generated streams, usages and prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.metering.chunks import chunk, openai_stream
from tollway.engine.base import TokenUsage
from tollway.metering.pricing import CostSource, Prices, compute_cost
from tollway.metering.usage import StreamMeter

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

texts = st.text(max_size=40)
counts = st.integers(min_value=0, max_value=10**7)
prices = st.decimals(min_value=Decimal(0), max_value=Decimal("0.001"), places=12, allow_nan=False)
maybe_prices = st.none() | prices


def a_delta(text: str, kind: int) -> dict[str, Any]:
    if kind == 0:
        return {"content": text}
    if kind == 1:
        return {"reasoning_content": text}
    return {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}


deltas = st.lists(st.tuples(texts, st.integers(0, 2)), max_size=30)


@PROPERTY_SETTINGS
@given(deltas, st.integers(0, 10**6))
def test_counted_tokens_are_at_least_the_non_empty_deltas(
    parts: list[tuple[str, int]], prompt: int
) -> None:
    meter = StreamMeter()
    for text, kind in parts:
        meter.observe(chunk(a_delta(text, kind)))
    result = meter.result(prompt)
    non_empty = sum(1 for text, _ in parts if text)
    assert result.counted
    assert result.usage.completion_tokens >= non_empty
    assert result.usage.completion_tokens >= sum(len(text) for text, _ in parts) // 4
    assert result.usage.reasoning_tokens <= result.usage.completion_tokens
    assert result.usage.total_tokens == prompt + result.usage.completion_tokens
    assert meter.deltas == non_empty


@PROPERTY_SETTINGS
@given(st.lists(texts, max_size=20), st.data())
def test_a_cut_stream_never_counts_more_than_the_whole(parts: list[str], data: Any) -> None:
    chunks = openai_stream(parts)
    cut = data.draw(st.integers(0, len(chunks)))
    whole, prefix = StreamMeter(), StreamMeter()
    for index, item in enumerate(chunks):
        whole.observe(item)
        if index < cut:
            prefix.observe(item)
    assert prefix.result(5).usage.completion_tokens <= whole.result(5).usage.completion_tokens


def usages(*, max_cached: int | None = None) -> st.SearchStrategy[TokenUsage]:
    @st.composite
    def build(draw: st.DrawFn) -> TokenUsage:
        prompt, completion = draw(counts), draw(counts)
        cached = draw(st.integers(0, prompt if max_cached is None else min(prompt, max_cached)))
        reasoning = draw(st.integers(0, completion))
        return TokenUsage(prompt, completion, prompt + completion, cached, reasoning)

    return build()


@PROPERTY_SETTINGS
@given(usages(), counts, counts, st.builds(Prices, prices, prices, maybe_prices))
def test_cost_is_monotonic_in_tokens(
    usage: TokenUsage, more_prompt: int, more_out: int, price: Prices
) -> None:
    bigger = TokenUsage(
        usage.prompt_tokens + more_prompt,
        usage.completion_tokens + more_out,
        usage.total_tokens + more_prompt + more_out,
        usage.cached_tokens,
        usage.reasoning_tokens,
    )
    small, large = compute_cost(usage, price), compute_cost(bigger, price)
    assert small.usd is not None
    assert large.usd is not None
    assert small.usd <= large.usd


@PROPERTY_SETTINGS
@given(usages(), st.builds(Prices, prices, prices, maybe_prices))
def test_cost_is_zero_only_when_the_prices_used_are_zero(usage: TokenUsage, price: Prices) -> None:
    cost = compute_cost(usage, price)
    assert cost.source is CostSource.COMPUTED
    assert cost.usd is not None
    cached_price = price.cached_input if price.cached_input is not None else price.input
    charged = [
        (usage.prompt_tokens - usage.cached_tokens, price.input),
        (usage.cached_tokens, cached_price),
        (usage.completion_tokens, price.output),
    ]
    free = all(tokens == 0 or unit == 0 for tokens, unit in charged)
    assert (cost.usd == 0) == free


@PROPERTY_SETTINGS
@given(
    usages(),
    st.builds(Prices, maybe_prices, maybe_prices, maybe_prices),
    st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_unpriced_is_never_zero_and_zero_is_never_unpriced(
    usage: TokenUsage, price: Prices, reported: float | None
) -> None:
    cost = compute_cost(usage, price, reported)
    assert (cost.usd is None) == (cost.source is CostSource.UNPRICED)
    if cost.source is CostSource.PROVIDER:
        assert cost.usd is not None
        assert cost.usd > 0
    needs_output = usage.completion_tokens > 0 and price.output is None
    needs_input = usage.prompt_tokens > usage.cached_tokens and price.input is None
    if (reported is None or not reported > 0) and (needs_output or needs_input):
        assert cost.source is CostSource.UNPRICED


@PROPERTY_SETTINGS
@given(usages(), st.builds(Prices, prices, prices, prices))
def test_computed_cost_is_the_exact_sum_rounded_up_to_ten_places(
    usage: TokenUsage, price: Prices
) -> None:
    assert price.input is not None
    assert price.output is not None
    assert price.cached_input is not None
    exact = (
        price.input * (usage.prompt_tokens - usage.cached_tokens)
        + price.cached_input * usage.cached_tokens
        + price.output * usage.completion_tokens
    )
    cost = compute_cost(usage, price).usd
    assert cost is not None
    assert Decimal(0) <= cost - exact < Decimal("1E-10")
