"""Limits in the request loop: the caller's own request limits refuse at once (every
candidate alike); a token limit lets a candidate with a smaller cap through, a USD
budget a cheaper one; a
provider's or provider key's limit skips only that candidate. Under a token or USD
limit the body sent carries the cap that was reserved."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.domain.conftest import DEFAULT_MAX_TOKENS, Planes
from tests.domain.tables import (
    OPENROUTER,
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
from tollway.errors import InferenceError
from tollway.quotas.model import Metric
from tollway.store.enums import LimitScope
from tollway.store.tables import UsageStatus

pytestmark = pytest.mark.anyio

DEAR = (Decimal("0.001"), Decimal("0.001"))  # worst case of a bare request: ~0.127 USD


async def test_the_callers_request_limit_refuses_without_trying_anything(
    planes: Planes,
) -> None:
    once = limit(LimitScope.TOLLWAY_KEY, caller_id("agent"), Metric.REQUESTS, 1)
    plane = planes(table(group(deployment("a"), deployment("b")), limits=[once]))
    await plane.complete(caller(), "chat")
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    error = raised.value
    assert (error.status_code, error.error_type) == (429, "rate_limit_exceeded")
    assert error.code == "tollway_key_requests_total"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert plane.engine.tried == ["a"]  # the second request tried nothing
    assert plane.openrouter.calls == []
    labels = {"scope": "tollway_key", "metric": "requests", "window": "total"}
    assert plane.sample("tollway_quota_rejections_total", type="rate_limit_exceeded", **labels) == 1
    # Refused before its first admission: it reached no provider, so it has no record.
    assert list(plane.journaled().completed) == ["req-1"]
    assert await plane.outstanding() == 0


async def test_the_teams_token_limit_refuses_every_candidate_alike(planes: Planes) -> None:
    tiny = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10)
    plane = planes(table(group(deployment("a"), deployment("b")), limits=[tiny]))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(team="red"), "chat")
    assert raised.value.code == "team_tokens_total"
    assert plane.engine.calls == []
    assert plane.openrouter.calls == []


async def test_a_token_limit_lets_a_candidate_with_a_smaller_cap_through(
    planes: Planes,
) -> None:
    # The bare request's worst case is ~127 tokens at the default cap, ~47 at a cap of 20.
    limited = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 100)
    wide, narrow = deployment("wide", priority=9), deployment("narrow", max_output_tokens=20)
    plane = planes(table(group(wide, narrow), limits=[limited]))
    outcome = await plane.complete(caller(team="red"), "chat")
    assert plane.engine.tried == ["narrow"]
    assert outcome.served.deployment_id == "narrow"
    assert plane.engine.calls[0].body["max_tokens"] == 20  # the cap that was reserved
    assert await plane.outstanding() == 0


async def test_a_usd_budget_lets_a_cheaper_candidate_through(planes: Planes) -> None:
    budget = usd_limit(LimitScope.TEAM, team_id("red"), "0.01")
    plane = planes(
        table(
            group(deployment("dear", prices=DEAR, priority=9), deployment("cheap")),
            limits=[budget],
        )
    )
    outcome = await plane.complete(caller(team="red"), "chat")
    assert plane.engine.tried == ["cheap"]
    assert outcome.served.deployment_id == "cheap"
    assert outcome.served.attempts == 1
    labels = {"scope": "team", "metric": "usd", "window": "total", "type": "budget_exceeded"}
    assert plane.sample("tollway_quota_rejections_total", **labels) == 1


async def test_a_budget_no_candidate_fits_is_a_429_not_a_fallback(planes: Planes) -> None:
    budget = usd_limit(LimitScope.TEAM, team_id("red"), "0.01")
    plane = planes(table(group(deployment("dear", prices=DEAR)), limits=[budget]))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(team="red"), "chat")
    assert (raised.value.status_code, raised.value.error_type) == (429, "budget_exceeded")
    assert raised.value.code == "team_usd_total"
    assert plane.engine.calls == []
    assert plane.openrouter.calls == []
    assert plane.journaled().completed == {}


@pytest.mark.parametrize(
    ("scope", "scope_id"),
    [(LimitScope.PROVIDER, provider_id("p1")), (LimitScope.PROVIDER_KEY, key_id("a"))],
)
async def test_a_providers_limit_skips_only_its_candidates(
    planes: Planes, scope: LimitScope, scope_id: uuid.UUID
) -> None:
    closed = limit(scope, scope_id, Metric.REQUESTS, 0)
    plane = planes(
        table(group(deployment("a", priority=9), deployment("b", provider="p2")), limits=[closed])
    )
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["b"]
    assert outcome.served.deployment_id == "b"


async def test_every_provider_limited_is_a_429_naming_a_providers_limit(planes: Planes) -> None:
    closed = [limit(LimitScope.PROVIDER, provider_id(p), Metric.REQUESTS, 0) for p in ("p1", "p2")]
    plane = planes(table(group(deployment("a"), deployment("b", provider="p2")), limits=closed))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert (raised.value.status_code, raised.value.code) == (429, "provider_requests_total")
    assert plane.engine.calls == []
    assert plane.openrouter.calls == []  # limits alone kept them out: no fallback


async def test_the_callers_own_limit_is_named_first(planes: Planes) -> None:
    limits = [
        limit(LimitScope.PROVIDER, provider_id("p1"), Metric.REQUESTS, 0),
        usd_limit(LimitScope.TEAM, team_id("red"), "0.01"),
    ]
    plane = planes(table(group(deployment("a"), deployment("b", prices=DEAR)), limits=limits))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(team="red"), "chat")
    assert raised.value.code == "team_usd_total"  # the caller can act on that one


async def test_a_limited_fallback_is_a_429_after_the_failed_attempts(planes: Planes) -> None:
    closed = limit(LimitScope.PROVIDER, provider_id(OPENROUTER), Metric.REQUESTS, 0)
    plane = planes(table(group(deployment("a", "500")), limits=[closed]))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert (raised.value.status_code, raised.value.code) == (429, "provider_requests_total")
    assert plane.engine.tried == ["a"]
    assert plane.openrouter.calls == []
    record = plane.last_record()
    assert (record.outcome.status, record.outcome.http_status) == (UsageStatus.ERROR, 429)
    assert await plane.outstanding() == 0


# -- the cap that is sent ---------------------------------------------------------------


async def test_without_token_or_usd_limits_the_body_goes_as_sent(planes: Planes) -> None:
    requests = limit(LimitScope.TEAM, team_id("red"), Metric.REQUESTS, 100)
    plane = planes(table(group(deployment("a")), limits=[requests]))
    await plane.complete(caller(team="red"), "chat")
    await plane.complete(caller(team="red"), "chat", {"max_tokens": 9000})
    first, second = (call.body for call in plane.engine.calls)
    assert "max_tokens" not in first
    assert second["max_tokens"] == 9000
    assert first["model"] == "chat"  # the engine puts the target's model in


async def test_under_a_token_limit_the_reserved_cap_is_sent(planes: Planes) -> None:
    tokens = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
    plane = planes(
        table(
            group(deployment("a")),
            limits=[tokens],
        )
    )
    red = caller(team="red")
    await plane.complete(red, "chat")
    await plane.complete(red, "chat", {"max_tokens": 500, "max_completion_tokens": 50})
    await plane.complete(red, "chat", {"max_tokens": 500})
    bodies = [call.body for call in plane.engine.calls]
    assert bodies[0]["max_tokens"] == DEFAULT_MAX_TOKENS
    assert (bodies[1]["max_tokens"], bodies[1]["max_completion_tokens"]) == (50, 50)
    assert bodies[2]["max_tokens"] == 500  # the deployment declares no maximum


async def test_a_models_maximum_caps_what_is_reserved_and_sent(planes: Planes) -> None:
    tokens = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
    plane = planes(table(group(deployment("small", max_output_tokens=20)), limits=[tokens]))
    await plane.complete(caller(team="red"), "chat", {"max_tokens": 500})
    [call] = plane.engine.calls
    assert call.body["max_tokens"] == 20
    event = plane.last_record().event
    assert event.reserved_completion_tokens == 20
