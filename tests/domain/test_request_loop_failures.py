"""Which failure moves on to the next candidate and which ends the request.

Before the first byte: a retryable upstream error (429, 5xx, a timeout) or a rejected key moves
on; a misconfigured deployment moves on; an engine that is down stops the loop at
once (the next candidate would go through the same engine); a request the provider
refused (400, 404, 422) goes back to the client, and nothing else is tried.
"""

from __future__ import annotations

import pytest

from tests.domain.conftest import Planes
from tests.domain.tables import caller, deployment, group, key_id, stale_credential, table
from tollway.engine.base import Route
from tollway.errors import InferenceError
from tollway.routing.breaker import CircuitBreaker, CircuitState
from tollway.store.tables import UsageStatus

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("behaviour", ["429", "500", "502", "503", "timeout"])
async def test_a_retryable_upstream_error_moves_on(planes: Planes, behaviour: str) -> None:
    plane = planes(table(group(deployment("a", behaviour, priority=1), deployment("b", "ok"))))
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a", "b"]
    assert outcome.served.deployment_id == "b"
    assert outcome.served.attempts == 2
    assert plane.sample("tollway_upstream_failures_total", kind="retryable") == 1
    assert plane.breaker.state is CircuitState.CLOSED
    record = plane.last_record()
    assert record.outcome.status is UsageStatus.OK
    assert record.outcome.provider_key_id == key_id("b")  # the attempt that served
    assert record.event.provider_key_id == key_id("b")  # journaled again on failover


@pytest.mark.parametrize(("behaviour", "status"), [("400", 400), ("404", 404), ("422", 422)])
async def test_a_refused_request_goes_back_to_the_client(
    planes: Planes, behaviour: str, status: int
) -> None:
    plane = planes(table(group(deployment("a", behaviour, priority=1), deployment("b", "ok"))))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert raised.value.status_code == status
    assert raised.value.message == f"scripted upstream answered {status}"
    assert plane.engine.tried == ["a"]  # the same request would fail anywhere
    assert plane.openrouter.calls == []  # and never falls back
    assert plane.events.fallbacks == []
    record = plane.last_record()
    assert (record.outcome.status, record.outcome.http_status) == (UsageStatus.ERROR, status)


@pytest.mark.parametrize("behaviour", ["401", "403"])
async def test_a_rejected_key_moves_on_and_is_reported(planes: Planes, behaviour: str) -> None:
    plane = planes(table(group(deployment("a", behaviour, priority=1), deployment("b", "ok"))))
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a", "b"]
    assert outcome.served.deployment_id == "b"
    assert plane.sample("tollway_upstream_failures_total", kind="key_rejected") == 1
    # Without a quarantine the key is marked invalid at once.
    assert [key for key, _ in plane.events.keys_rejected] == [key_id("a")]


async def test_a_quarantined_key_is_skipped_by_the_next_requests(planes: Planes) -> None:
    plane = planes(
        table(group(deployment("a", "401", priority=1), deployment("b", "ok"))), quarantine=True
    )
    await plane.complete(caller(), "chat")
    assert plane.quarantine is not None
    assert plane.quarantine.holds(key_id("a"))
    assert plane.events.keys_rejected == []  # held and re-tested, not condemned yet
    await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a", "b", "b"]


async def test_every_key_quarantined_leaves_no_deployment(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "401"))), quarantine=True, fallback_enabled=False)
    with pytest.raises(InferenceError) as first:
        await plane.complete(caller(), "chat")
    assert first.value.status_code == 502  # the rejection itself: every deployment failed
    with pytest.raises(InferenceError) as second:
        await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a"]
    assert second.value.status_code == 503
    assert second.value.code == "no_usable_deployment"
    assert "rejected by the provider and is being re-tested" in second.value.message


async def test_a_misconfigured_deployment_moves_on(planes: Planes) -> None:
    plane = planes(
        table(group(deployment("a", "misconfigured", priority=1), deployment("b", "ok")))
    )
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a", "b"]
    assert outcome.served.deployment_id == "b"
    assert plane.sample("tollway_upstream_failures_total", kind="misconfigured") == 1
    assert plane.breaker.state is CircuitState.CLOSED  # the engine itself answered


async def test_an_unavailable_engine_stops_the_loop_at_once(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", "unavailable", priority=1), deployment("b", "ok"))))
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a"]  # "b" would go through the same engine
    assert outcome.served.route is Route.OPENROUTER
    assert outcome.served.fallback_reason == "engine_unavailable"


async def test_unavailable_engines_open_the_circuit_which_skips_the_engine(
    planes: Planes,
) -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_seconds=3600)
    plane = planes(table(group(deployment("a", "unavailable"))), breaker=breaker)
    for _ in range(2):
        await plane.complete(caller(), "chat")
    assert breaker.state is CircuitState.OPEN
    assert plane.sample("tollway_engine_circuit_state", state="open") == 1
    outcome = await plane.complete(caller(), "chat")
    assert plane.engine.tried == ["a", "a"]  # not called while the circuit is open
    assert outcome.served.fallback_reason == "engine_circuit_open"
    assert outcome.served.attempts == 1


async def test_a_half_open_circuit_lets_one_probe_through_and_closes_on_success(
    planes: Planes,
) -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=10, clock=lambda: now[0])
    plane = planes(table(group(deployment("a", "unavailable"))), breaker=breaker)
    await plane.complete(caller(), "chat")
    assert breaker.state is CircuitState.OPEN
    plane.holder.table = table(group(deployment("a", "ok")))  # the engine is back
    now[0] = 10.0
    outcome = await plane.complete(caller(), "chat")
    assert outcome.served.route is Route.LITELLM
    assert breaker.state is CircuitState.CLOSED


async def test_upstream_failures_do_not_open_the_circuit(planes: Planes) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=3600)
    plane = planes(table(group(deployment("a", "500"), deployment("b", "401"))), breaker=breaker)
    for _ in range(3):
        await plane.complete(caller(), "chat")
    assert breaker.state is CircuitState.CLOSED
    assert len(plane.engine.calls) == 6


async def test_the_last_failure_names_the_reason(planes: Planes) -> None:
    plane = planes(
        table(group(deployment("a", "500", priority=1), deployment("b", "misconfigured")))
    )
    outcome = await plane.complete(caller(), "chat")
    assert outcome.served.fallback_reason == "engine_misconfigured"
    plane.holder.table = table(
        group(deployment("a", "misconfigured", priority=1), deployment("b", "500"))
    )
    outcome = await plane.complete(caller(), "chat")
    assert outcome.served.fallback_reason == "all_deployments_failed"


async def test_a_secret_store_outage_fails_closed_without_fallback(planes: Planes) -> None:
    plane = planes(table(group(deployment("a", credential=stale_credential()))))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(caller(), "chat")
    assert raised.value.code == "secret_store_unavailable"
    assert raised.value.headers["Retry-After"] == "5"
    assert plane.engine.calls == []
    assert plane.openrouter.calls == []  # never another key instead of the caller's
