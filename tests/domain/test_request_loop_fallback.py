"""The OpenRouter fallback: every reason it is taken for, what it is sent and billed,
and the error the client gets when it is off, impossible, or fails too."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.domain.conftest import Plane, Planes
from tests.domain.tables import (
    OPENROUTER_MODEL,
    caller,
    deployment,
    group,
    key_id,
    openrouter_route,
    provider_id,
    stale_credential,
    table,
    team_id,
    usd_limit,
)
from tests.fakes.engine import Script, ScriptedEngine
from tollway.engine.base import Route
from tollway.errors import InferenceError
from tollway.routing.breaker import CircuitBreaker
from tollway.store.enums import LimitScope
from tollway.store.tables import CostSource, UsageStatus

pytestmark = pytest.mark.anyio


def _fell_back(plane: Plane, reason: str) -> None:
    """The fallback was taken for ``reason``: called, journaled, counted, recorded."""
    [call] = plane.openrouter.calls
    assert call.target.upstream_model == OPENROUTER_MODEL
    assert call.target.api_key is not None
    assert call.target.api_key.reveal() == "sk-or-fallback-0123456789"
    record = plane.last_record()
    assert record.outcome.status is UsageStatus.OK
    assert record.route is Route.OPENROUTER
    assert record.outcome.fallback_reason == reason
    assert record.provider_id == provider_id("openrouter")
    assert record.provider_key_id == key_id("openrouter")
    assert plane.sample("tollway_fallbacks_total", reason=reason) == 1
    [(request_id, model, recorded, _detail)] = plane.events.fallbacks
    assert (request_id, model, recorded) == (record.event.request_id, "chat", reason)


@pytest.mark.parametrize(
    ("behaviours", "reason"),
    [
        (["unavailable"], "engine_unavailable"),
        (["misconfigured"], "engine_misconfigured"),
        (["500", "429"], "all_deployments_failed"),
        (["401"], "all_deployments_failed"),
    ],
)
async def test_each_engine_side_failure_falls_back(
    planes: Planes, behaviours: list[str], reason: str
) -> None:
    deployments = [deployment(f"d{i}", b, priority=-i) for i, b in enumerate(behaviours)]
    plane = planes(table(group(*deployments)))
    outcome = await plane.complete(caller(), "chat")
    assert outcome.served.route is Route.OPENROUTER
    assert outcome.served.provider_name == "openrouter"
    assert outcome.served.deployment_id is None
    assert outcome.served.fallback_reason == reason
    assert outcome.served.attempts == len(plane.engine.calls) + 1
    _fell_back(plane, reason)


async def test_an_open_circuit_falls_back_without_calling_the_engine(planes: Planes) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=3600)
    breaker.record_failure()
    plane = planes(table(group(deployment("a"))), breaker=breaker)
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.calls == []
    assert outcome.served.attempts == 1
    _fell_back(plane, "engine_circuit_open")


async def test_no_usable_deployment_falls_back_as_no_deployment(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "401"))), quarantine=True)
    await plane.complete(caller(), "chat")  # quarantines a's key, then falls back
    plane.openrouter.calls.clear()
    plane.events.fallbacks.clear()
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a"]
    assert outcome.served.fallback_reason == "no_deployment"
    [call] = plane.openrouter.calls
    assert call.target.upstream_model == OPENROUTER_MODEL
    assert plane.last_record().outcome.fallback_reason == "no_deployment"
    assert plane.sample("tollway_fallbacks_total", reason="no_deployment") == 1


@pytest.mark.parametrize("own", [(), ("own-failing",)], ids=["no-own-key", "own-key-fails"])
async def test_a_byok_only_team_never_falls_back_to_the_shared_openrouter_key(
    planes: Planes, own: tuple[str, ...]
) -> None:
    own_keys = [deployment(name, "500", team="strict") for name in own]
    plane = planes(table(group(deployment("shared"), *own_keys)))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(team="strict", byok_only=True), "chat")
    assert plane.openrouter.calls == []
    expected = (503, "no_usable_deployment") if not own else (502, "bad_gateway")
    assert (raised.value.status_code, raised.value.code) == expected
    assert raised.value.message.endswith("so the shared OpenRouter key is not used for it")
    assert plane.events.fallbacks == []
    assert await plane.outstanding() == 0


async def test_a_stale_openrouter_key_fails_closed(planes: Planes) -> None:
    route = openrouter_route(credential=stale_credential("openrouter"))
    plane = planes(table(group(deployment("a", "unavailable")), openrouter=route))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert (raised.value.status_code, raised.value.code) == (503, "secret_store_unavailable")
    assert "past its stale window" in raised.value.message
    assert plane.openrouter.calls == []
    assert plane.events.fallbacks == []
    assert await plane.outstanding() == 0


async def test_the_fallback_is_sent_the_body_and_reserves_the_dearest_price(
    planes: Planes,
) -> None:
    dear = (Decimal("0.001"), Decimal("0.002"))
    budget = usd_limit(LimitScope.TEAM, team_id("red"), "100")
    plane = planes(
        table(
            group(deployment("cheap", "500"), deployment("dear", "500", prices=dear)),
            limits=[budget],
        )
    )
    await plane.complete(caller(team="red"), "chat", {"max_tokens": 7})
    [call] = plane.openrouter.calls
    assert call.body["max_tokens"] == 7
    assert call.body["messages"] == [{"role": "user", "content": "hi"}]
    record = plane.last_record()
    reserved = record.event.reserved_cost_usd
    assert reserved == (
        Decimal("0.001") * record.event.reserved_prompt_tokens + Decimal("0.002") * 7
    )


async def test_openrouters_reported_cost_is_the_bill(planes: Planes) -> None:
    openrouter = ScriptedEngine({OPENROUTER_MODEL: Script.ok(cost=0.0123)}, Route.OPENROUTER)
    plane = planes(table(group(deployment("a", "unavailable"))), openrouter=openrouter)
    await plane.complete(caller(), "chat")
    outcome = plane.last_record().outcome
    assert outcome.cost_source is CostSource.PROVIDER
    assert outcome.cost_usd == Decimal("0.0123")


async def test_streams_fall_back_before_the_first_byte(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "503"))))
    outcome = await plane.stream(caller(), "chat")
    chunks = [chunk async for chunk in outcome.value]
    await outcome.value.close(disconnected=False)
    assert outcome.served.fallback_reason == "all_deployments_failed"
    assert chunks
    assert plane.openrouter.streams[0].closed
    assert plane.last_record().route is Route.OPENROUTER


# -- no fallback ----------------------------------------------------------------------


async def test_fallback_disabled_answers_the_last_upstream_error(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "500"))), fallback_enabled=False)
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    error = raised.value
    assert (error.status_code, error.code) == (502, "bad_gateway")
    assert (
        error.message == "every deployment of `chat` failed; last: scripted upstream answered 500"
    )
    assert plane.openrouter.calls == []
    assert plane.sample("tollway_fallbacks_total", reason="all_deployments_failed") == 0
    record = plane.last_record()
    assert (record.outcome.status, record.outcome.http_status) == (UsageStatus.ERROR, 502)


async def test_a_last_429_is_passed_on_with_retry_after(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "429"))), fallback_enabled=False)
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert raised.value.status_code == 429
    assert raised.value.error_type == "rate_limit_exceeded"
    assert raised.value.headers == {"Retry-After": "3", "x-should-retry": "true"}


@pytest.mark.parametrize("behaviour", ["unavailable", "misconfigured"])
async def test_an_engine_failure_without_fallback_is_a_503(planes: Planes, behaviour: str) -> None:
    plane = planes(table(group(deployment("a", behaviour))), fallback_enabled=False)
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert (raised.value.status_code, raised.value.code) == (503, "engine_unavailable")
    assert raised.value.message.startswith("the engine could not serve `chat`: scripted")


async def test_without_an_openrouter_route_the_error_says_so(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "500")), fallback=False))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert raised.value.status_code == 502
    assert raised.value.message.endswith(
        "; no OpenRouter provider is configured for fallback (add one of type openrouter)"
    )
    assert plane.openrouter.calls == []


async def test_without_an_openrouter_model_id_the_error_says_so(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "unavailable"), openrouter_model_id=None)))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert raised.value.status_code == 503
    assert raised.value.message.endswith("; `chat` has no OpenRouter model id to fall back to")
    assert plane.openrouter.calls == []


# -- the fallback fails too -----------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "status", "message"),
    [
        ("500", 502, "the fallback to OpenRouter failed too: scripted upstream answered 500"),
        ("401", 502, "the fallback to OpenRouter failed too: scripted upstream answered 401"),
        ("429", 429, "the fallback to OpenRouter failed too: scripted upstream answered 429"),
        ("400", 400, "scripted upstream answered 400"),
        ("unavailable", 502, "the fallback to OpenRouter failed: scripted engine is down"),
        ("misconfigured", 502, "the fallback to OpenRouter failed: scripted: unknown model"),
    ],
)
async def test_a_failing_fallback_answers_its_own_error(
    planes: Planes, behaviour: str, status: int, message: str
) -> None:
    plane = planes(table(group(deployment("a", "500"), openrouter_model_id=f"vendor/{behaviour}")))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert (raised.value.status_code, raised.value.message) == (status, message)
    record = plane.last_record()
    assert (record.outcome.status, record.outcome.http_status) == (UsageStatus.ERROR, status)
    # Recorded against the last attempt: the fallback, and why it was taken.
    assert record.route is Route.OPENROUTER
    assert record.outcome.fallback_reason == "all_deployments_failed"
    assert await plane.outstanding() == 0
