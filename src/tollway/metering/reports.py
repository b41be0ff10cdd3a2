"""Usage reports: sums of ``usage_hourly`` over a time range, grouped and filtered.

Reports read the aggregates only, never the raw ``usage_records``: those have a
retention period, and an aggregate row stands for up to thousands of requests. A
report not grouped by ``hour`` reads the whole UTC days of its range from
``usage_daily`` (the same sums per day, ~24x fewer rows: a month is at most 30 rows
per dimension combination) and only the partial days at its edges from
``usage_hourly``; the pieces are merged. The answer is the same as summing
``usage_hourly`` alone, since the writer keeps each daily row equal to its hours.

The time range is half-open, ``[start, end)``, on the ``hour`` column (the start of
each UTC hour): an hour is in the report when it starts in the range. ``day`` and
``hour`` group by the UTC bucket start. Day buckets are computed in SQL, in each
dialect's own way, so grouping by day returns one row per day instead of 24.

Money stays exact: PostgreSQL sums ``NUMERIC`` exactly. SQLite keeps ``NUMERIC`` values
as 8-byte floats, so summing them there would add float rounding on top; instead each
row's cost is split into whole dollars and picodollars (the column's 12 decimal
places), both summed as integers, and joined again as a ``Decimal``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from tollway.errors import ValidationError
from tollway.store.db import Database
from tollway.store.tables import NIL_UUID, UsageDaily, UsageHourly, UtcDateTime

_HOURLY: sa.Table = UsageHourly.__table__  # type: ignore[attr-defined]
_DAILY: sa.Table = UsageDaily.__table__  # type: ignore[attr-defined]
_PICO = 10**12  # usage_hourly.cost_usd has 12 decimal places
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_SPAN = timedelta(days=7)  # SQLite: ranges longer than this are summed in pieces
_MAX_PIECES = 4


class Dimension(StrEnum):
    """What a report can be grouped by."""

    KEY = "key"
    TEAM = "team"
    PROVIDER = "provider"
    PROVIDER_KEY = "provider_key"
    MODEL = "model"
    ROUTE = "route"
    DAY = "day"
    HOUR = "hour"


# The usage_hourly column behind each dimension but ``day``, which is computed.
_COLUMNS = {
    Dimension.KEY: "tollway_key_id",
    Dimension.TEAM: "team_id",
    Dimension.PROVIDER: "provider_id",
    Dimension.PROVIDER_KEY: "provider_key_id",
    Dimension.MODEL: "public_model",
    Dimension.ROUTE: "route",
    Dimension.HOUR: "hour",
}
ID_DIMENSIONS = frozenset(
    {Dimension.KEY, Dimension.TEAM, Dimension.PROVIDER, Dimension.PROVIDER_KEY}
)
TIME_DIMENSIONS = frozenset({Dimension.DAY, Dimension.HOUR})

DimensionValue = uuid.UUID | str | datetime | None


def parse_group_by(names: Iterable[str]) -> tuple[Dimension, ...]:
    """Dimensions from names, comma-separated or not; order kept, duplicates dropped.

    Raises ``ValidationError`` naming the unknown ones and the allowed values.
    """
    pieces = [piece.strip() for name in names for piece in name.split(",")]
    wanted = [piece for piece in pieces if piece]
    unknown = sorted({piece for piece in wanted if piece not in Dimension._value2member_map_})
    if unknown:
        allowed = ", ".join(member.value for member in Dimension)
        raise ValidationError(
            f"unknown group_by {', '.join(repr(u) for u in unknown)}; use any of {allowed}",
            details={"unknown": unknown, "allowed": [member.value for member in Dimension]},
        )
    return tuple(dict.fromkeys(Dimension(piece) for piece in wanted))


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """``[start, end)`` (aware datetimes), the grouping, and filters: an empty filter
    means "any". ``NIL_UUID`` in an id filter selects the rows without that id (no
    team, no provider key)."""

    start: datetime
    end: datetime
    group_by: tuple[Dimension, ...] = ()
    keys: frozenset[uuid.UUID] = frozenset()
    teams: frozenset[uuid.UUID] = frozenset()
    providers: frozenset[uuid.UUID] = frozenset()
    provider_keys: frozenset[uuid.UUID] = frozenset()
    models: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("report bounds must be timezone-aware")

    def filters(self) -> dict[str, frozenset[Any]]:
        """usage_hourly column -> the values it may hold."""
        return {
            "tollway_key_id": self.keys,
            "team_id": self.teams,
            "provider_id": self.providers,
            "provider_key_id": self.provider_keys,
            "public_model": self.models,
            "route": self.routes,
        }


@dataclass(frozen=True, slots=True)
class UsageSums:
    """What a report adds up. ``cached_tokens`` are part of ``prompt_tokens`` and
    ``reasoning_tokens`` part of ``completion_tokens`` (OpenAI's conventions), so
    ``total_tokens`` is prompt plus completion."""

    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: UsageSums) -> UsageSums:
        return UsageSums(
            *(getattr(self, spec.name) + getattr(other, spec.name) for spec in fields(self))
        )


_INT_SUMS = tuple(spec.name for spec in fields(UsageSums) if spec.name != "cost_usd")


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One group: its dimension values (``None`` for an absent id) and its sums."""

    dimensions: Mapping[Dimension, DimensionValue]
    sums: UsageSums = field(default_factory=UsageSums)


def usage_report(database: Database, query: ReportQuery) -> list[ReportRow]:
    """The report, most expensive first, then by the dimensions (absent values last)."""
    hourly, daily = _plan(query)
    pieces = [(piece, True) for piece in daily]
    pieces += [(span, False) for piece in hourly for span in _spans(database, piece)]
    results = [row for part in _fetch_all(database, pieces) for row in part]
    rows = _merge(query.group_by, results)
    rows.sort(key=lambda row: _order(query.group_by, row))
    return rows


def _fetch_all(
    database: Database, pieces: Sequence[tuple[ReportQuery, bool]]
) -> list[list[ReportRow]]:
    """Each (piece, from usage_daily) summed on its own connection, all at once: a month
    is a daily piece and two partial days at its edges, and the sqlite3 and psycopg
    drivers release the GIL while a statement runs, so the pieces overlap instead of
    adding up. An in-memory SQLite database is one per connection: read in turn."""
    if len(pieces) < 2 or _in_memory(database):
        return [_fetch(database, piece, daily=daily) for piece, daily in pieces]
    with ThreadPoolExecutor(len(pieces), thread_name_prefix="usage-report") as pool:
        return list(pool.map(lambda task: _fetch(database, task[0], daily=task[1]), pieces))


def _in_memory(database: Database) -> bool:
    url = database.engine.url
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def total(rows: Iterable[ReportRow]) -> UsageSums:
    result = UsageSums()
    for row in rows:
        result += row.sums
    return result


# -- SQL ------------------------------------------------------------------------------


def _plan(query: ReportQuery) -> tuple[list[ReportQuery], list[ReportQuery]]:
    """(pieces to read from usage_hourly, pieces to read from usage_daily).

    Grouped by hour, or with no whole UTC day in the range: all hourly. Otherwise the
    whole days ``[first midnight, last midnight)`` are daily, and the partial days
    before and after them hourly. An hourly row is in a piece when its hour starts in
    it, a daily row when its midnight does: the pieces tile the range, so every hour
    of it is counted once.
    """
    if Dimension.HOUR in query.group_by:
        return [query], []
    start, end = query.start.astimezone(UTC), query.end.astimezone(UTC)
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < start:
        first += _DAY
    last = end.replace(hour=0, minute=0, second=0, microsecond=0)
    if first >= last:
        return [query], []
    hourly = [
        replace(query, start=low, end=high)
        for low, high in ((query.start, first), (last, query.end))
        if low < high
    ]
    return hourly, [replace(query, start=first, end=last)]


def _spans(database: Database, query: ReportQuery) -> list[ReportQuery]:
    """The query, or consecutive pieces of its range to sum at once.

    SQLite runs a statement on one core, at about 1 µs per hourly row with grouping:
    a month of busy traffic is 200k rows. PostgreSQL parallelizes a large aggregate
    itself; on a SQLite file, a range longer than ``_SPAN`` is cut into up to one
    half-open piece per core (every hour falls in exactly one), each summed on its own
    connection (the sqlite3 module releases the GIL while a statement runs), and the
    pieces merged. Each piece reads its own snapshot: a report taken while the writer
    commits may count part of that batch, as any report of live data may miss the
    next one. An in-memory database is one per connection, so it is never cut.
    """
    if database.dialect != "sqlite" or _in_memory(database):
        return [query]
    length = query.end - query.start
    pieces = min(os.cpu_count() or 1, _MAX_PIECES, -(-length // _SPAN))
    if pieces < 2:
        return [query]
    step = _HOUR * -(-(length // _HOUR) // pieces)  # whole hours, rounded up
    bounds = [min(query.start + step * n, query.end) for n in range(pieces)] + [query.end]
    return [replace(query, start=low, end=high) for low, high in pairwise(bounds) if low < high]


def _fetch(database: Database, query: ReportQuery, *, daily: bool) -> list[ReportRow]:
    dialect = database.dialect
    table = _DAILY if daily else _HOURLY
    dimensions = [_dimension(dim, dialect, table).label(dim.value) for dim in query.group_by]
    statement = (
        sa.select(*dimensions, *_sums(dialect, table))
        .where(*_conditions(query, table))
        .group_by(*(dim.element for dim in dimensions))
    )
    with database.engine.connect() as connection:
        results = connection.execute(statement).mappings().all()
    # Without grouping, SQL answers one row even for no usage, with NULL sums.
    return [_row(query.group_by, result) for result in results if result["requests"] is not None]


def _merge(group_by: Sequence[Dimension], rows: Iterable[ReportRow]) -> list[ReportRow]:
    """Rows of the same group (from different spans) added up."""
    merged: dict[tuple[DimensionValue, ...], ReportRow] = {}
    for row in rows:
        key = tuple(row.dimensions[dim] for dim in group_by)
        found = merged.get(key)
        merged[key] = row if found is None else ReportRow(row.dimensions, found.sums + row.sums)
    return list(merged.values())


def _dimension(dim: Dimension, dialect: str, table: sa.Table) -> sa.ColumnElement[Any]:
    if dim is Dimension.DAY:
        return table.c.day if table is _DAILY else _utc_day(dialect)
    return table.c[_COLUMNS[dim]]  # never HOUR on usage_daily: _plan sees to it


def _utc_day(dialect: str) -> sa.ColumnElement[Any]:
    """The start of the hour's UTC day. Literals, not bound parameters: PostgreSQL
    matches a select expression to its GROUP BY only when both are the same text."""
    hour = _HOURLY.c.hour
    if dialect == "postgresql":
        utc: sa.ColumnElement[str] = sa.literal_column("'UTC'")
        day = sa.func.date_trunc(sa.literal_column("'day'"), sa.func.timezone(utc, hour))
        return sa.type_coerce(sa.func.timezone(utc, day), UtcDateTime())
    # SQLite stores UTC as text, "YYYY-MM-DD HH:MM:SS.ffffff": the day is its first 10.
    text = sa.func.substr(hour, 1, 10, type_=sa.String()).concat(
        sa.literal_column("' 00:00:00.000000'")
    )
    return sa.type_coerce(text, UtcDateTime())


def _sums(dialect: str, table: sa.Table) -> list[sa.Label[Any]]:
    sums: list[sa.Label[Any]] = [
        sa.func.sum(table.c[name], type_=sa.BigInteger()).label(name) for name in _INT_SUMS
    ]
    cost = table.c.cost_usd
    if dialect == "postgresql":
        return [*sums, sa.func.sum(cost, type_=sa.Numeric()).label("cost_usd")]
    dollars = sa.cast(cost, sa.BigInteger())
    picos = sa.cast(sa.func.round((cost - dollars) * _PICO), sa.BigInteger())
    return [
        *sums,
        sa.func.sum(dollars, type_=sa.BigInteger()).label("cost_dollars"),
        sa.func.sum(picos, type_=sa.BigInteger()).label("cost_picos"),
    ]


def _conditions(query: ReportQuery, table: sa.Table) -> list[sa.ColumnElement[bool]]:
    moment = table.c.day if table is _DAILY else table.c.hour
    conditions = [moment >= query.start, moment < query.end]
    for column, values in query.filters().items():
        if values:
            conditions.append(table.c[column].in_(sorted(values)))
    return conditions


# -- rows -----------------------------------------------------------------------------


def _row(group_by: Sequence[Dimension], result: sa.RowMapping) -> ReportRow:
    dimensions = {dim: _value(dim, result[dim.value]) for dim in group_by}
    counts = {name: int(result[name]) for name in _INT_SUMS}
    return ReportRow(dimensions, UsageSums(cost_usd=_cost(result), **counts))


def _value(dim: Dimension, value: Any) -> DimensionValue:
    if dim in ID_DIMENSIONS:
        ident: uuid.UUID = value
        return None if ident == NIL_UUID else ident
    if dim in TIME_DIMENSIONS:
        moment: datetime = value
        return moment.astimezone(UTC)
    return str(value)


def _cost(result: sa.RowMapping) -> Decimal:
    if "cost_usd" in result:
        return Decimal(result["cost_usd"])
    return Decimal(int(result["cost_dollars"])) + Decimal(int(result["cost_picos"])).scaleb(-12)


def _order(group_by: Sequence[Dimension], row: ReportRow) -> tuple[Any, ...]:
    # (0, value) before (1, ""): absent values sort last and are never compared to
    # values of another type.
    keys = [(1, "") if (v := row.dimensions[dim]) is None else (0, v) for dim in group_by]
    return (-row.sums.cost_usd, *keys)
