"""Metering against the real litellm SDK, offline: its prices and its stream chunks.

- ``compute_cost`` with the bundled prices the routing builder resolves agrees with
  ``litellm.cost_per_token`` (within rounding), cached and reasoning tokens included.
- ``StreamMeter`` reads the chunks LiteLLM really yields for Anthropic and OpenRouter
  (served by the fake providers on 127.0.0.1), whole and cut by an upstream reset.

The synchronous ``litellm.completion`` is used on purpose: LiteLLM caches async HTTP
clients per event loop, and this module must not leave one behind for other suites.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour, count_tokens
from tests.fakes.providers.openrouter_api import openrouter_cost
from tollway.engine.base import TokenUsage
from tollway.engine.embedded import openai_dict
from tollway.engine.litellm_env import load_litellm
from tollway.metering.pricing import Cost, CostSource, Prices, compute_cost
from tollway.metering.tokens import text_tokens_at_most
from tollway.metering.usage import MeteredUsage, StreamMeter
from tollway.routing.litellm_config import bundled_price

KEY = "sk-metering-good-0123456789"
ECHO = "hello there big world"
# (tollway's litellm model, cost_per_token's model, its custom_llm_provider)
BUNDLED = [
    ("openai/gpt-4o-mini", "gpt-4o-mini", None),
    ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5", "anthropic"),
    ("gemini/gemini-2.5-flash", "gemini/gemini-2.5-flash", None),
    ("mistral/mistral-large-latest", "mistral/mistral-large-latest", None),
]
# Below the 200k-token tiers some models have: tollway's prices are flat.
tokens = st.integers(min_value=0, max_value=150_000)


@pytest.fixture(scope="module")
def litellm() -> ModuleType:
    return load_litellm()


def agree(ours: Cost, theirs: float) -> None:
    assert ours.source is CostSource.COMPUTED
    assert ours.usd is not None
    # Ours is exact and rounded up to 1e-10; LiteLLM's is a float sum.
    assert float(ours.usd) == pytest.approx(theirs, rel=1e-12, abs=1e-10)


def bundled(litellm_model: str, cost_model: str, litellm: ModuleType) -> Prices:
    found = bundled_price(litellm_model)
    assert found is not None, f"{litellm_model} left LiteLLM's bundled map"
    cached = litellm.model_cost[cost_model].get("cache_read_input_token_cost")
    return Prices(*found, cached_input=Decimal(str(cached)) if cached is not None else None)


@pytest.mark.parametrize(("litellm_model", "cost_model", "provider"), BUNDLED)
def test_compute_cost_agrees_with_litellm_cost_per_token(
    litellm: ModuleType, litellm_model: str, cost_model: str, provider: str | None
) -> None:
    prices = bundled(litellm_model, cost_model, litellm)

    @settings(max_examples=40, deadline=None)
    @given(tokens, tokens, st.data())
    def check(prompt: int, completion: int, data: Any) -> None:
        cached = data.draw(st.integers(0, prompt))
        theirs = litellm.cost_per_token(
            model=cost_model,
            custom_llm_provider=provider,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cache_read_input_tokens=cached,
        )
        usage = TokenUsage(prompt, completion, prompt + completion, cached_tokens=cached)
        agree(compute_cost(usage, prices), sum(theirs))

    check()


def test_reasoning_tokens_are_priced_once_like_litellm(litellm: ModuleType) -> None:
    from litellm.types.utils import CompletionTokensDetailsWrapper
    from litellm.types.utils import Usage as LiteLLMUsage

    details = CompletionTokensDetailsWrapper(reasoning_tokens=400)
    usage_object = LiteLLMUsage(
        prompt_tokens=1000,
        completion_tokens=500,
        total_tokens=1500,
        completion_tokens_details=details,
    )
    theirs = litellm.cost_per_token(
        model="o3-mini", prompt_tokens=1000, completion_tokens=500, usage_object=usage_object
    )
    prices = bundled("openai/o3-mini", "o3-mini", litellm)
    agree(compute_cost(TokenUsage(1000, 500, 1500, reasoning_tokens=400), prices), sum(theirs))


def test_embedding_cost_agrees(litellm: ModuleType) -> None:
    theirs = litellm.cost_per_token(
        model="text-embedding-3-small", prompt_tokens=1234, call_type="embedding"
    )
    prices = bundled("openai/text-embedding-3-small", "text-embedding-3-small", litellm)
    agree(compute_cost(TokenUsage(1234, 0, 1234), prices), sum(theirs))


# -- real LiteLLM stream chunks ----------------------------------------------------------


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("anthropic", keys={KEY: Behaviour.ok()}) as server:
        server.script_model("cut", ModelBehaviour.reset_after(2))
        server.script_model("silent", ModelBehaviour.no_usage())
        yield server


@pytest.fixture(scope="module")
def openrouter() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openrouter", keys={KEY: Behaviour.ok()}) as server:
        yield server


def stream_through_litellm(litellm: ModuleType, model: str, api_base: str) -> StreamMeter:
    """Meter a LiteLLM stream as the data plane does: every chunk, until it ends or fails."""
    meter = StreamMeter()
    response = litellm.completion(
        model=model,
        api_base=api_base,
        api_key=KEY,
        messages=[{"role": "user", "content": ECHO}],
        stream=True,
        stream_options={"include_usage": True},
        num_retries=0,
        max_retries=0,
    )
    try:
        for item in response:
            meter.observe(openai_dict(item))
    except Exception:  # whatever LiteLLM raises for a reset: the meter keeps what it saw
        assert meter.deltas, "the stream failed before any chunk"
    return meter


def test_anthropic_stream_usage_comes_from_the_last_chunk(
    litellm: ModuleType, anthropic: FakeProviderServer
) -> None:
    result = stream_through_litellm(litellm, "anthropic/claude-x", anthropic.origin).result(99)
    assert result.counted is False
    assert result.usage.completion_tokens == count_tokens(ECHO)
    assert result.usage.prompt_tokens == count_tokens(ECHO)


def test_anthropic_stream_without_usage_gets_litellms_own_count(
    litellm: ModuleType, anthropic: FakeProviderServer
) -> None:
    # LiteLLM tokenizes locally and adds a usage chunk when the provider sent none;
    # tollway can only take it as reported.
    result = stream_through_litellm(litellm, "anthropic/silent", anthropic.origin).result(99)
    assert result.counted is False
    assert result.usage.completion_tokens > 0


def test_anthropic_stream_reset_after_two_chunks_is_counted(
    litellm: ModuleType, anthropic: FakeProviderServer
) -> None:
    meter = stream_through_litellm(litellm, "anthropic/cut", anthropic.origin)
    result = meter.result(prompt_estimate=7)
    sent = "hello there "
    assert meter.deltas == 2
    assert result == MeteredUsage(
        TokenUsage(7, 12, 19),  # "hello " and "there ": their UTF-8 bytes, an upper bound
        counted=True,
    )
    assert result.usage.completion_tokens >= text_tokens_at_most(sent)


def test_openrouter_stream_cost_is_the_providers(
    litellm: ModuleType, openrouter: FakeProviderServer
) -> None:
    base = openrouter.origin + "/api/v1"
    result = stream_through_litellm(litellm, "openrouter/fake/model", base).result()
    assert result.counted is False
    expected = openrouter_cost(result.usage.prompt_tokens, result.usage.completion_tokens)
    assert result.reported_cost == pytest.approx(expected)
    cost = compute_cost(result.usage, Prices(), result.reported_cost)
    assert cost.source is CostSource.PROVIDER
