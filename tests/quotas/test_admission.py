"""Worst cases, prompt estimates and the headers of a 429."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.quotas.support import limit
from tollway.quotas.admission import (
    DEFAULT_MAX_TOKENS,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    estimate_prompt_tokens,
    max_tokens_of,
    to_headers,
    worst_case,
)
from tollway.quotas.model import Denied, Metric, Usage, Window

CHAT_OVERHEAD = MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS


def test_worst_case_is_one_request_the_prompt_and_the_whole_completion_cap() -> None:
    usage = worst_case(1000, 500, Decimal("0.000001"), Decimal("0.000003"))
    # 1000 x $1/M + 500 x $3/M = $0.0025
    assert usage == Usage(requests=1, tokens=1500, usd_micros=2500)


def test_worst_case_without_max_tokens_reserves_the_default_cap() -> None:
    assert worst_case(10, None, None, None).tokens == 10 + DEFAULT_MAX_TOKENS
    assert worst_case(10, None, None, None, default_max_tokens=100).tokens == 110


def test_worst_case_rounds_cost_up_to_the_next_micro_dollar() -> None:
    assert worst_case(1, 0, Decimal("0.0000000001"), None).usd_micros == 1
    assert worst_case(3, 0, 0.1, None).usd_micros == 300_000  # floats read as their text
    assert worst_case(3, 0, None, None).usd_micros == 0  # unpriced


def test_estimate_counts_message_text_at_four_characters_a_token() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}]}
    assert estimate_prompt_tokens(body) == 100 + CHAT_OVERHEAD


def test_estimate_counts_parts_images_tool_calls_and_tool_definitions() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    call = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "y" * 40},
                    {"type": "image_url", "image_url": {"url": "data:..."}},
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": call},
        ],
        "tools": tools,
    }
    plain = {"messages": [{"role": "user", "content": "y" * 40}, {"role": "assistant"}]}
    estimate = estimate_prompt_tokens(body)
    assert estimate > estimate_prompt_tokens(plain) + IMAGE_TOKENS + 20
    assert estimate < estimate_prompt_tokens(plain) + IMAGE_TOKENS + 100


@pytest.mark.parametrize(
    ("body", "tokens"),
    [
        ({"prompt": "z" * 80}, 20),
        ({"prompt": ["z" * 40, "z" * 40]}, 20),
        ({"input": [1, 2, 3, 4, 5]}, 5),  # token ids are tokens already
        ({"input": [[1, 2], [3]]}, 3),
        ({}, 0),
    ],
)
def test_estimate_reads_completions_and_embeddings_bodies(
    body: dict[str, object], tokens: int
) -> None:
    assert estimate_prompt_tokens(body) == tokens


def test_estimate_survives_odd_shapes() -> None:
    body = {"messages": ["not a message", {"content": [3, {"type": "audio", "data": "a" * 8}]}]}
    assert estimate_prompt_tokens(body) > 2 * MESSAGE_OVERHEAD_TOKENS


def test_max_tokens_prefers_max_completion_tokens() -> None:
    assert max_tokens_of({"max_tokens": 10, "max_completion_tokens": 20}) == 20
    assert max_tokens_of({"max_tokens": 10}) == 10
    assert max_tokens_of({"max_tokens": True}) is None
    assert max_tokens_of({"max_tokens": "10"}) is None
    assert max_tokens_of({}) is None


def test_headers_of_a_rate_limit_denial() -> None:
    rpm = limit(Metric.REQUESTS, Window.MINUTE, 60)
    denied = Denied(rpm, used=60, requested=1, reset_at=1_000_020, retry_after_seconds=20)
    assert to_headers(denied) == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "20s",
        "retry-after": "20",
    }


def test_headers_of_token_and_budget_denials() -> None:
    tph = limit(Metric.TOKENS, Window.HOUR, 10_000)
    denied = Denied(tph, used=9_000, requested=2_000, reset_at=1, retry_after_seconds=3_723)
    headers = to_headers(denied)
    assert headers["x-ratelimit-remaining-tokens"] == "1000"
    assert headers["x-ratelimit-reset-tokens"] == "1h2m3s"
    month = limit(Metric.USD, Window.MONTH, 5_000_000)
    denied = Denied(month, used=4_750_000, requested=300_000, reset_at=1, retry_after_seconds=360)
    assert to_headers(denied) == {
        "x-ratelimit-limit-usd": "5",
        "x-ratelimit-remaining-usd": "0.25",
        "x-ratelimit-reset-usd": "6m0s",
        "retry-after": "360",
    }


def test_a_total_budget_never_rolls_so_there_is_no_retry_after() -> None:
    total = limit(Metric.USD, Window.TOTAL, 1_000_000)
    denied = Denied(total, used=1_000_000, requested=1, reset_at=None, retry_after_seconds=None)
    assert to_headers(denied) == {"x-ratelimit-limit-usd": "1", "x-ratelimit-remaining-usd": "0"}
