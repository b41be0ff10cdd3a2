"""Windows, limits from a limits row, USD in micro-dollars, denials."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.quotas.support import limit
from tollway.quotas.counters import Buckets, Plan
from tollway.quotas.model import (
    Amount,
    Denied,
    Limit,
    Metric,
    Window,
    demand,
    limits_from_row,
    retry_after,
    usd_to_micros,
)
from tollway.store.enums import LimitScope
from tollway.store.tables import LimitsInfo

# 1970 to 2400, with sub-second precision.
timestamps = st.floats(min_value=0, max_value=13_569_465_600, allow_nan=False)
ROLLING = [Window.MINUTE, Window.HOUR, Window.DAY, Window.MONTH]


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@given(ts=timestamps, window=st.sampled_from(ROLLING))
def test_bucket_holds_the_timestamp_and_the_next_begins_where_it_ends(
    ts: float, window: Window
) -> None:
    start = window.start(ts)
    end = window.end(start)
    assert end is not None
    assert start <= ts < end
    assert window.start(start) == start
    assert window.start(end) == end  # buckets tile time: no gaps, no overlaps
    assert window.start(end - 0.001) == start


@given(ts=timestamps)
def test_buckets_are_calendar_aligned_in_utc(ts: float) -> None:
    moment = utc(ts)
    assert utc(Window.MINUTE.start(ts)) == moment.replace(second=0, microsecond=0)
    assert utc(Window.HOUR.start(ts)) == moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    assert utc(Window.DAY.start(ts)) == day
    assert utc(Window.MONTH.start(ts)) == day.replace(day=1)


@given(ts=timestamps)
def test_months_are_calendar_months(ts: float) -> None:
    start = Window.MONTH.start(ts)
    end = Window.MONTH.end(start)
    assert end is not None
    first, following = utc(start), utc(end)
    assert following.day == 1
    assert (following.year * 12 + following.month) - (first.year * 12 + first.month) == 1
    assert (end - start) // 86400 in (28, 29, 30, 31)


def test_february_of_a_leap_year_has_29_days() -> None:
    start = Window.MONTH.start(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC).timestamp())
    assert utc(start) == datetime(2024, 2, 1, tzinfo=UTC)
    assert utc(Window.MONTH.end(start) or 0) == datetime(2024, 3, 1, tzinfo=UTC)


@given(ts=timestamps)
def test_total_is_one_bucket_that_never_rolls(ts: float) -> None:
    assert Window.TOTAL.start(ts) == 0
    assert Window.TOTAL.end(0) is None


@given(first=timestamps, second=timestamps, window=st.sampled_from(list(Window)))
def test_the_bucket_cache_agrees_with_the_window_whatever_the_clock_does(
    first: float, second: float, window: Window
) -> None:
    buckets = Buckets()
    for ts in (first, second, first):
        start = window.start(ts)
        assert buckets.at(window, ts) == (start, window.end(start))


def test_limits_from_a_limits_row() -> None:
    team = uuid.uuid4()
    row = LimitsInfo(
        scope=LimitScope.TEAM,
        scope_id=team,
        requests_per_minute=60,
        tokens_per_day=1_000_000,
        usd_per_month=Decimal("12.3456789"),
        usd_total=Decimal("100"),
    )
    limits = limits_from_row(row)
    assert [(item.metric, item.window, item.limit) for item in limits] == [
        (Metric.REQUESTS, Window.MINUTE, 60),
        (Metric.TOKENS, Window.DAY, 1_000_000),
        (Metric.USD, Window.MONTH, 12_345_678),  # rounded down: never more generous
        (Metric.USD, Window.TOTAL, 100_000_000),
    ]
    assert {(item.scope, item.scope_id) for item in limits} == {(LimitScope.TEAM, str(team))}


def test_limits_from_a_row_like_object_with_every_field() -> None:
    fields = {
        "requests_per_minute": 1,
        "requests_per_hour": 2,
        "tokens_per_minute": 3,
        "tokens_per_hour": 4,
        "tokens_per_day": 5,
        "tokens_per_month": 6,
        "usd_per_day": 0.07,  # a float (JSON) is read through its decimal text
        "usd_per_month": Decimal("8"),
        "usd_total": 9,
    }
    row = SimpleNamespace(scope="provider_key", scope_id="k1", **fields)
    limits = limits_from_row(row)
    assert [item.limit for item in limits] == [1, 2, 3, 4, 5, 6, 70_000, 8_000_000, 9_000_000]
    assert {item.scope for item in limits} == {LimitScope.PROVIDER_KEY}
    assert (
        limits_from_row(SimpleNamespace(scope="team", scope_id="t", **dict.fromkeys(fields))) == []
    )


@pytest.mark.parametrize(
    ("value", "round_up", "micros"),
    [
        (Decimal("0.0000001"), True, 1),
        (Decimal("0.0000001"), False, 0),
        (Decimal("1.5"), True, 1_500_000),
        ("0.000002", False, 2),
        (0.1, True, 100_000),  # 0.1 is not 0.1000000000000000055… here
        (10**9, False, 10**15),
    ],
)
def test_usd_to_micros_is_exact(value: Decimal | str | float, round_up: bool, micros: int) -> None:
    assert usd_to_micros(value, round_up=round_up) == micros


def test_demand_takes_each_limits_metric_from_the_usage() -> None:
    limits = [limit(Metric.REQUESTS), limit(Metric.TOKENS), limit(Metric.USD)]
    usage = Amount(requests=1, tokens=300, usd_micros=42)
    assert [amount for _, amount in demand(limits, usage)] == [1, 300, 42]


def test_a_plan_merges_a_counter_listed_twice_keeping_the_tighter_limit() -> None:
    loose = limit(amount=10, scope_id="same")
    tight = Limit(loose.scope, "same", loose.metric, loose.window, 3)
    planned = Plan([(loose, 1), (tight, 1), (limit(), 1)], 1_000_000.0, Buckets())
    assert len(planned.keys) == 2
    assert planned.amounts[0] == 2
    assert planned.limits[0] is tight


def test_denials_say_which_kind_and_when_to_retry() -> None:
    rpm = limit(Metric.REQUESTS, Window.MINUTE, 5)
    rate = Denied(rpm, used=5, requested=1, reset_at=1060, retry_after_seconds=12)
    assert rate.type == "rate_limit_exceeded"
    assert rate.remaining == 0
    assert not rate.never_fits
    assert "Retry after 12 s" in rate.message
    assert rpm.scope_id not in rate.message
    budget = limit(Metric.USD, Window.TOTAL, 2_000_000, scope=LimitScope.TEAM)
    spent = Denied(
        budget, used=1_500_000, requested=600_000, reset_at=None, retry_after_seconds=None
    )
    assert spent.type == "budget_exceeded"
    assert spent.remaining == 500_000
    assert "team total usd is 2, 0.5 remaining" in spent.message
    assert "Retry" not in spent.message
    huge = Denied(rpm, used=0, requested=6, reset_at=1060, retry_after_seconds=12)
    assert huge.never_fits
    assert "can never fit" in huge.message


def test_retry_after_rounds_up_and_is_never_zero() -> None:
    assert retry_after(1060, 1000.2) == 60
    assert retry_after(1060, 1059.99) == 1
    assert retry_after(1060, 1060.0) == 1
    assert retry_after(None, 1000.0) is None
