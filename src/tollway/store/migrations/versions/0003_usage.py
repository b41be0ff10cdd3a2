"""usage ledger: raw usage records and hourly aggregates

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollway.store.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _sum(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.Column("tollway_key_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("provider_key_id", sa.Uuid(), nullable=True),
        sa.Column("model_row_id", sa.Uuid(), nullable=True),
        sa.Column("public_model", sa.String(length=400), nullable=False),
        sa.Column("requested_model", sa.String(length=400), nullable=False),
        sa.Column("route", sa.String(length=32), nullable=False),
        sa.Column("endpoint", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=24, scale=12), nullable=True),
        sa.Column("cost_source", sa.String(length=32), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.Column("fallback_reason", sa.String(length=400), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_usage_records_finished_at", "usage_records", ["finished_at"])
    op.create_table(
        "usage_hourly",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hour", UtcDateTime(), nullable=False),
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
        sa.UniqueConstraint(
            "hour",
            "tollway_key_id",
            "team_id",
            "provider_id",
            "provider_key_id",
            "public_model",
            "route",
            name="uq_usage_hourly_dims",
        ),
    )


def downgrade() -> None:
    op.drop_table("usage_hourly")
    op.drop_index("ix_usage_records_finished_at", table_name="usage_records")
    op.drop_table("usage_records")
