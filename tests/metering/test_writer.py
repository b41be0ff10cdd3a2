"""The usage writer against SQLite and PostgreSQL: exactly-once storage, aggregates
that equal the records, retention, and the migration of the usage tables."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, select
from sqlmodel import SQLModel

from tests.metering.test_records import make_event, make_outcome
from tollway.engine.base import Route
from tollway.metering.journal import UsageJournal
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import UsageWriter, store_usage
from tollway.store import migrate
from tollway.store.db import Database
from tollway.store.tables import (
    NIL_UUID,
    CostSource,
    UsageDaily,
    UsageHourly,
    UsageRecord,
    UsageStatus,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def stored(database: Database) -> list[UsageRecord]:
    with database.session() as session:
        return list(session.exec(select(UsageRecord)).scalars())  # type: ignore[call-overload]


def hourly(database: Database) -> list[UsageHourly]:
    with database.session() as session:
        return list(session.exec(select(UsageHourly)).scalars())  # type: ignore[call-overload]


def daily(database: Database) -> list[UsageDaily]:
    with database.session() as session:
        return list(session.exec(select(UsageDaily)).scalars())  # type: ignore[call-overload]


_DAILY_SUMS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "unpriced_requests",
    "cost_usd",
)


def _dims(row: UsageHourly | UsageDaily, moment: datetime) -> tuple[Any, ...]:
    return (
        moment,
        row.tollway_key_id,
        row.team_id,
        row.provider_id,
        row.provider_key_id,
        row.public_model,
        row.route,
    )


def assert_daily_matches_hourly(database: Database) -> None:
    """usage_daily holds exactly usage_hourly summed per UTC day and dimensions."""
    expected: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * 7 + [Decimal(0)])
    for row in hourly(database):
        acc = expected[_dims(row, row.hour.replace(hour=0))]
        for n, name in enumerate(_DAILY_SUMS):
            acc[n] += Decimal(getattr(row, name)) if name == "cost_usd" else getattr(row, name)
    actual = {
        _dims(row, row.day): [getattr(row, name) for name in _DAILY_SUMS] for row in daily(database)
    }
    assert actual.keys() == expected.keys()
    for key, sums in expected.items():
        assert actual[key][:7] == sums[:7], key
        # SQLite keeps NUMERIC as a float: exact on PostgreSQL, within 1e-9 on SQLite.
        assert abs(Decimal(actual[key][7]) - sums[7]) < Decimal("1e-9"), key


def varied_records(count: int) -> list[CompletedUsage]:
    """Records over three hours, two keys, absent teams, fallbacks, every status."""
    keys = [uuid.uuid4(), uuid.uuid4()]
    statuses = list(UsageStatus)
    records = []
    for n in range(count):
        started = NOW - timedelta(hours=n % 3, minutes=n % 50)
        unpriced = n % 7 == 0
        records.append(
            CompletedUsage(
                make_event(
                    f"req-{n}",
                    started_at=started,
                    tollway_key_id=keys[n % 2],
                    team_id=None if n % 5 == 0 else uuid.UUID(int=n % 2 + 1),
                ),
                make_outcome(
                    finished_at=started + timedelta(seconds=n % 90),
                    status=statuses[n % len(statuses)],
                    prompt_tokens=n,
                    completion_tokens=2 * n,
                    cached_tokens=n % 4,
                    reasoning_tokens=n % 3,
                    cost_usd=None if unpriced else Decimal(n) / Decimal(10**9),
                    cost_source=CostSource.UNPRICED if unpriced else CostSource.PROVIDER,
                    route=Route.OPENROUTER if n % 4 == 0 else None,
                ),
            )
        )
    return records


def sums_by_hour(records: list[UsageRecord]) -> dict[tuple[Any, ...], list[Any]]:
    """What usage_hourly must hold, computed independently from the raw rows."""
    sums: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * 7 + [Decimal(0)])
    for record in records:
        key = (
            record.finished_at.replace(minute=0, second=0, microsecond=0),
            record.tollway_key_id or NIL_UUID,
            record.team_id or NIL_UUID,
            record.provider_id or NIL_UUID,
            record.provider_key_id or NIL_UUID,
            record.public_model,
            record.route,
        )
        acc = sums[key]
        acc[0] += 1
        acc[1] += record.status in (UsageStatus.ERROR, UsageStatus.INTERRUPTED)
        acc[2] += record.prompt_tokens
        acc[3] += record.completion_tokens
        acc[4] += record.cached_tokens
        acc[5] += record.reasoning_tokens
        acc[6] += record.cost_source is CostSource.UNPRICED
        acc[7] += record.cost_usd or 0
    return dict(sums)


def aggregates(database: Database) -> dict[tuple[Any, ...], list[Any]]:
    return {
        (
            row.hour,
            row.tollway_key_id,
            row.team_id,
            row.provider_id,
            row.provider_key_id,
            row.public_model,
            row.route,
        ): [
            row.requests,
            row.errors,
            row.prompt_tokens,
            row.completion_tokens,
            row.cached_tokens,
            row.reasoning_tokens,
            row.unpriced_requests,
            Decimal(row.cost_usd),
        ]
        for row in hourly(database)
    }


def assert_aggregates_match(database: Database) -> None:
    expected = sums_by_hour(stored(database))
    actual = aggregates(database)
    assert actual.keys() == expected.keys()
    for key, sums in expected.items():
        assert actual[key][:7] == sums[:7], key
        # SQLite keeps NUMERIC as a float: exact on PostgreSQL, within 1e-12 on SQLite.
        assert abs(actual[key][7] - sums[7]) < Decimal("1e-12"), key


def test_migration_builds_the_usage_tables_exactly(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
        reflected = MetaData()
        reflected.reflect(connection, only=["usage_records", "usage_hourly", "usage_daily"])
    assert migrate.current_revision(database) == migrate.head_revision()
    records = reflected.tables["usage_records"]
    assert {index.name for index in records.indexes} >= {"ix_usage_records_finished_at"}


def test_aggregates_equal_the_sum_of_the_records(database: Database) -> None:
    records = varied_records(240)
    assert store_usage(database, records[:100]) == 100
    assert store_usage(database, records[60:]) == 140  # overlaps: 40 already there
    assert len(stored(database)) == 240
    assert_aggregates_match(database)
    row = next(r for r in stored(database) if r.request_id == "req-4")
    assert row.route == "openrouter"
    assert row.finished_at.tzinfo is not None
    assert {r.status for r in stored(database)} == set(UsageStatus)


def test_daily_aggregates_equal_the_hourly_ones_summed_per_day(database: Database) -> None:
    days = [
        CompletedUsage(
            make_event(f"day-{n}", started_at=NOW - timedelta(hours=7 * n)),
            make_outcome(
                finished_at=NOW - timedelta(hours=7 * n, seconds=-1),
                prompt_tokens=n,
                cost_usd=Decimal(n) / Decimal(1000),
            ),
        )
        for n in range(30)  # about nine days, several hours per day
    ]
    records = varied_records(120) + days
    assert store_usage(database, records[:80]) == 80
    assert store_usage(database, records[40:]) == len(records) - 80  # adds to stored days
    assert_aggregates_match(database)
    assert_daily_matches_hourly(database)
    assert all(row.day == row.day.replace(hour=0, minute=0, second=0) for row in daily(database))
    assert len(daily(database)) < len(hourly(database))


def test_a_stored_record_reads_back_exactly(database: Database) -> None:
    record = CompletedUsage(
        make_event("exact", model_row_id=uuid.uuid4(), requested_model="alias"),
        make_outcome(
            cached_tokens=3,
            reasoning_tokens=4,
            fallback_reason="engine_unavailable",
            counted=True,
            route=Route.OPENROUTER,
            over_reservation=True,
        ),
    )
    store_usage(database, [record])
    (row,) = stored(database)
    expected = record.row()
    assert {name: getattr(row, name) for name in expected if name != "id"} == {
        name: value for name, value in expected.items() if name != "id"
    }


def test_usage_delivered_three_times_concurrently_counts_once(database: Database) -> None:
    records = varied_records(300)
    barrier = threading.Barrier(3)
    results: list[int] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(store_usage(database, records))
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 0, 300]
    assert len(stored(database)) == 300
    assert sum(row.requests for row in hourly(database)) == 300
    assert_aggregates_match(database)


def test_duplicates_within_one_batch_count_once(database: Database) -> None:
    record = varied_records(1)[0]
    assert store_usage(database, [record, record, record]) == 1
    assert store_usage(database, [record]) == 0
    assert [row.requests for row in hourly(database)] == [1]


def test_retention_purge_keeps_the_aggregates(database: Database, tmp_path: Path) -> None:
    old = [
        CompletedUsage(
            make_event(f"old-{n}", started_at=NOW - timedelta(days=10)),
            make_outcome(finished_at=NOW - timedelta(days=10) + timedelta(seconds=1)),
        )
        for n in range(5)
    ]
    recent = [
        CompletedUsage(
            make_event(f"new-{n}", started_at=NOW - timedelta(days=1)),
            make_outcome(finished_at=NOW - timedelta(days=1)),
        )
        for n in range(3)
    ]
    store_usage(database, old + recent)
    before = aggregates(database)
    with UsageJournal(tmp_path / "journal") as journal:
        writer = UsageWriter(database, journal, retention_days=7)
        assert writer.purge(now=NOW) == 5
        assert writer.purge(now=NOW) == 0
        assert writer.stats.purged == 5
        assert UsageWriter(database, journal).purge() == 0  # no retention: keeps all
    assert sorted(r.request_id for r in stored(database)) == ["new-0", "new-1", "new-2"]
    assert aggregates(database) == before
    assert_daily_matches_hourly(database)  # the purge leaves usage_daily alone too
    # Once purged, a late duplicate of an old record would count again: the journal
    # never holds one that long, which is why retention is in days, not minutes.


def test_records_the_database_refuses_do_not_block_the_rest(
    database: Database, tmp_path: Path
) -> None:
    if database.dialect == "sqlite":
        pytest.skip("SQLite stores any 64-bit integer; PostgreSQL refuses one out of range")
    with UsageJournal(tmp_path / "journal", flush_interval=3600) as journal:
        for n in range(5):
            journal.begin(make_event(f"r{n}"))
            http_status = 2**40 if n == 2 else 200
            journal.finish(f"r{n}", make_outcome(http_status=http_status))
        journal.flush()
        writer = UsageWriter(database, journal)
        assert writer.process_once() == 5
    assert writer.stats.rejected == 1
    assert sorted(r.request_id for r in stored(database)) == ["r0", "r1", "r3", "r4"]
    assert sum(row.requests for row in hourly(database)) == 4


def test_writer_moves_the_journal_into_the_store(database: Database, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    journal = UsageJournal(directory, flush_interval=0.01, segment_bytes=4096)
    writer = UsageWriter(database, journal, interval_seconds=0.01)
    writer.start()
    for record in varied_records(60):
        journal.begin(record.event)
        journal.finish(record.event.request_id, record.outcome)
    journal.close()
    writer.drain()
    assert len(stored(database)) == 60
    assert_aggregates_match(database)
    assert list(directory.iterdir()) == []  # every segment consumed and deleted
    assert writer.stats.stored == 60


def test_catch_up_stores_what_finished_before_it_while_the_thread_waits(
    database: Database, tmp_path: Path
) -> None:
    """What a quota rebuild needs: this process's usage in SQL now, not at the
    writer's next pass nor the journal's next flush."""
    journal = UsageJournal(tmp_path / "journal", flush_interval=60)
    writer = UsageWriter(database, journal, interval_seconds=60)
    writer.start()  # its first pass finds nothing; the next is a minute away
    for record in varied_records(7):
        journal.begin(record.event)
        journal.finish(record.event.request_id, record.outcome)
    writer.catch_up()
    assert len(stored(database)) == 7
    assert writer.backlog() == 0
    journal.close()
    writer.drain()
    assert writer.stats.stored == 7


def test_the_lag_is_how_long_the_oldest_unstored_request_waited(
    database: Database, tmp_path: Path
) -> None:
    counted: dict[str, int] = defaultdict(int)

    def count(result: str, amount: int) -> None:
        counted[result] += amount

    with UsageJournal(tmp_path / "journal", flush_interval=3600) as journal:
        writer = UsageWriter(database, journal, on_records=count)
        assert writer.lag() == 0  # nothing waits
        for record in varied_records(3):
            journal.begin(record.event)
            journal.finish(record.event.request_id, record.outcome)
        waited = writer.lag()
        assert 0 < waited <= writer.lag()  # grows while nothing is stored
        journal.flush()
        passed_at = time.monotonic()
        assert writer.process_once() == 3
        assert writer.lag() == 0
        extra = varied_records(4)[3]
        journal.begin(extra.event)
        journal.finish(extra.event.request_id, extra.outcome)
        assert 0 < writer.lag() <= time.monotonic() - passed_at  # since the last pass only
    assert counted == {"stored": 3, "duplicate": 0}
