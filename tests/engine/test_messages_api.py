"""The Messages engine pieces without a network: LiteLLM's SSE bytes reassembled into events
however they are cut, the mock's answer and stream, and the usage the meters read from
events shaped as LiteLLM's bridge and Anthropic's native stream send them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tollway.engine.base import Endpoint, EngineCall, Target
from tollway.engine.messages_api import (
    SseBytes,
    client_extras,
    messages_body,
    mock_events,
    mock_message,
)
from tollway.metering.messages_usage import MessagesStreamMeter, messages_usage

EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 9}}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "é\n"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
    {"type": "message_stop"},
]


def wire(events: list[dict[str, Any]], newline: bytes = b"\n") -> bytes:
    blocks = [
        b"event: " + e["type"].encode() + newline + b"data: " + json.dumps(e).encode() + newline
        for e in events
    ]
    return newline.join(blocks) + newline


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_sse_bytes_reassemble_events_however_they_are_cut(size: int, newline: bytes) -> None:
    data = wire(EVENTS, newline)
    parser = SseBytes()
    events = []
    for start in range(0, len(data), size):
        events += parser.feed(data[start : start + size])
    events += parser.finish()
    assert events == EVENTS


def call(body: dict[str, Any], model: str = "openai/mock-model") -> EngineCall:
    target = Target("d1", model, None, None, 30.0, mock=True)
    return EngineCall(Endpoint.MESSAGES, body, target)


def test_the_mock_answers_and_streams_the_same_message() -> None:
    body = {"max_tokens": 20, "system": "sys", "messages": [{"role": "user", "content": "a b c"}]}
    message = mock_message(call(body))
    assert message["content"] == [{"type": "text", "text": "a b c"}]
    assert message["model"] == "mock-model"
    events = mock_events(call(body))
    assert [e["type"] for e in events][:3] == ["message_start", "content_block_start", "ping"]
    assert events[-1] == {"type": "message_stop"}
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "a b c"
    meter = MessagesStreamMeter()
    for event in events:
        meter.observe(event)
    streamed = meter.result()
    assert streamed.counted is False
    assert streamed.usage == messages_usage(message)


def test_a_bridged_stream_reports_its_input_on_message_delta() -> None:
    """LiteLLM's bridge sends zeros on message_start and the whole usage at the end."""
    meter = MessagesStreamMeter()
    zeros = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0}
    meter.observe({"type": "message_start", "message": {"usage": zeros}})
    end = {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 5}
    meter.observe({"type": "message_delta", "delta": {}, "usage": end})
    usage = meter.result(100).usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens) == (12, 5, 3)


def test_a_stream_cut_before_message_delta_is_counted() -> None:
    """No final usage: the input side from message_start, the output counted."""
    meter = MessagesStreamMeter()
    start = {"input_tokens": 9, "output_tokens": 1, "cache_read_input_tokens": 2}
    meter.observe({"type": "message_start", "message": {"usage": start}})
    thinking = {"type": "thinking_delta", "thinking": "xy"}
    meter.observe({"type": "content_block_delta", "index": 0, "delta": thinking})
    text = {"type": "text_delta", "text": "abc"}
    meter.observe({"type": "content_block_delta", "index": 1, "delta": text})
    metered = meter.result(100)
    assert metered.counted
    usage = metered.usage
    assert (usage.prompt_tokens, usage.cached_tokens) == (11, 2)
    assert (usage.completion_tokens, usage.reasoning_tokens) == (5, 2)
    assert meter.deltas == 2
    unstarted = MessagesStreamMeter()
    unstarted.observe({"type": "content_block_delta", "index": 0, "delta": text})
    assert unstarted.result(100).usage.prompt_tokens == 100  # the caller's estimate


def test_the_body_sent_upstream_has_no_openai_stream_options() -> None:
    body = messages_body(call({"max_tokens": 5, "stream": True, "model": "x"}), "m", stream=True)
    assert body == {"max_tokens": 5, "model": "m", "stream": True}


BETA = {"anthropic-beta": "beta-one-2025-01-01"}


def extras_for(model: str, metadata: Any) -> dict[str, Any]:
    body = {"messages": [], "metadata": metadata}
    target = Target("d1", model, None, None, 30.0)
    return client_extras(EngineCall(Endpoint.MESSAGES, body, target, upstream_headers=BETA))


def test_only_a_string_user_id_of_the_clients_metadata_reaches_litellm() -> None:
    steering = {"user_id": "u1", "tags": ["t"], "model_group": "g", "mock_response": "x"}
    assert extras_for("anthropic/claude-x", steering) == {
        "metadata": {"user_id": "u1"},
        "extra_headers": BETA,
    }
    assert extras_for("anthropic/claude-x", {"user_id": 5, "tags": ["t"]}) == {
        "extra_headers": BETA
    }
    assert extras_for("anthropic/claude-x", "not an object") == {"extra_headers": BETA}


def test_a_bridged_family_gets_no_beta_header_and_keeps_user_only_where_it_may() -> None:
    # OpenAI keeps ``user``: LiteLLM must forward it even for a model it does not know.
    assert extras_for("openai/gpt-x", {"user_id": "u1"}) == {
        "metadata": {"user_id": "u1"},
        "allowed_openai_params": ["user"],
    }
    assert extras_for("gemini/gemini-x", {"user_id": "u1"}) == {"metadata": {"user_id": "u1"}}
    assert extras_for("openai/gpt-x", None) == {}
