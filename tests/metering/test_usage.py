"""Usage from complete responses, and from streams however they end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.metering.chunks import (
    ECHO,
    anthropic_stream,
    chunk,
    completions_stream,
    finish,
    openai_stream,
    openai_usage,
    openrouter_stream,
    tool_call_stream,
)
from tollway.engine.base import Endpoint, TokenUsage
from tollway.metering.tokens import text_tokens_at_most
from tollway.metering.usage import (
    MeteredUsage,
    StreamMeter,
    usage_from_response,
)

# -- complete responses ----------------------------------------------------------------


def chat_body(usage: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": usage,
    }


def test_chat_with_details() -> None:
    body = chat_body(openai_usage(1200, 300, cached=1024, reasoning=256))
    assert usage_from_response(Endpoint.CHAT, body) == TokenUsage(
        prompt_tokens=1200,
        completion_tokens=300,
        total_tokens=1500,
        cached_tokens=1024,
        reasoning_tokens=256,
    )


def test_chat_without_details_and_without_total() -> None:
    body = chat_body({"prompt_tokens": 12, "completion_tokens": 5})
    assert usage_from_response(Endpoint.CHAT, body) == TokenUsage(12, 5, 17)


def test_null_details_count_as_zero() -> None:
    # Gemini through LiteLLM: "cached_tokens": null.
    usage: dict[str, Any] = {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8}
    usage |= {"prompt_tokens_details": {"cached_tokens": None}, "completion_tokens_details": None}
    assert usage_from_response(Endpoint.CHAT, chat_body(usage)) == TokenUsage(4, 4, 8)


def test_text_completion() -> None:
    body = {
        "id": "cmpl-1",
        "object": "text_completion",
        "choices": [{"index": 0, "text": "hi", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    assert usage_from_response(Endpoint.COMPLETIONS, body) == TokenUsage(3, 1, 4)


def embeddings_body(usage: Any) -> dict[str, Any]:
    vector = {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}
    return {"object": "list", "data": [vector], "model": "m", "usage": usage}


def test_embeddings_have_only_prompt_tokens() -> None:
    body = embeddings_body({"prompt_tokens": 8, "total_tokens": 8})
    assert usage_from_response(Endpoint.EMBEDDINGS, body) == TokenUsage(8, 0, 8)


def test_embeddings_never_carry_completion_tokens() -> None:
    body = embeddings_body({"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11})
    assert usage_from_response(Endpoint.EMBEDDINGS, body) == TokenUsage(8, 0, 8)


def test_embeddings_with_only_a_total() -> None:
    body = embeddings_body({"total_tokens": 6})
    assert usage_from_response(Endpoint.EMBEDDINGS, body) == TokenUsage(6, 0, 6)


@pytest.mark.parametrize(
    "usage",
    [None, "12", [], {}, {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}],
)
@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_missing_or_empty_usage_is_none(endpoint: Endpoint, usage: Any) -> None:
    assert usage_from_response(endpoint, chat_body(usage)) is None
    assert usage_from_response(endpoint, {"object": "list", "data": []}) is None


def test_non_integer_counts_are_ignored() -> None:
    body = chat_body({"prompt_tokens": "12", "completion_tokens": True, "total_tokens": 7})
    assert usage_from_response(Endpoint.CHAT, body) == TokenUsage(0, 0, 7)


# -- streams: reported usage -----------------------------------------------------------


def meter(chunks: list[dict[str, Any]], prompt_estimate: int = 0) -> MeteredUsage:
    stream = StreamMeter()
    for item in chunks:
        stream.observe(item)
    return stream.result(prompt_estimate)


def test_openai_stream_with_include_usage_final_chunk() -> None:
    result = meter(openai_stream(usage=openai_usage(10, 4, cached=2)), prompt_estimate=99)
    assert result == MeteredUsage(TokenUsage(10, 4, 14, cached_tokens=2), counted=False)


def test_openrouter_stream_keeps_usage_cost_and_counts_reasoning_once() -> None:
    result = meter(openrouter_stream(reasoning=["Let me think", " about it"], cost=1.2e-05))
    assert result.counted is False
    assert result.reported_cost == 1.2e-05
    assert result.usage == TokenUsage(9, 17, 26, reasoning_tokens=8)


@pytest.mark.parametrize("cost", [0, 0.0, -1.0, "n/a", None, float("nan")])
def test_zero_or_odd_reported_cost_is_not_a_cost(cost: Any) -> None:
    chunks = openai_stream(usage=openai_usage(10, 4) | {"cost": cost})
    assert meter(chunks).reported_cost is None


@pytest.mark.parametrize("usage_on_finish", [False, True])
def test_anthropic_via_litellm_usage_on_the_last_chunk(usage_on_finish: bool) -> None:
    chunks = anthropic_stream(thinking=["Hmm."], usage_on_finish=usage_on_finish)
    result = meter(chunks, prompt_estimate=5)
    assert result == MeteredUsage(TokenUsage(1200, 40, 1240, cached_tokens=1000), counted=False)


def test_usage_null_on_every_chunk_is_no_usage() -> None:
    chunks = [item | {"usage": None} for item in openai_stream()]
    result = meter(chunks, prompt_estimate=7)
    assert result.counted is True
    assert result.usage.prompt_tokens == 7


# -- streams: counted ------------------------------------------------------------------


def test_stream_without_usage_is_counted() -> None:
    result = meter(openai_stream(), prompt_estimate=12)
    # An upper bound: the UTF-8 bytes of "hello ", "there ", "big ", "world".
    assert result == MeteredUsage(TokenUsage(12, 21, 33), counted=True)


def test_every_non_empty_delta_is_at_least_one_token() -> None:
    result = meter(openai_stream(["a", "b", "", "c"]))
    assert result.usage.completion_tokens == 3


def test_counted_reasoning_is_inside_completion_and_not_doubled_by_thinking_blocks() -> None:
    chunks = anthropic_stream(["abcd"], thinking=["abcdefgh"])[:-2]  # cut before usage
    result = meter(chunks)
    assert result.counted is True
    assert (result.usage.completion_tokens, result.usage.reasoning_tokens) == (12, 8)


def test_openrouter_reasoning_field_is_counted_once() -> None:
    chunks = openrouter_stream(["abcd"], reasoning=["abcdefgh"])[:-1]
    assert meter(chunks).usage.reasoning_tokens == 8


def test_tool_call_name_and_arguments_are_counted() -> None:
    result = meter(tool_call_stream(), prompt_estimate=30)
    # "get_weather" 11 bytes, '{"city": ' 9, '"Paris"}' 8.
    assert result == MeteredUsage(TokenUsage(30, 28, 58), counted=True)


def test_legacy_function_call_is_counted() -> None:
    chunks = [chunk({"function_call": {"name": "f", "arguments": "{}"}})]
    assert meter(chunks).usage.completion_tokens == 3


def test_completions_stream_text_is_counted() -> None:
    assert meter(completions_stream()).usage.completion_tokens == 21


def test_choices_of_n_are_summed() -> None:
    two = {
        "choices": [
            {"index": 0, "delta": {"content": "abcd"}},
            {"index": 1, "delta": {"content": "abcdefgh"}},
        ]
    }
    result = meter([two])
    assert (result.usage.completion_tokens, result.counted) == (12, True)


@pytest.mark.parametrize("cut", range(len(openai_stream()) + 1))
def test_stream_cut_after_n_chunks_is_charged_for_what_was_sent(cut: int) -> None:
    chunks = openai_stream(usage=openai_usage(10, 4))
    result = meter(chunks[:cut], prompt_estimate=10)
    sent = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks[:cut] if c["choices"]
    )
    if cut == len(chunks):
        assert result == MeteredUsage(TokenUsage(10, 4, 14), counted=False)
    else:
        assert result.counted is True
        assert result.usage.prompt_tokens == 10
        assert result.usage.completion_tokens >= text_tokens_at_most(sent)
        assert (result.usage.completion_tokens > 0) == bool(sent)


def test_usage_that_came_before_more_text_is_not_final() -> None:
    # vLLM-style running usage, then the stream went on and was cut.
    chunks = [
        chunk({"content": "hello "}, usage=openai_usage(10, 1, cached=4)),
        chunk({"content": "there big world, and more"}),
    ]
    result = meter(chunks, prompt_estimate=99)
    assert result.counted is True
    assert result.reported_cost is None
    assert result.usage == TokenUsage(10, 31, 41, cached_tokens=4)


def test_running_usage_on_every_chunk_uses_the_last() -> None:
    chunks = [
        chunk({"content": "hello "}, usage=openai_usage(10, 1)),
        chunk({"content": "there "}, usage=openai_usage(10, 2)),
    ]
    assert meter(chunks) == MeteredUsage(TokenUsage(10, 2, 12), counted=False)


def test_all_zero_usage_is_treated_as_missing() -> None:
    result = meter(openai_stream(usage=openai_usage(0, 0)), prompt_estimate=3)
    assert result == MeteredUsage(TokenUsage(3, 21, 24), counted=True)


def test_nothing_observed() -> None:
    assert meter([], prompt_estimate=-5) == MeteredUsage(TokenUsage(), counted=True)


@pytest.mark.parametrize(
    "odd",
    [
        {},
        {"choices": None},
        {"choices": ["x", None, 3]},
        {"choices": [{"delta": None, "text": None}]},
        {"choices": [{"delta": {"content": 7, "tool_calls": "x", "function_call": "y"}}]},
        {"choices": [{"delta": {"tool_calls": [None, {"function": None}, {"function": []}]}}]},
        {"usage": "garbage"},
        finish(),
    ],
)
def test_odd_chunks_are_ignored(odd: dict[str, Any]) -> None:
    stream = StreamMeter()
    stream.observe(odd)
    assert stream.deltas == 0
    assert stream.result(4) == MeteredUsage(TokenUsage(4, 0, 4), counted=True)


def test_deltas_counts_chunks_that_carried_text() -> None:
    stream = StreamMeter()
    for item in [*openai_stream(), *tool_call_stream()]:
        stream.observe(item)
    assert stream.deltas == len(ECHO) + 3


def test_counted_text_is_bounded_by_its_utf8_bytes() -> None:
    assert [text_tokens_at_most("x" * n) for n in (0, 1, 4, 9)] == [0, 1, 4, 9]
    assert text_tokens_at_most("日本語") == 9
    assert text_tokens_at_most("🙂") == 4
