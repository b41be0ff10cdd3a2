"""Counters survive restarts: what was spent before a restart of tollway (memory
counters) or a loss of the Redis counters (FLUSHDB, a restart without persistence)
stays spent, because the open windows are rebuilt from the SQL ledger; while Redis
counters are rebuilt, limited requests get 503 ``quota_store_rebuilding``."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fakes.providers import FakeProviderServer
from tests.inference.conftest import tollway_settings
from tests.inference.restart_support import (
    Answer,
    PrivateRedis,
    Process,
    fresh_minute,
    minute_now,
    private_redis,
    tollway,
)
from tollway.engine.base import Endpoint, Route
from tollway.metering.records import UsageEvent
from tollway.quotas.redis_generation import MARKER
from tollway.quotas.redis_store import DEFAULT_PREFIX
from tollway.settings import Settings

__all__ = ["private_redis"]  # a fixture


def assert_budget_exceeded(answer: Answer) -> None:
    assert answer.status == 429, answer
    assert answer.error is not None
    assert answer.error["type"] == "budget_exceeded"
    assert answer.error["code"] == "team_usd_total"


def test_a_restart_keeps_a_spent_budget_and_minute_rate_spent(
    tmp_path: Path, upstream: FakeProviderServer
) -> None:
    settings = tollway_settings(tmp_path / "data")
    with tollway(settings) as first:
        model = first.priced_model(upstream)
        budget_key = first.team_key(model, usd_total="0.1")
        rate_key = first.team_key(model, requests_per_minute=2)
        assert first.spend(budget_key, model) >= 1
        fresh_minute()
        minute = minute_now()
        assert first.spend(rate_key, model) == 2
    with tollway(settings) as second:
        assert_budget_exceeded(second.chat(budget_key, model))
        limited = second.chat(rate_key, model)
        if minute_now() != minute:
            pytest.skip("the minute rolled over during the restart (an overloaded machine)")
        assert limited.status == 429, limited
        assert limited.error is not None
        assert limited.error["code"] == "team_requests_minute"


def test_requests_a_killed_process_left_unfinished_count_after_the_restart(
    tmp_path: Path, upstream: FakeProviderServer
) -> None:
    """The rebuild runs after the journal's recovery has charged them."""
    settings = tollway_settings(tmp_path / "data")
    with tollway(settings) as first:
        model = first.priced_model(upstream)
        team, key = first.team_and_key(model, usd_total="0.1")
        assert first.chat(key, model).status == 200
    dead_process_journal(settings, team, reserved=Decimal("0.1"))
    with tollway(settings) as second:
        assert_budget_exceeded(second.chat(key, model))


def dead_process_journal(settings: Settings, team_id: str, reserved: Decimal) -> None:
    """A journal segment as a process killed mid-request leaves it: a begin, no finish,
    no lock held (nobody alive owns it)."""
    event = UsageEvent(
        request_id=f"killed-{uuid.uuid4().hex}",
        started_at=datetime.now(UTC),
        public_model="m",
        requested_model="m",
        route=Route.LITELLM,
        endpoint=Endpoint.CHAT,
        team_id=uuid.UUID(team_id),
        reserved_prompt_tokens=10,
        reserved_completion_tokens=10,
        reserved_cost_usd=reserved,
    )
    directory = settings.journal_dir
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "999999-1-000000.jsonl").write_bytes(event.to_json())


# -- Redis ------------------------------------------------------------------------------


def redis_settings(data_dir: Path, redis: PrivateRedis) -> Settings:
    # A slow writer makes the rebuild wait 4 s for the ledger (rebuild_delay): long
    # enough to watch what is answered meanwhile.
    return tollway_settings(
        data_dir,
        quotas={"backend": "redis", "redis_url": redis.url},
        metering={"writer_interval_seconds": 1.0},
    )


def marker_present(redis: PrivateRedis) -> bool:
    with redis.client() as client:
        return bool(client.exists(DEFAULT_PREFIX + MARKER))


def until_not_rebuilding(process: Process, key: str, model: str) -> tuple[list[str], Answer]:
    """The 503 codes seen until an answer is something else, and that answer."""
    codes: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = process.chat(key, model)
        if answer.status != 503:
            return codes, answer
        assert answer.error is not None
        assert answer.error["type"] == "service_unavailable"
        assert int(answer.headers["retry-after"]) >= 1
        codes.append(answer.error["code"])
        time.sleep(0.1)
    raise AssertionError(f"still 503 after a minute: {codes[-3:]}")


def test_flushed_redis_counters_are_rebuilt_and_refuse_meanwhile(
    tmp_path: Path, upstream: FakeProviderServer, private_redis: PrivateRedis
) -> None:
    with tollway(redis_settings(tmp_path / "data", private_redis)) as process:
        model = process.priced_model(upstream)
        budget_key = process.team_key(model, usd_total="0.1")
        free_key = process.team_key(model)
        assert process.spend(budget_key, model) >= 1
        with private_redis.client() as client:
            client.flushdb()
        rebuilding = process.chat(budget_key, model)
        assert rebuilding.status == 503, rebuilding
        assert rebuilding.error is not None
        assert rebuilding.error["code"] == "quota_store_rebuilding"
        assert rebuilding.error["message"]
        assert rebuilding.headers["retry-after"] == "1"
        # No limit applies to this team: served while the rebuild still runs.
        assert process.chat(free_key, model).status == 200
        assert not marker_present(private_redis)
        codes, answer = until_not_rebuilding(process, budget_key, model)
        assert set(codes) <= {"quota_store_rebuilding"}
        assert_budget_exceeded(answer)
        assert marker_present(private_redis)


def test_a_redis_restart_without_persistence_keeps_the_budget_spent(
    tmp_path: Path, upstream: FakeProviderServer, private_redis: PrivateRedis
) -> None:
    with tollway(redis_settings(tmp_path / "data", private_redis)) as process:
        model = process.priced_model(upstream)
        budget_key = process.team_key(model, usd_total="0.1")
        assert process.spend(budget_key, model) >= 1
        private_redis.stop()
        private_redis.start()
        codes, answer = until_not_rebuilding(process, budget_key, model)
        assert "quota_store_rebuilding" in codes
        assert set(codes) <= {"quota_store_rebuilding", "quota_store_unavailable"}
        assert_budget_exceeded(answer)
