"""Every request through the live data plane leaves exactly one usage record with its
tokens and cost: via LiteLLM and via OpenRouter, streamed or not, finished, failed
or cut off by the client."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour, openrouter_cost
from tests.inference.conftest import Tollway
from tollway.store.tables import CostSource, UsageStatus

MESSAGES = [{"role": "user", "content": "count my tokens please"}]
INPUT_PRICE = Decimal("0.000002")
OUTPUT_PRICE = Decimal("0.000010")


def priced_model(
    tollway: Tollway, upstream: FakeProviderServer, *, priced: bool = True, **fields: Any
) -> tuple[str, dict[str, Any], str]:
    """A public model on a fake OpenAI-compatible provider (priced manually), and a key."""
    name = f"metered-{uuid.uuid4().hex[:8]}"
    api_key = f"sk-m-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        "openai_compatible", name="metered", api_key=api_key, base_url=upstream.base_url
    )
    model = tollway.model(provider, name, model_id=name, **fields)
    if priced:
        tollway.post(
            "/pricing",
            {
                "provider_id": provider["id"],
                "model_id": model["id"],
                "input_price_per_token": str(INPUT_PRICE),
                "output_price_per_token": str(OUTPUT_PRICE),
            },
        )
    key = tollway.key()
    tollway.wait_for_model(key, name)
    return name, provider, key


def client(tollway: Tollway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)


def expected_cost(prompt: int, completion: int) -> Decimal:
    return INPUT_PRICE * prompt + OUTPUT_PRICE * completion


def test_non_streamed_call_via_litellm_is_recorded_with_computed_cost(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, provider, key = priced_model(tollway, upstream)
    response = client(tollway, key).chat.completions.create(model=name, messages=MESSAGES)
    assert response.usage is not None
    (record,) = tollway.usage_records(1)
    assert record.status is UsageStatus.OK
    assert record.route == "litellm"
    assert record.endpoint == "chat"
    assert record.public_model == name
    assert str(record.provider_id) == provider["id"]
    assert record.provider_key_id is not None
    assert record.tollway_key_id is not None
    assert record.prompt_tokens == response.usage.prompt_tokens > 0
    assert record.completion_tokens == response.usage.completion_tokens > 0
    assert record.cost_source is CostSource.COMPUTED
    assert record.cost_usd == expected_cost(record.prompt_tokens, record.completion_tokens) > 0
    assert record.counted is False
    assert record.http_status == 200
    assert record.ttft_ms is None


def test_streamed_call_via_litellm_is_recorded_with_computed_cost(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, _, key = priced_model(tollway, upstream)
    chunks = list(
        client(tollway, key).chat.completions.create(
            model=name, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    usage = chunks[-1].usage
    assert usage is not None
    (record,) = tollway.usage_records(1)
    assert record.status is UsageStatus.OK
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert record.cost_usd == expected_cost(usage.prompt_tokens, usage.completion_tokens) > 0
    assert record.cost_source is CostSource.COMPUTED
    assert record.ttft_ms is not None
    assert record.counted is False


def test_a_stream_without_provider_usage_still_has_tokens_and_cost(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    # LiteLLM counts such a stream itself; tollway counts the chunks when no engine does.
    name, _, key = priced_model(tollway, upstream)
    upstream.script_model(name, ModelBehaviour.ok("one two three four") | ModelBehaviour.no_usage())
    list(client(tollway, key).chat.completions.create(model=name, messages=MESSAGES, stream=True))
    (record,) = tollway.usage_records(1)
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0
    assert record.cost_usd is not None
    assert record.cost_usd > 0


@pytest.mark.parametrize("stream", [False, True])
def test_openrouter_fallback_is_recorded_with_the_reported_cost(
    tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer, stream: bool
) -> None:
    name, _, key = priced_model(tollway, upstream, openrouter_model_id="vendor/fallback-model")
    upstream.script_model(name, ModelBehaviour.server_error(503))
    or_key = f"sk-or-{uuid.uuid4().hex}"
    openrouter.set_key(or_key, Behaviour.ok())
    openrouter_provider = tollway.provider(
        "openrouter", name="OpenRouter", api_key=or_key, base_url=openrouter.base_url
    )
    time.sleep(0.3)  # the routing refresh picks up the OpenRouter route
    sdk = client(tollway, key)
    if stream:
        list(sdk.chat.completions.create(model=name, messages=MESSAGES, stream=True))
    else:
        sdk.chat.completions.create(model=name, messages=MESSAGES)
    (record,) = tollway.usage_records(1)
    assert record.status is UsageStatus.OK
    assert record.route == "openrouter"
    assert record.fallback_reason == "all_deployments_failed"
    assert str(record.provider_id) == openrouter_provider["id"]
    assert record.cost_source is CostSource.PROVIDER
    assert record.cost_usd == pytest.approx(
        Decimal(str(openrouter_cost(record.prompt_tokens, record.completion_tokens)))
    )
    assert record.cost_usd > 0


def test_an_unpriced_model_is_flagged_never_free(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, _, key = priced_model(tollway, upstream, priced=False)
    client(tollway, key).chat.completions.create(model=name, messages=MESSAGES)
    (record,) = tollway.usage_records(1)
    assert record.cost_source is CostSource.UNPRICED
    assert record.cost_usd is None
    unpriced = f'tollway_unpriced_requests_total{{model="{name}",route="litellm"}} 1.0'
    assert unpriced in tollway.metrics()


def test_a_failed_call_is_recorded_once_as_an_error_and_costs_nothing(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, _, key = priced_model(tollway, upstream)
    upstream.script_model(name, ModelBehaviour.server_error(500))
    with pytest.raises(openai.APIStatusError):
        client(tollway, key).chat.completions.create(model=name, messages=MESSAGES)
    (record,) = tollway.usage_records(1)
    assert record.status is UsageStatus.ERROR
    assert record.http_status == 502
    assert (record.prompt_tokens, record.completion_tokens, record.cost_usd) == (0, 0, 0)


def test_requests_refused_before_admission_leave_no_record(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, _, key = priced_model(tollway, upstream)
    with pytest.raises(openai.NotFoundError):
        client(tollway, key).chat.completions.create(model="no-such-model", messages=MESSAGES)
    with pytest.raises(openai.AuthenticationError):
        client(tollway, "tw-wrong").chat.completions.create(model=name, messages=MESSAGES)
    client(tollway, key).chat.completions.create(model=name, messages=MESSAGES)
    assert len(tollway.usage_records(1)) == 1


def test_a_client_that_disconnects_mid_stream_is_charged_for_what_was_produced(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, _, key = priced_model(tollway, upstream)
    reply = " ".join(f"word{i}" for i in range(40))
    upstream.script_model(name, ModelBehaviour.ok(reply) | ModelBehaviour.slow_chunks(0.05))
    body = {"model": name, "messages": MESSAGES, "stream": True}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream(
        "POST", f"{tollway.v1}/chat/completions", json=body, headers=headers, timeout=10
    ) as response:
        lines = response.iter_lines()
        received = [line for line, _ in zip(lines, range(8), strict=False) if line]
    assert received
    (record,) = tollway.usage_records(1)
    assert record.status is UsageStatus.CLIENT_DISCONNECTED
    assert record.counted is True
    assert 0 < record.completion_tokens < len(reply) // 4 + 40
    assert record.cost_usd is not None
    assert record.cost_usd > 0


def test_embeddings_are_recorded(tollway: Tollway, upstream: FakeProviderServer) -> None:
    name, _, key = priced_model(tollway, upstream)
    client(tollway, key).embeddings.create(model=name, input=["embed these words"])
    (record,) = tollway.usage_records(1)
    assert record.endpoint == "embeddings"
    assert record.prompt_tokens > 0
    assert record.completion_tokens == 0
    assert record.cost_usd == INPUT_PRICE * record.prompt_tokens
