"""Microseconds per metering step on the data plane's hot path: reading a response's
usage, observing one stream chunk, and pricing a call. Prints numbers, asserts nothing.

docs/architecture.md §9 budgets admission + metering at 100 µs per request together.

Run: .venv/bin/python bench/metering.py
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tollway.engine.base import Endpoint, TokenUsage
from tollway.metering.pricing import Prices, compute_cost
from tollway.metering.usage import StreamMeter, usage_from_response

REPEAT = 5
DELTAS = 200  # a ~200-token answer

USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0},
}
CHAT_BODY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
    "usage": USAGE,
}
EMBEDDINGS_BODY = {"object": "list", "data": [], "usage": {"prompt_tokens": 8, "total_tokens": 8}}
PRICES = Prices(Decimal("1.5E-7"), Decimal("6E-7"), Decimal("7.5E-8"))


def chunk(delta: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": choices,
        **extra,
    }


CONTENT_CHUNK = chunk({"content": " token"})
TOOL_CHUNK = chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Par'}}]})
STREAM = [
    chunk({"role": "assistant", "content": ""}),
    *(chunk({"content": f" word{i}"}) for i in range(DELTAS)),
    chunk({}, usage=USAGE),
]


def best_us(step: Callable[[], object], number: int) -> float:
    """The best of REPEAT runs, in µs per call (the least disturbed run)."""
    return min(timeit.repeat(step, number=number, repeat=REPEAT)) / number * 1e6


def whole_stream() -> object:
    meter = StreamMeter()
    for item in STREAM:
        meter.observe(item)
    return meter.result(1200)


def main() -> None:
    meter = StreamMeter()
    rows = [
        (
            "usage_from_response, chat with details",
            best_us(lambda: usage_from_response(Endpoint.CHAT, CHAT_BODY), 100_000),
        ),
        (
            "usage_from_response, embeddings",
            best_us(lambda: usage_from_response(Endpoint.EMBEDDINGS, EMBEDDINGS_BODY), 100_000),
        ),
        (
            "StreamMeter.observe, content chunk",
            best_us(lambda: meter.observe(CONTENT_CHUNK), 500_000),
        ),
        (
            "StreamMeter.observe, tool-call chunk",
            best_us(lambda: meter.observe(TOOL_CHUNK), 500_000),
        ),
        (
            f"StreamMeter, whole {len(STREAM)}-chunk stream + result, per chunk",
            best_us(whole_stream, 2_000) / len(STREAM),
        ),
        (
            "compute_cost, computed (cached tokens)",
            best_us(lambda: compute_cost(TokenUsage(1200, 300, 1500, 1024, 128), PRICES), 100_000),
        ),
        (
            "compute_cost, provider-reported",
            best_us(lambda: compute_cost(TokenUsage(1200, 300, 1500), PRICES, 1.2e-05), 100_000),
        ),
        (
            "compute_cost, unpriced",
            best_us(lambda: compute_cost(TokenUsage(1200, 300, 1500), Prices()), 100_000),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    for name, micros in rows:
        print(f"{name:<{width}}  {micros:7.3f} µs")


if __name__ == "__main__":
    main()
