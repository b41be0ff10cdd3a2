"""Usage reports from the hourly aggregates, on SQLite and PostgreSQL: every grouping
sums exactly what the raw records hold, UTC day and hour buckets, filters, the
half-open range, absent ids, the order of rows."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.metering.test_records import make_event, make_outcome
from tollway.engine.base import Route
from tollway.errors import ValidationError
from tollway.metering import reports
from tollway.metering.records import CompletedUsage
from tollway.metering.reports import (
    Dimension,
    ReportQuery,
    ReportRow,
    UsageSums,
    parse_group_by,
    total,
    usage_report,
)
from tollway.metering.writer import store_usage
from tollway.store.db import Database
from tollway.store.tables import NIL_UUID, CostSource, UsageStatus

# Four hours around midnight UTC, so day buckets split.
MIDNIGHT = datetime(2031, 3, 2, tzinfo=UTC)
START = MIDNIGHT - timedelta(hours=2)
END = MIDNIGHT + timedelta(hours=2)
KEYS = [uuid.UUID(int=0x100 + n) for n in range(3)]
TEAMS = [uuid.UUID(int=0x200 + n) for n in range(2)]
PROVIDERS = [uuid.UUID(int=0x300 + n) for n in range(2)]
PROVIDER_KEYS = [uuid.UUID(int=0x400 + n) for n in range(3)]
# Exact decimals that floats cannot hold: 12 places, and dollars as well as picodollars.
COSTS = [Decimal("0.000123456789"), Decimal("1234.567890123456"), Decimal("0.1"), None]


def varied(count: int, start: datetime = START, span: timedelta = END - START) -> list[Any]:
    """Records spread evenly over ``span``; absent teams and provider keys, both
    routes, errors and unpriced requests all occur."""
    records = []
    for n in range(count):
        finished = start + span * n / count
        cost = COSTS[n % len(COSTS)]
        provider = n % 2
        records.append(
            CompletedUsage(
                make_event(
                    f"req-{n}",
                    started_at=finished - timedelta(seconds=1),
                    public_model=f"model-{n % 3}",
                    tollway_key_id=KEYS[n % 3],
                    team_id=None if n % 5 == 0 else TEAMS[n % 2],
                    provider_id=PROVIDERS[provider],
                    provider_key_id=None if n % 7 == 0 else PROVIDER_KEYS[provider + n % 2],
                ),
                make_outcome(
                    finished_at=finished,
                    status=UsageStatus.ERROR if n % 4 == 1 else UsageStatus.OK,
                    prompt_tokens=100 + n,
                    completion_tokens=2 * n,
                    cached_tokens=n % 10,
                    reasoning_tokens=n % 3,
                    cost_usd=cost,
                    cost_source=CostSource.UNPRICED if cost is None else CostSource.COMPUTED,
                    route=Route.OPENROUTER if n % 6 == 0 else None,
                ),
            )
        )
    return records


def _bucket(moment: datetime, dim: Dimension) -> datetime:
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour.replace(hour=0) if dim is Dimension.DAY else hour


# How each dimension reads off a record, computed independently of the store.
READERS: dict[Dimension, Callable[[CompletedUsage], Any]] = {
    Dimension.KEY: lambda r: r.event.tollway_key_id,
    Dimension.TEAM: lambda r: r.event.team_id,
    Dimension.PROVIDER: lambda r: r.provider_id,
    Dimension.PROVIDER_KEY: lambda r: r.provider_key_id,
    Dimension.MODEL: lambda r: r.event.public_model,
    Dimension.ROUTE: lambda r: r.route.value,
    Dimension.DAY: lambda r: _bucket(r.outcome.finished_at, Dimension.DAY),
    Dimension.HOUR: lambda r: _bucket(r.outcome.finished_at, Dimension.HOUR),
}


def expected(
    records: Sequence[CompletedUsage], group_by: Sequence[Dimension]
) -> dict[tuple[Any, ...], UsageSums]:
    sums: dict[tuple[Any, ...], UsageSums] = defaultdict(UsageSums)
    for record in records:
        outcome = record.outcome
        key = tuple(READERS[dim](record) for dim in group_by)
        sums[key] += UsageSums(
            requests=1,
            errors=int(outcome.status in (UsageStatus.ERROR, UsageStatus.INTERRUPTED)),
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            cached_tokens=outcome.cached_tokens,
            reasoning_tokens=outcome.reasoning_tokens,
            cost_usd=outcome.cost_usd or Decimal(0),
            unpriced_requests=int(outcome.cost_source is CostSource.UNPRICED),
        )
    return dict(sums)


def actual(rows: Sequence[ReportRow], group_by: Sequence[Dimension]) -> dict[tuple[Any, ...], Any]:
    return {tuple(row.dimensions[dim] for dim in group_by): row.sums for row in rows}


def query(*group_by: Dimension, **fields: Any) -> ReportQuery:
    return ReportQuery(START, END, tuple(group_by), **fields)


GROUPINGS = [(dim,) for dim in Dimension] + [
    (),
    (Dimension.PROVIDER_KEY, Dimension.TEAM, Dimension.KEY),
    (Dimension.DAY, Dimension.MODEL, Dimension.ROUTE),
    tuple(Dimension),
]


@pytest.mark.parametrize("group_by", GROUPINGS, ids=lambda g: ",".join(g) or "none")
def test_every_grouping_sums_exactly_the_raw_records(
    database: Database, group_by: tuple[Dimension, ...]
) -> None:
    records = varied(240)
    assert store_usage(database, records) == 240
    rows = usage_report(database, query(*group_by))
    assert actual(rows, group_by) == expected(records, group_by)
    assert total(rows) == expected(records, ())[()]
    assert all(isinstance(row.sums.cost_usd, Decimal) for row in rows)


def test_day_and_hour_buckets_are_utc_starts_across_midnight(database: Database) -> None:
    moments = [
        MIDNIGHT - timedelta(minutes=50),
        MIDNIGHT - timedelta(minutes=10),
        MIDNIGHT + timedelta(minutes=5),
        MIDNIGHT + timedelta(minutes=90),
    ]
    records = [
        CompletedUsage(
            make_event(f"m{n}", started_at=moment - timedelta(seconds=5)),
            make_outcome(finished_at=moment.astimezone(timezone(timedelta(hours=2)))),
        )
        for n, moment in enumerate(moments)
    ]
    store_usage(database, records)
    days = usage_report(database, query(Dimension.DAY))
    hours = usage_report(database, query(Dimension.HOUR))
    assert {row.dimensions[Dimension.DAY]: row.sums.requests for row in days} == {
        MIDNIGHT - timedelta(days=1): 2,
        MIDNIGHT: 2,
    }
    assert {row.dimensions[Dimension.HOUR]: row.sums.requests for row in hours} == {
        MIDNIGHT - timedelta(hours=1): 2,
        MIDNIGHT: 1,
        MIDNIGHT + timedelta(hours=1): 1,
    }
    for row in days:
        bucket = row.dimensions[Dimension.DAY]
        assert isinstance(bucket, datetime)
        assert bucket.utcoffset() == timedelta(0)


def test_the_range_is_half_open_on_the_hour_column(database: Database) -> None:
    records = varied(96)  # 24 per hour, 22:00 to 01:59
    store_usage(database, records)

    def requests(start: datetime, end: datetime) -> int:
        return total(usage_report(database, ReportQuery(start, end))).requests

    assert requests(START, END) == 96
    assert requests(START, START + timedelta(hours=1)) == 24  # the 22:00 hour only
    assert requests(START + timedelta(hours=1), END) == 72  # 22:00 is before 'from'
    # An hour counts when it starts in the range: 22:30 leaves out the 22:00 hour,
    # 01:30 keeps the 01:00 hour.
    assert requests(START + timedelta(minutes=30), END - timedelta(minutes=30)) == 72
    assert requests(END, END + timedelta(hours=5)) == 0
    assert usage_report(database, ReportQuery(END, END + timedelta(hours=1))) == []


def test_filters_select_what_they_name(database: Database) -> None:
    records = varied(120)
    store_usage(database, records)
    cases: list[tuple[dict[str, Any], Callable[[CompletedUsage], bool]]] = [
        ({"keys": frozenset({KEYS[0]})}, lambda r: r.event.tollway_key_id == KEYS[0]),
        ({"teams": frozenset({TEAMS[1]})}, lambda r: r.event.team_id == TEAMS[1]),
        ({"teams": frozenset({NIL_UUID})}, lambda r: r.event.team_id is None),
        ({"providers": frozenset({PROVIDERS[1]})}, lambda r: r.provider_id == PROVIDERS[1]),
        (
            {"provider_keys": frozenset(PROVIDER_KEYS[:2])},
            lambda r: r.provider_key_id in PROVIDER_KEYS[:2],
        ),
        (
            {"models": frozenset({"model-1", "model-2"})},
            lambda r: r.event.public_model != "model-0",
        ),
        ({"routes": frozenset({"openrouter"})}, lambda r: r.route is Route.OPENROUTER),
        (
            {"keys": frozenset({KEYS[1]}), "models": frozenset({"model-1"})},
            lambda r: r.event.tollway_key_id == KEYS[1] and r.event.public_model == "model-1",
        ),
    ]
    for filters, selected in cases:
        rows = usage_report(database, query(Dimension.KEY, Dimension.MODEL, **filters))
        wanted = [record for record in records if selected(record)]
        assert wanted, filters
        assert actual(rows, (Dimension.KEY, Dimension.MODEL)) == expected(
            wanted, (Dimension.KEY, Dimension.MODEL)
        ), filters


def test_absent_ids_are_reported_as_none(database: Database) -> None:
    record = CompletedUsage(
        make_event("lonely", team_id=None, provider_key_id=None, tollway_key_id=None),
        make_outcome(finished_at=MIDNIGHT),
    )
    store_usage(database, [record])
    group_by = (Dimension.KEY, Dimension.TEAM, Dimension.PROVIDER, Dimension.PROVIDER_KEY)
    [row] = usage_report(database, query(*group_by))
    assert dict(row.dimensions) == {
        Dimension.KEY: None,
        Dimension.TEAM: None,
        Dimension.PROVIDER: make_event("x").provider_id,
        Dimension.PROVIDER_KEY: None,
    }


def test_rows_are_most_expensive_first_then_by_dimensions(database: Database) -> None:
    def usage(request_id: str, model: str, cost: str, team: uuid.UUID | None) -> CompletedUsage:
        return CompletedUsage(
            make_event(request_id, public_model=model, team_id=team),
            make_outcome(finished_at=MIDNIGHT, cost_usd=Decimal(cost)),
        )

    store_usage(
        database,
        [
            usage("a", "cheap", "0.001", TEAMS[0]),
            usage("b", "dear", "0.5", TEAMS[1]),
            usage("c", "tied-b", "0.01", None),
            usage("d", "tied-b", "0.01", TEAMS[0]),
            usage("e", "tied-a", "0.01", TEAMS[1]),
        ],
    )
    rows = usage_report(database, query(Dimension.MODEL, Dimension.TEAM))
    assert [(row.dimensions[Dimension.MODEL], row.dimensions[Dimension.TEAM]) for row in rows] == [
        ("dear", TEAMS[1]),
        ("tied-a", TEAMS[1]),
        ("tied-b", TEAMS[0]),
        ("tied-b", None),  # absent values sort last
        ("cheap", TEAMS[0]),
    ]


def test_long_ranges_summed_in_pieces_equal_one_query(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = MIDNIGHT - timedelta(days=20)
    records = varied(300, start=start, span=timedelta(days=20))
    store_usage(database, records)
    group_by = (Dimension.MODEL, Dimension.DAY)
    whole = ReportQuery(start, MIDNIGHT + timedelta(hours=1), group_by)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    single = usage_report(database, whole)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    pieces = reports._spans(database, whole)
    assert len(pieces) == (3 if database.dialect == "sqlite" else 1)  # a piece per week
    assert pieces[0].start == whole.start
    assert pieces[-1].end == whole.end
    assert usage_report(database, whole) == single
    assert actual(single, group_by) == expected(records, group_by)
    # Without grouping, every piece answers one row: they are merged into one.
    assert len(usage_report(database, ReportQuery(whole.start, whole.end))) == 1


def test_no_usage_no_rows(database: Database) -> None:
    assert usage_report(database, query()) == []
    assert usage_report(database, query(Dimension.KEY, Dimension.DAY)) == []


def test_group_by_names_are_parsed_in_order_without_duplicates() -> None:
    assert parse_group_by(["team, key", "day", "key", ""]) == (
        Dimension.TEAM,
        Dimension.KEY,
        Dimension.DAY,
    )
    assert parse_group_by([]) == ()
    with pytest.raises(ValidationError) as raised:
        parse_group_by(["key,colour", "weekday"])
    assert "'colour', 'weekday'" in raised.value.message
    assert raised.value.details["allowed"] == [dim.value for dim in Dimension]


def test_bounds_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ReportQuery(datetime(2031, 1, 1), END)
