"""Completion caps, worst cases and the headers of a 429."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.quotas.support import limit
from tollway.domain.v1_errors import invalid_cap
from tollway.quotas.admission import (
    DEFAULT_MAX_TOKENS,
    MAX_CHOICES,
    CompletionCaps,
    InvalidCapError,
    rate_limit_headers,
    to_headers,
    worst_case,
)
from tollway.quotas.model import Amount, Denied, Metric, Window


def test_worst_case_is_one_request_the_prompt_and_the_whole_completion_cap() -> None:
    usage = worst_case(1000, 500, Decimal("0.000001"), Decimal("0.000003"))
    # 1000 x $1/M + 500 x $3/M = $0.0025
    assert usage == Amount(requests=1, tokens=1500, usd_micros=2500)


def test_worst_case_without_max_tokens_reserves_the_default_cap() -> None:
    assert worst_case(10, None, None, None).tokens == 10 + DEFAULT_MAX_TOKENS
    assert worst_case(10, None, None, None, default_max_tokens=100).tokens == 110


def test_worst_case_rounds_cost_up_to_the_next_micro_dollar() -> None:
    assert worst_case(1, 0, Decimal("0.0000000001"), None).usd_micros == 1
    assert worst_case(3, 0, 0.1, None).usd_micros == 300_000  # floats read as their text
    assert worst_case(3, 0, None, None).usd_micros == 0  # unpriced


def reserved(body: dict[str, Any], *, enforced: bool = False, model_max: int | None = None) -> int:
    caps = CompletionCaps.parse(body)
    return caps.reserved(enforced=enforced, model_max=model_max, default=DEFAULT_MAX_TOKENS)


def test_the_largest_cap_is_reserved_when_the_body_goes_upstream_as_sent() -> None:
    # A provider may read either field (LiteLLM: the last one it maps wins).
    assert reserved({"max_completion_tokens": 10, "max_tokens": 100_000}) == 100_000
    assert reserved({"max_tokens": 10, "max_output_tokens": 20}) == 20
    assert reserved({"max_tokens": 10}) == 10
    assert reserved({"max_tokens": None}) == DEFAULT_MAX_TOKENS  # null: not set
    assert reserved({}) == DEFAULT_MAX_TOKENS


def test_an_enforced_cap_is_the_smallest_and_is_sent_in_every_cap_field() -> None:
    body = {"max_completion_tokens": 10, "max_tokens": 100_000, "messages": []}
    caps = CompletionCaps.parse(body)
    cap = caps.per_choice(enforced=True, model_max=None, default=DEFAULT_MAX_TOKENS)
    assert cap == 10
    sent = caps.capped_body(body, cap)
    assert (sent["max_completion_tokens"], sent["max_tokens"]) == (10, 10)
    assert body["max_tokens"] == 100_000  # the client's body is left alone
    assert "max_output_tokens" not in sent
    none_set = CompletionCaps.parse({})
    assert none_set.capped_body({}, 77) == {"max_tokens": 77}


def test_the_models_max_output_replaces_the_default_and_bounds_every_cap() -> None:
    assert reserved({}, model_max=16_384) == 16_384
    assert reserved({"max_tokens": 100_000}, model_max=16_384) == 16_384
    assert reserved({"max_tokens": 100}, model_max=16_384) == 100


@pytest.mark.parametrize(
    ("body", "choices"),
    [({"n": 8}, 8), ({"best_of": 5, "n": 2}, 5), ({"n": 3, "best_of": None}, 3), ({}, 1)],
)
def test_every_completion_the_request_can_produce_is_reserved(
    body: dict[str, Any], choices: int
) -> None:
    assert reserved({**body, "max_tokens": 10}) == 10 * choices


def test_embeddings_reserve_no_completion_and_ignore_caps() -> None:
    caps = CompletionCaps.parse({"max_tokens": "junk", "n": 0}, generates=False)
    assert caps.reserved(enforced=True, model_max=None, default=DEFAULT_MAX_TOKENS) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", 100000.0),
        ("max_tokens", 1e30),
        ("max_tokens", True),
        ("max_tokens", False),
        ("max_tokens", "10"),
        ("max_tokens", 0),
        ("max_tokens", -5),
        ("max_tokens", 2**31),
        ("max_tokens", [10]),
        ("max_completion_tokens", 10.5),
        ("max_completion_tokens", 0),
        ("max_output_tokens", -1),
        ("n", 0),
        ("n", MAX_CHOICES + 1),
        ("n", 2.0),
        ("n", True),
        ("best_of", 129),
        ("best_of", {"x": 1}),
    ],
)
def test_invalid_caps_and_choice_counts_are_a_400_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidCapError) as raised:
        CompletionCaps.parse({"max_tokens": 10, field: value})
    error = invalid_cap(raised.value)  # what /v1 answers
    assert (error.status_code, error.error_type, error.param) == (
        400,
        "invalid_request_error",
        field,
    )
    assert f"'{field}'" in error.message


def test_the_error_message_shows_a_bounded_value() -> None:
    with pytest.raises(InvalidCapError) as raised:
        CompletionCaps.parse({"max_tokens": "9" * 10_000})
    assert len(raised.value.message) < 200


def test_headers_of_a_rate_limit_denial() -> None:
    rpm = limit(Metric.REQUESTS, Window.MINUTE, 60)
    denied = Denied(rpm, used=60, requested=1, reset_at=1_000_020, retry_after_seconds=20)
    assert to_headers(denied) == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "20s",
        "retry-after": "20",
        "x-should-retry": "true",
    }


def test_headers_of_token_and_budget_denials() -> None:
    tph = limit(Metric.TOKENS, Window.HOUR, 10_000)
    denied = Denied(tph, used=9_000, requested=2_000, reset_at=1, retry_after_seconds=3_723)
    headers = to_headers(denied)
    assert headers["x-ratelimit-remaining-tokens"] == "1000"
    assert headers["x-ratelimit-reset-tokens"] == "1h2m3s"
    assert headers["x-should-retry"] == "false"  # over an hour away: no SDK waits that long
    assert "retry-after" not in headers
    month = limit(Metric.USD, Window.MONTH, 5_000_000)
    denied = Denied(month, used=4_750_000, requested=300_000, reset_at=1, retry_after_seconds=360)
    assert to_headers(denied) == {
        "x-ratelimit-limit-usd": "5",
        "x-ratelimit-remaining-usd": "0.25",
        "x-ratelimit-reset-usd": "6m0s",
        "x-should-retry": "false",
    }


def test_retry_is_advised_only_when_the_window_rolls_soon_and_the_request_fits() -> None:
    tpm = limit(Metric.TOKENS, Window.MINUTE, 1_000)
    soon = Denied(tpm, used=900, requested=200, reset_at=1, retry_after_seconds=60)
    assert to_headers(soon)["x-should-retry"] == "true"
    assert to_headers(soon)["retry-after"] == "60"
    never = Denied(tpm, used=0, requested=2_000, reset_at=1, retry_after_seconds=5)
    assert to_headers(never)["x-should-retry"] == "false"
    assert "retry-after" not in to_headers(never)
    day = limit(Metric.USD, Window.DAY, 1_000_000)
    late = Denied(day, used=1_000_000, requested=1, reset_at=1, retry_after_seconds=61)
    assert to_headers(late)["x-should-retry"] == "false"


def test_a_total_budget_never_rolls_so_there_is_no_retry_after() -> None:
    total = limit(Metric.USD, Window.TOTAL, 1_000_000)
    denied = Denied(total, used=1_000_000, requested=1, reset_at=None, retry_after_seconds=None)
    assert to_headers(denied) == {
        "x-ratelimit-limit-usd": "1",
        "x-ratelimit-remaining-usd": "0",
        "x-should-retry": "false",
    }


def test_success_headers_report_the_binding_limit_of_each_kind() -> None:
    key_rpm = limit(Metric.REQUESTS, Window.MINUTE, 100)
    key_rph = limit(Metric.REQUESTS, Window.HOUR, 5)
    team_tpm = limit(Metric.TOKENS, Window.MINUTE, 10_000)
    team_tpd = limit(Metric.TOKENS, Window.DAY, 50_000)
    budget = limit(Metric.USD, Window.MONTH, 1)
    now = 1_000_000.0
    levels = [
        (key_rpm, 3, 1_000_030),
        (key_rph, 3, 1_003_600),  # 2 left: binds before the minute's 97
        (team_tpm, 4_000, 1_000_030),  # 6_000 left: binds before the day's 46_000
        (team_tpd, 4_000, 1_086_400),
        (budget, 1, 1_000_001),  # USD: no success header
    ]
    assert rate_limit_headers(levels, now) == {
        "x-ratelimit-limit-requests": "5",
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-reset-requests": "1h0m0s",
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "6000",
        "x-ratelimit-reset-tokens": "30s",
    }
    assert rate_limit_headers([], now) == {}
    over = rate_limit_headers([(key_rpm, 150, 1_000_030)], now)  # usage above the limit
    assert over["x-ratelimit-remaining-requests"] == "0"
