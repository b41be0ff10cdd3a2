"""LiteLLM's breaks of OpenAI's Responses schema, corrected (engine/responses_conformance.py).

The native cases run the fake OpenAI's own answer and events (tests/fakes/providers/
responses_wire.py) through LiteLLM's real OpenAI Responses transformation, then through
``response_dict`` and the correction, as the embedded engine does: the client gets what
the upstream sent, less only the nulls the schema forbids.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from unittest.mock import MagicMock

import httpx
import pytest
from litellm.llms.openai.responses.transformation import OpenAIResponsesAPIConfig

from tests.conformance.schemas import validate_openai, validate_openai_events
from tests.engine.conftest import target
from tests.fakes.providers.base import Prompt, Turn
from tests.fakes.providers.responses_wire import response_object, response_stream, responses_usage
from tests.fakes.providers.scripting import ModelBehaviour
from tollway.engine.base import Endpoint, EngineCall
from tollway.engine.responses_api import mock_events, mock_response, response_dict
from tollway.engine.responses_conformance import conform_event, conform_response

# The upstream's nulls the schema does not allow (optional, never null): all that may go.
FORBIDDEN_NULLS = ("user", "usage")


def fake_turn(text: str = "hello there") -> Turn:
    return Turn(
        model="gpt-test",
        body={"model": "gpt-test", "input": text},
        prompt=Prompt(text, 2),
        behaviour=ModelBehaviour(),
    )


def without_forbidden_nulls(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not (k in FORBIDDEN_NULLS and v is None)}


def through_litellm(upstream: dict[str, Any]) -> dict[str, Any]:
    raw = httpx.Response(200, json=upstream)
    obj = OpenAIResponsesAPIConfig().transform_response_api_response("gpt-test", raw, MagicMock())
    return conform_response(response_dict(obj))


def test_native_answer_arrives_as_the_upstream_sent_it() -> None:
    upstream = response_object(fake_turn(), responses_usage)
    answer = through_litellm(copy.deepcopy(upstream))
    validate_openai("Response", answer)
    # LiteLLM's own additions (``phase: null``, ``cost: null``, ``audio_tokens: null``…) are
    # gone; every field the upstream sent, the schema allowing it, is there unchanged.
    assert answer == without_forbidden_nulls(upstream)


def test_native_answer_keeps_what_the_schema_allows_even_when_litellm_does_not_know_it() -> None:
    upstream = response_object(fake_turn(), responses_usage)
    upstream["usage"]["cost"] = 0.25  # OpenRouter's price
    upstream["usage"]["input_tokens_details"]["cached_tokens"] = 1
    upstream["output"][0]["phase"] = "final_answer"
    upstream["output"][0]["content"][0]["logprobs"] = [
        {"token": "hi", "logprob": -0.1, "bytes": [104, 105], "top_logprobs": []}
    ]
    answer = through_litellm(copy.deepcopy(upstream))
    validate_openai("Response", answer)
    assert answer == without_forbidden_nulls(upstream)


def sse_data(plan_parts: list[bytes]) -> list[dict[str, Any]]:
    events = []
    for raw in plan_parts:
        data = [line[5:] for line in raw.decode().splitlines() if line.startswith("data:")]
        events.append(json.loads(data[0]))
    return events


def test_native_events_arrive_as_the_upstream_sent_them() -> None:
    plan = response_stream(fake_turn("say hello to the stream"), responses_usage)
    upstream = sse_data([*plan.head, *plan.deltas, *plan.tail])
    config = OpenAIResponsesAPIConfig()
    events = [
        conform_event(
            response_dict(config.transform_streaming_response("gpt-test", copy.deepcopy(e), None))  # type: ignore[arg-type]
        )
        for e in upstream
    ]
    validate_openai_events("ResponseStreamEvent", events)
    expected = [
        e | {"response": without_forbidden_nulls(e["response"])} if "response" in e else e
        for e in upstream
    ]
    assert events == expected
    assert "usage" not in events[0]["response"]  # null until the response completes
    assert events[-1]["response"]["usage"] == upstream[-1]["response"]["usage"]


def bridged_answer() -> dict[str, Any]:
    """What ``litellm.aresponses`` dumps for a family it bridges to chat (Anthropic's)."""
    return {
        "id": "resp_1",
        "created_at": 1,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "model": "claude",
        "object": "response",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hi", "annotations": None}],
                "phase": None,
            }
        ],
        "parallel_tool_calls": False,
        "temperature": None,
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "max_output_tokens": None,
        "previous_response_id": None,
        "reasoning": None,
        "status": "completed",
        "text": None,
        "truncation": None,
        "usage": {
            "input_tokens": 6,
            "input_tokens_details": {
                "audio_tokens": None,
                "cached_tokens": 0,
                "cached_tokens_details": None,
                "image_tokens": None,
                "text_tokens": 6,
                "video_tokens": None,
            },
            "output_tokens": 2,
            "output_tokens_details": None,
            "total_tokens": 8,
            "cost": None,
        },
        "user": None,
        "store": None,
        "provider_specific_fields": {"citations": None, "thinking_blocks": None},
    }


def test_bridged_answer_loses_its_nulls_and_gains_only_required_fields() -> None:
    answer = conform_response(bridged_answer())
    validate_openai("Response", answer)
    assert answer["usage"] == {
        "input_tokens": 6,
        "input_tokens_details": {"cached_tokens": 0, "text_tokens": 6, "cache_write_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 8,
    }
    assert answer["output"][0] == {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "hi", "annotations": [], "logprobs": []}],
    }
    for gone in ("user", "text", "provider_specific_fields"):
        assert gone not in answer
    # Nullable in the schema: kept as LiteLLM gave them.
    assert answer["temperature"] is None
    assert answer["reasoning"] is None


def test_bridged_cache_counts_and_provider_fields_with_values_stay() -> None:
    answer = bridged_answer()
    answer["usage"]["input_tokens_details"] |= {"cached_tokens": 3, "cache_write_tokens": 4}
    answer["provider_specific_fields"] = {"citations": [{"url": "u"}], "thinking_blocks": None}
    conform_response(answer)
    details = answer["usage"]["input_tokens_details"]
    assert (details["cached_tokens"], details["cache_write_tokens"]) == (3, 4)
    assert answer["provider_specific_fields"] == {
        "citations": [{"url": "u"}],
        "thinking_blocks": None,
    }


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {"type": "response.output_text.delta", "item_id": "m", "output_index": 0,
             "content_index": 0, "delta": "hi", "sequence_number": 4},
            {"type": "response.output_text.delta", "item_id": "m", "output_index": 0,
             "content_index": 0, "delta": "hi", "sequence_number": 4, "logprobs": []},
        ),
        (
            {"type": "response.content_part.done", "item_id": "m", "output_index": 0,
             "content_index": 0, "sequence_number": 5,
             "part": {"type": "output_text", "text": "hi", "annotations": [], "logprobs": None}},
            {"type": "response.content_part.done", "item_id": "m", "output_index": 0,
             "content_index": 0, "sequence_number": 5,
             "part": {"type": "output_text", "text": "hi", "annotations": [], "logprobs": []}},
        ),
        (
            {"type": "response.output_item.added", "output_index": 0, "sequence_number": 2,
             "item": {"type": "message", "id": "m", "status": "in_progress",
                      "role": "assistant", "content": [], "phase": None}},
            {"type": "response.output_item.added", "output_index": 0, "sequence_number": 2,
             "item": {"type": "message", "id": "m", "status": "in_progress",
                      "role": "assistant", "content": []}},
        ),
    ],
    ids=["text-delta", "part-done", "item-added"],
)  # fmt: skip
def test_bridged_events(event: dict[str, Any], expected: dict[str, Any]) -> None:
    assert conform_event(event) == expected
    validate_openai_events("ResponseStreamEvent", [event])


def test_refusal_parts_and_function_calls_are_left_alone() -> None:
    refusal = {"type": "refusal", "refusal": "no"}
    call = {"type": "function_call", "id": "fc", "call_id": "c", "name": "f", "arguments": "{}"}
    answer = bridged_answer()
    answer["output"] = [
        {"type": "message", "id": "m", "status": "completed", "role": "assistant",
         "content": [refusal]},
        call,
    ]  # fmt: skip
    conform_response(answer)
    assert answer["output"][0]["content"] == [{"type": "refusal", "refusal": "no"}]
    assert answer["output"][1] == call


def test_the_mock_answers_and_streams_in_the_schema() -> None:
    call = EngineCall(
        Endpoint.RESPONSES, {"model": "m", "input": "hello mock"}, target("mock/m", None, mock=True)
    )
    validate_openai("Response", mock_response(call))
    events = mock_events(call)
    validate_openai_events("ResponseStreamEvent", events)
    assert "usage" not in events[0]["response"]
