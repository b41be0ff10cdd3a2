"""Journal lines and hourly rollups (tollway.metering.records)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from tollway.engine.base import Endpoint, Route
from tollway.metering.records import (
    CompletedUsage,
    Finished,
    HourKey,
    HourlyDelta,
    Sealed,
    UsageEvent,
    UsageOutcome,
    charge_reservation,
    parse_line,
    rollup,
)
from tollway.store.tables import NIL_UUID, CostSource, UsageStatus

T0 = datetime(2030, 5, 1, 10, 15, 30, 123456, tzinfo=UTC)
KEY = uuid.UUID("11111111-1111-4111-8111-111111111111")
TEAM = uuid.UUID("22222222-2222-4222-8222-222222222222")
PROVIDER = uuid.UUID("33333333-3333-4333-8333-333333333333")
PROVIDER_KEY = uuid.UUID("44444444-4444-4444-8444-444444444444")


def make_event(request_id: str, started_at: datetime = T0, **fields: Any) -> UsageEvent:
    values: dict[str, Any] = {
        "public_model": "gpt-small",
        "requested_model": "gpt-small",
        "route": Route.LITELLM,
        "endpoint": Endpoint.CHAT,
        "tollway_key_id": KEY,
        "team_id": TEAM,
        "provider_id": PROVIDER,
        "provider_key_id": PROVIDER_KEY,
        **fields,
    }
    return UsageEvent(request_id, started_at, **values)


def make_outcome(finished_at: datetime = T0 + timedelta(seconds=2), **fields: Any) -> UsageOutcome:
    values: dict[str, Any] = {
        "status": UsageStatus.OK,
        "http_status": 200,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "cost_usd": Decimal("0.000123456789"),
        "cost_source": CostSource.COMPUTED,
        "latency_ms": 2000,
        "ttft_ms": 150,
        **fields,
    }
    return UsageOutcome(finished_at, **values)


def test_begin_line_round_trips_exactly() -> None:
    event = make_event(
        "req-1", model_row_id=uuid.uuid4(), team_id=None, reserved_cost_usd=Decimal("1E-12")
    )
    line = event.to_json()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert parse_line(line) == event


def test_finish_line_round_trips_exactly() -> None:
    outcome = make_outcome(
        status=UsageStatus.CLIENT_DISCONNECTED,
        http_status=None,
        ttft_ms=None,
        cost_usd=Decimal("123456789012.123456789012"),
        fallback_reason="engine_unavailable",
        counted=True,
        route=Route.OPENROUTER,
        provider_id=uuid.uuid4(),
        over_reservation=True,
    )
    parsed = parse_line(outcome.to_json("req-1"))
    assert parsed == Finished("req-1", outcome)


def test_a_finish_line_from_before_over_reservation_reads_as_within_it() -> None:
    line = make_outcome(over_reservation=True).to_json("req-old")
    old = orjson.loads(line)
    del old["o"]["over_reservation"]
    parsed = parse_line(orjson.dumps(old))
    assert isinstance(parsed, Finished)
    assert parsed.outcome.over_reservation is False
    assert CompletedUsage(make_event("req-old"), parsed.outcome).row()["over_reservation"] is False


def test_seal_line() -> None:
    assert isinstance(parse_line(b'{"t":"s"}\n'), Sealed)


@pytest.mark.parametrize(
    "line",
    [
        b'{"t":"b","e":{"request_id":"x"',  # torn
        b"not json",
        b'{"t":"x"}',
        b'{"t":"b","e":{"request_id":"x"}}',  # fields missing
        b'{"t":"f","id":"x","o":{"finished_at":"yesterday","status":"ok","http_status":200}}',
        b'{"t":"f","id":"x","o":{"finished_at":"2030-01-01T00:00:00+00:00","status":"odd",'
        b'"http_status":200}}',
        b"[1, 2]",
    ],
)
def test_malformed_lines_are_value_errors(line: bytes) -> None:
    with pytest.raises(ValueError, match="journal"):
        parse_line(line)


def test_fields_from_a_newer_writer_are_ignored() -> None:
    data = orjson.loads(make_event("req-1").to_json())
    data["e"]["added_later"] = 1
    assert parse_line(orjson.dumps(data)) == make_event("req-1")


def test_events_refuse_what_the_store_cannot_hold() -> None:
    with pytest.raises(ValueError, match="request_id"):
        make_event("x" * 65)
    with pytest.raises(ValueError, match="request_id"):
        make_event("")
    with pytest.raises(ValueError, match="timezone"):
        make_event("req-1", started_at=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        make_outcome(finished_at=datetime(2030, 1, 1))


def test_row_uses_the_deployment_that_finally_served() -> None:
    fallback_provider = uuid.uuid4()
    record = CompletedUsage(
        make_event("req-1", public_model="m" * 500),
        make_outcome(route=Route.OPENROUTER, provider_id=fallback_provider),
    )
    row = record.row()
    assert row["route"] == "openrouter"
    assert row["provider_id"] == fallback_provider
    assert row["provider_key_id"] == PROVIDER_KEY
    assert len(row["public_model"]) == 400  # cut, not refused


def test_rollup_sums_per_hour_and_dimension() -> None:
    late = T0 + timedelta(hours=1)
    records = [
        CompletedUsage(make_event("a"), make_outcome()),
        CompletedUsage(make_event("b"), make_outcome(status=UsageStatus.ERROR, http_status=502)),
        CompletedUsage(
            make_event("c"), make_outcome(cost_usd=None, cost_source=CostSource.UNPRICED)
        ),
        CompletedUsage(make_event("d"), make_outcome(finished_at=late)),
        CompletedUsage(make_event("e", team_id=None, provider_id=None), make_outcome()),
    ]
    deltas = rollup(records)
    hour = T0.replace(minute=0, second=0, microsecond=0)
    main = HourKey(hour, KEY, TEAM, PROVIDER, PROVIDER_KEY, "gpt-small", "litellm")
    assert deltas[main] == HourlyDelta(
        requests=3,
        errors=1,
        prompt_tokens=30,
        completion_tokens=60,
        cost_usd=Decimal("0.000246913578"),
        unpriced_requests=1,
    )
    assert deltas[main._replace(hour=hour + timedelta(hours=1))].requests == 1
    no_team = main._replace(team_id=NIL_UUID, provider_id=NIL_UUID)
    assert deltas[no_team].requests == 1
    assert sum(delta.requests for delta in deltas.values()) == len(records)


def test_rollup_counts_interrupted_as_errors_and_is_pure() -> None:
    records = [CompletedUsage(make_event("a"), make_outcome(status=UsageStatus.INTERRUPTED))]
    assert rollup(records) == rollup(records)
    assert next(iter(rollup(records).values())).errors == 1
    assert rollup([]) == {}


def test_charge_reservation_settles_as_interrupted() -> None:
    event = make_event(
        "req-1",
        reserved_prompt_tokens=100,
        reserved_completion_tokens=512,
        reserved_cost_usd=Decimal("0.01"),
    )
    outcome = charge_reservation(event, T0 + timedelta(seconds=5))
    assert outcome.status is UsageStatus.INTERRUPTED
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (100, 512)
    assert (outcome.cost_usd, outcome.cost_source) == (Decimal("0.01"), CostSource.COMPUTED)
    assert outcome.counted
    assert outcome.http_status is None
    assert outcome.latency_ms == 5000
    unpriced = charge_reservation(make_event("req-2"), T0 - timedelta(hours=1))
    assert unpriced.cost_source is CostSource.UNPRICED
    assert unpriced.finished_at == T0  # never before it started
