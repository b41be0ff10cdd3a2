"""Tool-calling answers in the wire formats LiteLLM translates (Anthropic, Gemini,
Cohere), as those providers send them: what a translated chat answer is most likely
to get wrong (tool-call fragments without ids or names, nulls the schema forbids)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.providers.wire import sse
from tollway.store.enums import ProviderType

ARGUMENTS = {"city": "Oslo"}
ANTHROPIC_TOOL = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def sse_named_event(raw: bytes) -> tuple[str | None, Any]:
    """An event as ``wire.sse`` wrote it, read back: (name, parsed data)."""
    lines = raw.decode().strip().splitlines()
    names = [line[6:].strip() for line in lines if line.startswith("event:")]
    data = "".join(line[5:].strip() for line in lines if line.startswith("data:"))
    return (names[0] if names else None, json.loads(data))


def anthropic_message(stop: str = "tool_use") -> dict[str, Any]:
    return {
        "id": "msg_upstream",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": ARGUMENTS},
        ],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 9},
    }


def anthropic_events() -> list[bytes]:
    start = {**anthropic_message(), "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 20, "output_tokens": 1}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Checking."},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": tool}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return [sse(data, event=name) for name, data in events]


def gemini_chunk(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage = {"promptTokenCount": 20, "candidatesTokenCount": 9, "totalTokenCount": 29}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-upstream"}


def gemini_body() -> dict[str, Any]:
    call = {"functionCall": {"name": "get_weather", "args": ARGUMENTS}}
    return gemini_chunk([{"text": "Checking."}, call], "STOP")


def gemini_events() -> list[bytes]:
    call = {"functionCall": {"name": "get_weather", "args": ARGUMENTS}}
    return [sse(gemini_chunk([{"text": "Checking."}], None)), sse(gemini_chunk([call], "STOP"))]


def cohere_body() -> dict[str, Any]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    message = {"role": "assistant", "tool_plan": "Checking.", "tool_calls": [call]}
    usage = {
        "billed_units": {"input_tokens": 20, "output_tokens": 9},
        "tokens": {"input_tokens": 20, "output_tokens": 9},
    }
    return {
        "id": "cohere-upstream",
        "message": message,
        "finish_reason": "TOOL_CALL",
        "usage": usage,
    }


# (JSON body, SSE events or None where the suite does not stream that family natively)
TOOL_ANSWERS: dict[ProviderType, tuple[dict[str, Any], list[bytes] | None]] = {
    ProviderType.ANTHROPIC: (anthropic_message(), anthropic_events()),
    ProviderType.GEMINI: (gemini_body(), gemini_events()),
    ProviderType.COHERE: (cohere_body(), None),
}
