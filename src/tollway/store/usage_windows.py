"""Usage per limit scope over a time range: what quota counters are rebuilt from.

Two sources, never mixed inside one range: the raw ``usage_records`` for short
ranges (minutes, the current hour: always within their retention) and the hourly
aggregates ``usage_hourly`` for long ones (days, months, all time: they survive the
purge). The writer adds a record and its aggregate delta in one transaction, so the
current, unfinished hour is in both; summing a whole range from one source neither
counts a request twice nor misses one, wherever the range starts.

Both sources place a request at its ``finished_at`` (the aggregates by its hour).
Live counters place it at its admission: a call straddling a window's start counts
in the later window here, which errs towards "spent", never towards "unspent".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tollway.store.db import Database
from tollway.store.enums import LimitScope
from tollway.store.tables import NIL_UUID, UsageHourly, UsageRecord, UsageStatus

_RECORDS: sa.Table = UsageRecord.__table__  # type: ignore[attr-defined]
_HOURLY: sa.Table = UsageHourly.__table__  # type: ignore[attr-defined]
_PICO = 10**12

SCOPE_COLUMNS: dict[LimitScope, str] = {
    LimitScope.TOLLWAY_KEY: "tollway_key_id",
    LimitScope.TEAM: "team_id",
    LimitScope.PROVIDER: "provider_id",
    LimitScope.PROVIDER_KEY: "provider_key_id",
}

# Statuses whose reservation was settled, not released, even when they used nothing.
_SETTLED = (UsageStatus.OK, UsageStatus.CLIENT_DISCONNECTED)


@dataclass(frozen=True, slots=True)
class ScopeUsage:
    """What one scope used in a range: counted requests, prompt + completion tokens,
    and the known cost."""

    requests: int = 0
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)


UsageByScope = dict[uuid.UUID, ScopeUsage]


def recent_usage(
    database: Database, scope: LimitScope, start: datetime, end: datetime | None
) -> UsageByScope:
    """Sums of the raw records that finished in [start, end), per id of ``scope``.

    A request counts like it does on the live counters: a failure that was released
    (an error or interruption with no tokens) is not a request; everything settled
    is, and so is an interrupted request charged its reservation at recovery."""
    column = _RECORDS.c[SCOPE_COLUMNS[scope]]
    tokens = _RECORDS.c.prompt_tokens + _RECORDS.c.completion_tokens
    settled = sa.or_(_RECORDS.c.status.in_(_SETTLED), tokens > 0)
    counted = sa.func.sum(sa.case((settled, 1), else_=0), type_=sa.BigInteger())
    query = (
        sa.select(
            column.label("scope_id"),
            counted.label("requests"),
            sa.func.sum(tokens, type_=sa.BigInteger()).label("tokens"),
            *_cost_sums(database.dialect, _RECORDS.c.cost_usd),
        )
        .where(*_range(_RECORDS.c.finished_at, start, end), column.is_not(None))
        .group_by(column)
    )
    return _collect(database, query)


def hourly_usage(
    database: Database, scope: LimitScope, start: datetime | None, end: datetime | None
) -> UsageByScope:
    """Sums of the hourly aggregates whose hour is in [start, end), per id of
    ``scope`` (``start`` None: since the beginning). ``requests`` here includes
    released failures: the aggregates cannot tell them apart, and no limit row
    counts requests per day or longer."""
    column = _HOURLY.c[SCOPE_COLUMNS[scope]]
    query = (
        sa.select(
            column.label("scope_id"),
            sa.func.sum(_HOURLY.c.requests, type_=sa.BigInteger()).label("requests"),
            sa.func.sum(
                _HOURLY.c.prompt_tokens + _HOURLY.c.completion_tokens, type_=sa.BigInteger()
            ).label("tokens"),
            *_cost_sums(database.dialect, _HOURLY.c.cost_usd),
        )
        .where(*_range(_HOURLY.c.hour, start, end), column != NIL_UUID)
        .group_by(column)
    )
    return _collect(database, query)


def _range(
    column: sa.Column[Any], start: datetime | None, end: datetime | None
) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def _cost_sums(dialect: str, cost: sa.Column[Any]) -> list[sa.Label[Any]]:
    """Exact sums of a NUMERIC column. SQLite keeps NUMERIC as floats: there the
    whole dollars and the picodollars are summed apart, as integers (as reports do)."""
    if dialect == "postgresql":
        return [sa.func.sum(cost, type_=sa.Numeric()).label("cost_usd")]
    dollars = sa.cast(cost, sa.BigInteger())
    picos = sa.cast(sa.func.round((cost - dollars) * _PICO), sa.BigInteger())
    return [
        sa.func.sum(dollars, type_=sa.BigInteger()).label("cost_dollars"),
        sa.func.sum(picos, type_=sa.BigInteger()).label("cost_picos"),
    ]


def _collect(database: Database, query: sa.Select[Any]) -> UsageByScope:
    with database.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return {
        row["scope_id"]: ScopeUsage(
            requests=int(row["requests"] or 0),
            tokens=int(row["tokens"] or 0),
            cost_usd=_cost(row),
        )
        for row in rows
    }


def _cost(row: sa.RowMapping) -> Decimal:
    if "cost_usd" in row:
        return Decimal(row["cost_usd"] or 0)
    dollars = int(row["cost_dollars"] or 0)
    return Decimal(dollars) + Decimal(int(row["cost_picos"] or 0)).scaleb(-12)
