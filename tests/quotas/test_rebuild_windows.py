"""The open windows of every limit summed again from the SQL ledger, on SQLite and
PostgreSQL: minute and hour from the raw records, day, month and total from the
hourly aggregates, each window from one source only (no double count, no miss)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.metering.test_records import make_event, make_outcome
from tests.quotas.support import FrozenClock
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import purge_usage, store_usage
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import Denied, Limit, Metric, Reservation, Window
from tollway.quotas.rebuild import counter_loader, ledger_counters, rebuild_counters
from tollway.store.db import Database
from tollway.store.enums import LimitScope
from tollway.store.tables import CostSource, UsageStatus

NOW = datetime(2026, 3, 15, 10, 30, 30, tzinfo=UTC)
TEAM = uuid.uuid4()
OTHER_TEAM = uuid.uuid4()
FIRST = uuid.uuid4()  # the provider admission chose
SECOND = uuid.uuid4()  # the provider that served after a failover


def record(n: int, finished: datetime, **outcome: Any) -> CompletedUsage:
    event = {"team_id": outcome.pop("team_id", TEAM), "provider_id": FIRST}
    return CompletedUsage(
        make_event(f"rebuild-{n}", started_at=finished - timedelta(seconds=1), **event),
        make_outcome(finished_at=finished, **outcome),
    )


def usage(prompt: int, completion: int, cost: str) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cost_usd": Decimal(cost)}


LEDGER = [
    # This minute; served by the second provider after a failover.
    record(1, NOW - timedelta(seconds=20), provider_id=SECOND, **usage(10, 20, "0.001")),
    record(2, NOW - timedelta(seconds=40), **usage(1, 2, "0.002")),  # the previous minute
    record(3, datetime(2026, 3, 15, 9, 59, 59, tzinfo=UTC), **usage(100, 0, "0.01")),
    record(4, datetime(2026, 3, 14, 23, 0, tzinfo=UTC), **usage(1000, 0, "0.1")),
    record(5, datetime(2026, 2, 28, 12, 0, tzinfo=UTC), **usage(10000, 0, "1")),
    # A failure whose reservation was released: no request, nothing used.
    record(6, NOW - timedelta(seconds=10), status=UsageStatus.ERROR, **usage(0, 0, "0")),
    # Found unfinished at start and charged its reservation: counted like a request.
    record(
        7,
        NOW - timedelta(seconds=5),
        status=UsageStatus.INTERRUPTED,
        http_status=None,
        counted=True,
        **usage(40, 60, "0.0001"),
    ),
    record(8, NOW - timedelta(seconds=15), team_id=OTHER_TEAM, **usage(5, 5, "5")),
    # Unpriced: tokens count, its cost is unknown.
    record(9, NOW - timedelta(minutes=5), cost_source=CostSource.UNPRICED, cost_usd=None),
]


def team(metric: Metric, window: Window) -> Limit:
    return Limit(LimitScope.TEAM, str(TEAM), metric, window, 10**15)


TEAM_EXPECTED = {
    (Metric.REQUESTS, Window.MINUTE): 2,  # 1 and 7; not the released failure 6
    (Metric.REQUESTS, Window.HOUR): 4,  # + 2 and 9
    (Metric.TOKENS, Window.MINUTE): 130,
    (Metric.TOKENS, Window.HOUR): 163,  # + 3 + 30 (9: the default 10 + 20)
    (Metric.TOKENS, Window.DAY): 263,  # + 100, the hour before
    (Metric.TOKENS, Window.MONTH): 1263,  # + yesterday's 1000
    (Metric.TOKENS, Window.TOTAL): 11263,
    (Metric.USD, Window.DAY): 13_100,  # micro-dollars: 0.001 + 0.002 + 0.01 + 0.0001
    (Metric.USD, Window.MONTH): 113_100,
    (Metric.USD, Window.TOTAL): 1_113_100,
}


@pytest.fixture
def ledger(database: Database) -> Database:
    store_usage(database, LEDGER)
    return database


def test_every_window_of_a_team_is_summed_from_the_ledger(ledger: Database) -> None:
    limits = [team(metric, window) for metric, window in TEAM_EXPECTED]
    values = ledger_counters(ledger, limits, NOW.timestamp())
    assert {(limit.metric, limit.window): value for limit, value in values} == TEAM_EXPECTED


def test_each_scope_counts_only_its_own_usage(ledger: Database) -> None:
    def tokens_today(scope: LimitScope, scope_id: uuid.UUID) -> int:
        limit = Limit(scope, str(scope_id), Metric.TOKENS, Window.DAY, 10**9)
        [(_, value)] = ledger_counters(ledger, [limit], NOW.timestamp())
        return value

    assert tokens_today(LimitScope.TEAM, OTHER_TEAM) == 10
    # The provider that served is charged, not the one admission first chose.
    assert tokens_today(LimitScope.PROVIDER, SECOND) == 30
    assert tokens_today(LimitScope.PROVIDER, FIRST) == 263 - 30 + 10
    assert tokens_today(LimitScope.TOLLWAY_KEY, uuid.uuid4()) == 0


def test_long_windows_come_from_the_aggregates_and_survive_the_purge(ledger: Database) -> None:
    purge_usage(ledger, older_than=NOW + timedelta(days=1))  # every raw record
    limits = [team(metric, window) for metric, window in TEAM_EXPECTED]
    values = ledger_counters(ledger, limits, NOW.timestamp())
    for limit, value in values:
        expected = TEAM_EXPECTED[(limit.metric, limit.window)]
        short = limit.window in (Window.MINUTE, Window.HOUR)
        assert value == (0 if short else expected), limit


def test_the_current_hour_counts_once_in_the_day(database: Database) -> None:
    """Records of the current hour are in the raw table and in its (partial) aggregate
    row at once: the day window sums the aggregates alone."""
    store_usage(
        database, [record(n, NOW - timedelta(minutes=n), **usage(1, 0, "0")) for n in range(1, 20)]
    )
    day = team(Metric.TOKENS, Window.DAY)
    hour = team(Metric.TOKENS, Window.HOUR)
    assert dict(ledger_counters(database, [day, hour], NOW.timestamp())) == {day: 19, hour: 19}


@pytest.mark.anyio
async def test_a_restarted_memory_store_refuses_what_the_ledger_spent(
    anyio_backend: str, ledger: Database
) -> None:
    clock = FrozenClock(NOW.timestamp())
    rpm = Limit(LimitScope.TEAM, str(TEAM), Metric.REQUESTS, Window.MINUTE, 3)
    budget = Limit(LimitScope.TEAM, str(TEAM), Metric.USD, Window.TOTAL, 1_113_150)
    store = MemoryQuotaStore(clock=clock)
    await rebuild_counters(store, ledger, [rpm, budget])
    assert await store.usage(rpm) == 2
    assert await store.usage(budget) == 1_113_100
    assert isinstance(await store.reserve([(rpm, 1), (budget, 50)]), Reservation)
    denied = await store.reserve([(rpm, 1), (budget, 0)])
    assert isinstance(denied, Denied)
    assert denied.limit == rpm
    clock.advance(60)  # the minute rolls as before; the budget never does
    denied = await store.reserve([(rpm, 1), (budget, 1)])
    assert isinstance(denied, Denied)
    assert denied.limit == budget


@pytest.mark.anyio
async def test_the_loader_stores_this_process_s_finished_usage_before_reading(
    anyio_backend: str, database: Database
) -> None:
    """A writer whose last pass was slow must not make the rebuild miss what this
    process settled just before the counters were lost."""
    budget = Limit(LimitScope.TEAM, str(TEAM), Metric.USD, Window.TOTAL, 10**15)
    late = [record(1, NOW - timedelta(seconds=2), **usage(1, 1, "0.25"))]
    load = counter_loader(database, lambda: [budget], catch_up=lambda: store_usage(database, late))
    assert dict(await load(NOW.timestamp())) == {budget: 250_000}
