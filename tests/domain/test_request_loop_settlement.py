"""Every way a complete (non-streaming) request ends settles or releases what it
reserved, and journals one outcome: success, a refused request, every candidate
failing, a fallback, a limit on the fallback, and a cancelled call.

The counters must equal what was used (nothing for a failure), with no reservation
left outstanding and no request left in flight."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.domain.conftest import Plane, Planes
from tests.domain.tables import (
    caller,
    caller_id,
    deployment,
    group,
    key_id,
    limit,
    provider_id,
    table,
    team_id,
    usd_limit,
)
from tests.fakes.engine import USAGE
from tollway.engine.base import Route
from tollway.errors import InferenceError
from tollway.quotas.model import Metric
from tollway.routing.table import ModelGroup, RoutingTable
from tollway.store.enums import LimitScope
from tollway.store.tables import CostSource, UsageStatus

pytestmark = pytest.mark.anyio

TOKENS = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
USD = usd_limit(LimitScope.TEAM, team_id("red"), "100")
REQUESTS = limit(LimitScope.TOLLWAY_KEY, caller_id("agent"), Metric.REQUESTS, 1000)
RED = caller(team="red")
# USAGE (10 prompt, 3 completion tokens) at the default prices, in micro-USD.
USAGE_MICROS = 10 * 1 + 3 * 10


def counted(*groups: ModelGroup) -> RoutingTable:
    return table(*groups, limits=[TOKENS, USD, REQUESTS])


async def counters(plane: Plane) -> tuple[int, int, int]:
    """(tokens, micro-USD, requests) counted against the caller."""
    return (await plane.spent(TOKENS), await plane.spent(USD), await plane.spent(REQUESTS))


async def settled(plane: Plane, expected: tuple[int, int, int]) -> None:
    assert await counters(plane) == expected
    assert await plane.outstanding() == 0
    assert plane.accounting.in_flight == 0


async def test_success_settles_to_the_reported_usage(planes: Planes) -> None:
    plane = planes(counted(group(deployment("a"))))
    outcome = await plane.complete(RED, "chat")
    assert outcome.value.usage == USAGE
    await settled(plane, (13, USAGE_MICROS, 1))
    record = plane.last_record()
    assert (record.outcome.status, record.outcome.http_status) == (UsageStatus.OK, 200)
    assert (record.outcome.prompt_tokens, record.outcome.completion_tokens) == (10, 3)
    assert record.outcome.cost_usd == Decimal("0.00004")
    assert record.outcome.cost_source is CostSource.COMPUTED
    assert not record.outcome.counted
    assert not record.outcome.over_reservation
    assert plane.journaled().open == {}


async def test_an_answer_without_usage_is_counted_from_its_text(planes: Planes) -> None:
    plane = planes(counted(group(deployment("a", "no-usage"))))
    await plane.complete(RED, "chat")
    record = plane.last_record()
    assert record.outcome.counted
    assert record.outcome.prompt_tokens == record.event.reserved_prompt_tokens
    assert record.outcome.completion_tokens > 0
    tokens = record.outcome.prompt_tokens + record.outcome.completion_tokens
    assert (await counters(plane))[0] == tokens
    assert await plane.outstanding() == 0


async def test_failed_attempts_give_back_their_reservation(planes: Planes) -> None:
    tried = [
        deployment("a", "500", priority=2),
        deployment("b", "429"),
        deployment("c", priority=-1),
    ]
    plane = planes(counted(group(*tried)))
    await plane.complete(RED, "chat")
    assert plane.engine.tried == ["a", "b", "c"]
    await settled(plane, (13, USAGE_MICROS, 1))  # only the attempt that served


@pytest.mark.parametrize(
    ("behaviour", "status"), [("400", 400), ("500", 502), ("unavailable", 503)]
)
async def test_a_request_that_fails_is_charged_nothing(
    planes: Planes, behaviour: str, status: int
) -> None:
    plane = planes(counted(group(deployment("a", behaviour))), fallback_enabled=False)
    with pytest.raises(InferenceError):
        await plane.complete(RED, "chat")
    await settled(plane, (0, 0, 0))
    outcome = plane.last_record().outcome
    assert (outcome.status, outcome.http_status) == (UsageStatus.ERROR, status)
    assert (outcome.prompt_tokens, outcome.completion_tokens, outcome.cost_usd) == (0, 0, 0)


async def test_a_fallback_is_charged_at_the_dearest_price_when_openrouter_bills_nothing(
    planes: Planes,
) -> None:
    dear = (Decimal("0.00001"), Decimal("0.0001"))
    plane = planes(counted(group(deployment("a", "unavailable"), deployment("b", prices=dear))))
    await plane.complete(RED, "chat")
    await settled(plane, (13, 10 * 10 + 3 * 100, 1))
    record = plane.last_record()
    assert record.route is Route.OPENROUTER
    assert record.outcome.cost_usd == Decimal("0.0004")


async def test_a_cancelled_call_is_released_and_journaled_as_interrupted(planes: Planes) -> None:
    plane = planes(counted(group(deployment("a", "slow"))))
    task = asyncio.create_task(plane.complete(RED, "chat"))
    await plane.engine.entered.wait()
    assert await plane.outstanding() == 1
    assert plane.accounting.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settled(plane, (0, 0, 0))
    outcome = plane.last_record().outcome
    assert (outcome.status, outcome.http_status) == (UsageStatus.INTERRUPTED, None)
    assert plane.openrouter.calls == []  # a cancelled request never falls back


async def test_a_cancelled_stream_opening_is_released_too(planes: Planes) -> None:
    plane = planes(counted(group(deployment("a", "slow"))))
    task = asyncio.create_task(plane.stream(RED, "chat"))
    await plane.engine.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settled(plane, (0, 0, 0))
    assert plane.last_record().outcome.status is UsageStatus.INTERRUPTED


async def test_a_cancelled_fallback_is_released_and_journaled_as_interrupted(
    planes: Planes,
) -> None:
    plane = planes(counted(group(deployment("a", "unavailable"), openrouter_model_id="v/slow")))
    task = asyncio.create_task(plane.complete(RED, "chat"))
    await plane.openrouter.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settled(plane, (0, 0, 0))
    record = plane.last_record()
    assert record.outcome.status is UsageStatus.INTERRUPTED
    assert record.route is Route.OPENROUTER


async def test_many_concurrent_requests_leave_exact_counters(planes: Planes) -> None:
    plane = planes(
        counted(
            group(deployment("a", "ok")),
            group(deployment("b", "500"), name="failing"),
            group(deployment("c", "400"), name="refused"),
        )
    )
    models = ["chat", "failing", "refused"] * 10
    results = await asyncio.gather(
        *(plane.complete(RED, model) for model in models), return_exceptions=True
    )
    # "failing" falls back to OpenRouter (ok); "refused" is the client's error.
    assert sum(isinstance(r, InferenceError) for r in results) == 10
    served = 20
    await settled(plane, (13 * served, USAGE_MICROS * served, served))
    journaled = plane.journaled()
    assert len(journaled.completed) == 30
    assert journaled.open == {}


async def test_limits_of_other_scopes_are_settled_too(planes: Planes) -> None:
    provider = limit(LimitScope.PROVIDER, provider_id("p1"), Metric.TOKENS, 10**6)
    key = limit(LimitScope.PROVIDER_KEY, key_id("a"), Metric.USD, 10**9)
    routes = group(deployment("a", "500", priority=1), deployment("b"))
    plane = planes(table(routes, limits=[provider, key]))
    await plane.complete(caller(), "chat")
    # "a" failed: given back; "b" has another key of the same provider.
    assert (await plane.spent(provider), await plane.spent(key)) == (13, 0)
    assert await plane.outstanding() == 0
