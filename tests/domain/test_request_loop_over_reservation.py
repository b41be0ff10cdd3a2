"""Usage reported above the reservation: charged as reported (the counters carry the
truth, so the next admission is refused), flagged on the record, counted in
``tollway_over_reservation_total`` per overrun scope, and sent as an event. Usage
tollway counted itself is capped at the reservation instead, and never flagged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.domain.conftest import Plane, Planes
from tests.domain.tables import (
    caller,
    caller_id,
    deployment,
    group,
    limit,
    table,
    team_id,
    usd_limit,
)
from tests.fakes.engine import OVER_REPORTED_COMPLETION
from tollway.errors import InferenceError
from tollway.quotas.model import Limit, Metric
from tollway.store.enums import LimitScope

pytestmark = pytest.mark.anyio

RED = caller(team="red")
OVER_TOKENS = 10 + OVER_REPORTED_COMPLETION
OVER_MICROS = 10 * 1 + OVER_REPORTED_COMPLETION * 10  # at the default prices


def over_reservation(plane: Plane, scope: str) -> float:
    return plane.sample("tollway_over_reservation_total", scope=scope)


async def test_an_over_report_is_charged_flagged_counted_and_sent(planes: Planes) -> None:
    tokens = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 5_000)
    plane = planes(table(group(deployment("a", "over")), limits=[tokens]))
    await plane.complete(RED, "chat")
    record = plane.last_record()
    reserved = record.event.reserved_prompt_tokens + record.event.reserved_completion_tokens
    assert record.outcome.completion_tokens == OVER_REPORTED_COMPLETION
    assert record.outcome.over_reservation
    assert reserved < OVER_TOKENS
    assert await plane.spent(tokens) == OVER_TOKENS  # the truth, above the limit even
    assert await plane.outstanding() == 0
    assert over_reservation(plane, "team") == 1
    [(request_id, details)] = plane.events.over_reservations
    assert request_id == record.event.request_id
    assert details["scopes"] == ["team"]
    assert details["used"]["tokens"] == OVER_TOKENS
    assert details["reserved"]["tokens"] == reserved
    # The counters carry the truth: the team is over its limit now.
    with pytest.raises(InferenceError) as raised:
        await plane.complete(RED, "chat")
    assert raised.value.code == "team_tokens_total"


async def test_each_overrun_scope_is_named(planes: Planes) -> None:
    limits = [
        usd_limit(LimitScope.TEAM, team_id("red"), "100"),
        limit(LimitScope.TOLLWAY_KEY, caller_id("agent"), Metric.TOKENS, 10**6),
        limit(LimitScope.TOLLWAY_KEY, caller_id("agent"), Metric.REQUESTS, 10**6),
    ]
    plane = planes(table(group(deployment("a", "over")), limits=limits))
    await plane.complete(RED, "chat")
    assert plane.last_record().outcome.over_reservation
    assert over_reservation(plane, "team") == 1
    assert over_reservation(plane, "tollway_key") == 1  # once, for its token limit
    assert await plane.spent(limits[0]) == OVER_MICROS
    assert plane.last_record().outcome.cost_usd == Decimal(OVER_MICROS) / 10**6


async def test_a_streamed_over_report_is_flagged_too(planes: Planes) -> None:
    tokens = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
    plane = planes(table(group(deployment("a", "over")), limits=[tokens]))
    outcome = await plane.stream(RED, "chat")
    _ = [chunk async for chunk in outcome.value]
    await outcome.value.close(disconnected=False)
    assert plane.last_record().outcome.over_reservation
    assert await plane.spent(tokens) == OVER_TOKENS
    assert len(plane.events.over_reservations) == 1


async def test_an_over_reporting_fallback_is_flagged(planes: Planes) -> None:
    tokens = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
    routes = group(deployment("a", "unavailable"), openrouter_model_id="vendor/over")
    plane = planes(table(routes, limits=[tokens]))
    await plane.complete(RED, "chat")
    record = plane.last_record()
    assert record.outcome.fallback_reason == "engine_unavailable"
    assert record.outcome.over_reservation
    assert await plane.spent(tokens) == OVER_TOKENS


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param([], id="nothing-reserved"),
        pytest.param(
            [limit(LimitScope.TEAM, team_id("red"), Metric.REQUESTS, 10)], id="requests-only"
        ),
    ],
)
async def test_without_a_token_or_usd_reservation_nothing_is_flagged(
    planes: Planes, limits: list[Limit]
) -> None:
    plane = planes(table(group(deployment("a", "over")), limits=limits))
    await plane.complete(RED, "chat")
    record = plane.last_record()
    assert record.outcome.completion_tokens == OVER_REPORTED_COMPLETION  # still billed
    assert not record.outcome.over_reservation
    assert plane.events.over_reservations == []
    assert over_reservation(plane, "team") == 0


async def test_honest_usage_is_not_flagged(planes: Planes) -> None:
    tokens = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
    plane = planes(table(group(deployment("a", "ok")), limits=[tokens]))
    await plane.complete(RED, "chat", {"max_tokens": 3})
    assert not plane.last_record().outcome.over_reservation
    assert plane.events.over_reservations == []
