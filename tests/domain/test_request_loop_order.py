"""Who may call, and which deployments are tried in what order: the strategy's order,
the caller team's own (BYOK) keys first, never another team's, none shared for a
BYOK-only team, at most ``max_attempts``."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.domain.conftest import Planes
from tests.domain.tables import caller, caller_id, deployment, group, table
from tollway.engine.base import Route
from tollway.errors import InferenceError
from tollway.store.enums import RoutingStrategy
from tollway.store.tables import utcnow

pytestmark = pytest.mark.anyio


async def test_priority_tries_the_highest_priority_first_then_by_id(planes: Planes) -> None:
    plane = planes(
        table(
            group(
                deployment("c", "500", priority=1),
                deployment("b", "500", priority=5),
                deployment("a", "500", priority=1),
                deployment("d", "ok", priority=0),
            )
        )
    )
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["b", "a", "c", "d"]
    assert outcome.served.deployment_id == "d"
    assert outcome.served.attempts == 4
    assert outcome.served.route is Route.LITELLM
    assert outcome.served.fallback_reason is None


async def test_cheapest_tries_the_lowest_price_first_and_unpriced_last(planes: Planes) -> None:
    cheap, dear = (Decimal("0.000001"), Decimal("0.000001")), (Decimal("0.01"), Decimal("0.01"))
    plane = planes(
        table(
            group(
                deployment("unpriced", "500", prices=(None, None), priority=9),
                deployment("dear", "500", prices=dear, priority=9),
                deployment("cheap", "500", prices=cheap),
                strategy=RoutingStrategy.CHEAPEST,
            )
        ),
        fallback_enabled=False,
    )
    with pytest.raises(InferenceError):
        await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["cheap", "dear", "unpriced"]


async def test_weighted_draws_an_order_per_request_weight_zero_last(planes: Planes) -> None:
    plane = planes(
        table(
            group(
                deployment("last", "ok", weight=0, priority=9),
                deployment("x", "ok", weight=1),
                deployment("y", "ok", weight=1),
                strategy=RoutingStrategy.WEIGHTED,
            )
        )
    )
    served = Counter()
    for _ in range(40):
        outcome = await plane.complete(caller(), "chat")
        served[outcome.served.deployment_id] += 1
    # Both weighted deployments lead some of the time (odds of failing: 2 in 2**40).
    assert served["x"] > 0
    assert served["y"] > 0
    assert served["last"] == 0


async def test_weight_zero_is_the_last_resort_not_excluded(planes: Planes) -> None:
    plane = planes(
        table(
            group(
                deployment("last", "ok", weight=0),
                deployment("x", "500", weight=3),
                strategy=RoutingStrategy.WEIGHTED,
            )
        )
    )
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["x", "last"]
    assert outcome.served.deployment_id == "last"


async def test_the_callers_team_keys_come_first_then_shared_ones(planes: Planes) -> None:
    plane = planes(
        table(
            group(
                deployment("shared", "ok", priority=9),
                deployment("red-own", "500", team="red"),
                deployment("blue-own", "ok", team="blue", priority=99),
            )
        )
    )
    outcome = await plane.complete(caller(team="red"), "chat")
    # Red's own key first whatever the priorities; blue's key is never red's to use.
    assert plane.engine.tried == ["red-own", "shared"]
    assert outcome.served.deployment_id == "shared"


async def test_a_caller_without_a_team_uses_shared_keys_only(planes: Planes) -> None:
    plane = planes(table(group(deployment("shared"), deployment("red-own", team="red"))))
    await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["shared"]


async def test_byok_only_never_uses_shared_keys(planes: Planes) -> None:
    plane = planes(
        table(group(deployment("shared", "ok"), deployment("own", "500", team="strict"))),
        fallback_enabled=False,
    )
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(team="strict", byok_only=True), "chat")
    assert plane.engine.tried == ["own"]
    assert raised.value.status_code == 502


async def test_byok_only_without_own_keys_finds_no_usable_deployment(planes: Planes) -> None:
    plane = planes(table(group(deployment("shared"))), fallback_enabled=False)
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(team="strict", byok_only=True), "chat")
    assert plane.engine.calls == []
    assert raised.value.status_code == 503
    assert raised.value.code == "no_usable_deployment"
    assert "only its own keys and has none" in raised.value.message


async def test_max_attempts_bounds_the_candidates_tried(planes: Planes) -> None:
    deployments = [deployment(f"d{i}", "500", priority=10 - i) for i in range(5)]
    plane = planes(table(group(*deployments)), max_attempts=2)
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["d0", "d1"]
    assert outcome.served.route is Route.OPENROUTER
    assert outcome.served.attempts == 3


async def test_another_teams_model_does_not_exist_for_the_caller(planes: Planes) -> None:
    plane = planes(table(group(deployment("blue-own", team="blue"))))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(team="red"), "chat")
    assert raised.value.code == "model_not_found"
    assert plane.engine.calls == []
    assert plane.openrouter.calls == []
    assert plane.journaled().completed == {}  # refused before any admission


async def test_unknown_and_disallowed_models_are_not_found(planes: Planes) -> None:
    plane = planes(table(group(deployment("a")), group(deployment("b"), name="other")))
    for who, model in [(caller(), "nope"), (caller(allowed=["other"]), "chat")]:
        with pytest.raises(InferenceError) as raised:
            await plane.complete(who, model)
        assert raised.value.status_code == 404
    assert plane.engine.calls == []


async def test_authenticate_finds_the_key_by_its_token_and_records_its_use(
    planes: Planes,
) -> None:
    past = utcnow() - timedelta(seconds=1)
    keys = {"tw-good": caller(), "tw-expired": caller("old", expires_at=past)}
    plane = planes(table(group(deployment("a")), keys=keys))
    assert plane.service.authenticate("tw-good").id == caller_id("agent")
    assert plane.events.keys_used == [caller_id("agent")]
    for token in [None, "", "tw-unknown", "tw-expired", "Bearer tw-good"]:
        with pytest.raises(InferenceError) as raised:
            plane.service.authenticate(token)
        assert raised.value.code == "invalid_api_key"
    assert plane.events.keys_used == [caller_id("agent")]
