"""Reports read whole UTC days from usage_daily and partial days from usage_hourly:
for any range, grouping and filters the answer equals summing usage_hourly alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metering.test_reports import KEYS, MIDNIGHT, TEAMS, actual, varied
from tollway.metering import reports
from tollway.metering.reports import Dimension, ReportQuery, ReportRow, usage_report
from tollway.metering.writer import store_usage
from tollway.store.db import Database
from tollway.store.tables import NIL_UUID

BASE = MIDNIGHT - timedelta(days=3)
SPAN = timedelta(days=6, hours=5)
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]


def _close(a: Decimal, b: Decimal, dialect: str) -> bool:
    """Exact on PostgreSQL. SQLite keeps NUMERIC as an 8-byte float: a daily sum of
    tens of thousands of dollars has more than 16 significant digits, so it may differ
    from the hourly rows' in the last picodollar (one float step at that size)."""
    if dialect == "postgresql":
        return a == b
    return abs(a - b) <= max(abs(a), abs(b)) * Decimal("1e-15")


def hourly_only(database: Database, query: ReportQuery) -> list[ReportRow]:
    """The report as summed from usage_hourly alone, in pieces as it used to be."""
    rows = [
        row
        for span in reports._spans(database, query)
        for row in reports._fetch(database, span, daily=False)
    ]
    return reports._merge(query.group_by, rows)


@st.composite
def queries(draw: st.DrawFn) -> ReportQuery:
    aligned = draw(st.booleans())
    unit = timedelta(days=1) if aligned else timedelta(minutes=draw(st.sampled_from([1, 60])))
    low = draw(st.integers(-2, SPAN // unit + 2))
    high = draw(st.integers(low, SPAN // unit + 3))
    zone = draw(st.sampled_from(ZONES))
    return ReportQuery(
        (BASE + unit * low).astimezone(zone),
        (BASE + unit * high).astimezone(zone),
        tuple(draw(st.lists(st.sampled_from(list(Dimension)), unique=True, max_size=3))),
        keys=frozenset(draw(st.lists(st.sampled_from(KEYS), max_size=2))),
        teams=frozenset(draw(st.lists(st.sampled_from([*TEAMS, NIL_UUID]), max_size=2))),
        models=frozenset(draw(st.lists(st.sampled_from(["model-0", "model-2"]), max_size=1))),
    )


def test_reports_from_daily_and_hourly_equal_hourly_alone(database: Database) -> None:
    store_usage(database, varied(900, start=BASE + timedelta(minutes=17), span=SPAN))

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(queries())
    def check(query: ReportQuery) -> None:
        planned = actual(usage_report(database, query), query.group_by)
        alone = actual(hourly_only(database, query), query.group_by)
        assert planned.keys() == alone.keys()
        for key, sums in alone.items():
            assert replace(planned[key], cost_usd=sums.cost_usd) == sums, key
            assert _close(planned[key].cost_usd, sums.cost_usd, database.dialect), key

    check()


def test_whole_days_read_usage_daily_and_the_edges_usage_hourly() -> None:
    day = timedelta(days=1)
    aligned = ReportQuery(MIDNIGHT - 30 * day, MIDNIGHT, (Dimension.MODEL,))
    assert reports._plan(aligned) == ([], [aligned])
    ragged = ReportQuery(MIDNIGHT - day * 2.5, MIDNIGHT + timedelta(hours=3), (Dimension.DAY,))
    hourly, daily = reports._plan(ragged)
    assert [(q.start, q.end) for q in daily] == [(MIDNIGHT - 2 * day, MIDNIGHT)]
    assert [(q.start, q.end) for q in hourly] == [
        (ragged.start, MIDNIGHT - 2 * day),
        (MIDNIGHT, ragged.end),
    ]
    by_hour = ReportQuery(aligned.start, aligned.end, (Dimension.HOUR,))
    assert reports._plan(by_hour) == ([by_hour], [])
    short = ReportQuery(MIDNIGHT - timedelta(hours=5), MIDNIGHT + timedelta(hours=5))
    assert reports._plan(short) == ([short], [])  # no whole day in it
    # A day is a UTC day whatever the bounds' time zone.
    india = timezone(timedelta(hours=5, minutes=30))
    shifted = ReportQuery(MIDNIGHT.astimezone(india), (MIDNIGHT + 2 * day).astimezone(india))
    assert reports._plan(shifted) == ([], [shifted])
