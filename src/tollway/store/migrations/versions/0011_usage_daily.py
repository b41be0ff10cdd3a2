"""usage reports: usage_daily, usage_hourly summed per UTC day

Month-long reports summed ~180k hourly rows (about 1 µs each on SQLite); the daily
table holds ~24x fewer. Same dimensions, unique key and indexes as ``usage_hourly``,
with ``day`` (the UTC midnight) for ``hour``. The upgrade backfills it from
``usage_hourly``; from then on the writer adds to both in one transaction.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollway.store.tables import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_DIMENSIONS = (
    "tollway_key_id",
    "team_id",
    "provider_id",
    "provider_key_id",
    "public_model",
    "route",
)
_SUMS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced_requests",
)


def _sum(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("day", UtcDateTime(), nullable=False),
        sa.Column("tollway_key_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("provider_key_id", sa.Uuid(), nullable=False),
        sa.Column("public_model", sa.String(length=400), nullable=False),
        sa.Column("route", sa.String(length=32), nullable=False),
        _sum("requests"),
        _sum("errors"),
        _sum("prompt_tokens"),
        _sum("completion_tokens"),
        _sum("cached_tokens"),
        _sum("reasoning_tokens"),
        sa.Column("cost_usd", sa.Numeric(precision=24, scale=12), nullable=False),
        _sum("unpriced_requests"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*("day", *_DIMENSIONS), name="uq_usage_daily_dims"),
    )
    op.create_index("ix_usage_daily_day", "usage_daily", ["day"])
    op.create_index("ix_usage_daily_key_day", "usage_daily", ["tollway_key_id", "day"])
    op.create_index("ix_usage_daily_team_day", "usage_daily", ["team_id", "day"])
    _backfill()


def _backfill() -> None:
    """One row per day and dimensions, summed from usage_hourly, in SQL."""
    if op.get_bind().dialect.name == "postgresql":
        new_id = "gen_random_uuid()"
        day = "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    else:
        # SQLite: Uuid is 32 hex characters; UtcDateTime is "YYYY-MM-DD HH:MM:SS.ffffff".
        new_id = "lower(hex(randomblob(16)))"
        day = "substr(hour, 1, 10) || ' 00:00:00.000000'"
    dimensions = ", ".join(_DIMENSIONS)
    sums = ", ".join(f"SUM({name})" for name in _SUMS)
    op.execute(
        f"INSERT INTO usage_daily (id, day, {dimensions}, {', '.join(_SUMS)}) "  # noqa: S608
        f"SELECT {new_id}, day, {dimensions}, {sums} FROM ("
        f"SELECT {day} AS day, {dimensions}, {', '.join(_SUMS)} FROM usage_hourly"
        f") AS hourly GROUP BY day, {dimensions}"
    )


def downgrade() -> None:
    op.drop_index("ix_usage_daily_team_day", table_name="usage_daily")
    op.drop_index("ix_usage_daily_key_day", table_name="usage_daily")
    op.drop_index("ix_usage_daily_day", table_name="usage_daily")
    op.drop_table("usage_daily")
