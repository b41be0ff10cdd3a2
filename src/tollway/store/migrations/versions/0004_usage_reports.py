"""usage reports: indexes on usage_hourly for time ranges, keys and teams

Reports select ``[from, to)`` on ``hour``. ``uq_usage_hourly_dims`` leads with
``hour`` too, but it is wide (four UUIDs and the model name): with a year of history
PostgreSQL's planner prices a bitmap scan over it above a sequential scan of the whole
table and takes the latter, twice as slow for a 30-day report; over the narrow index it
picks the bitmap scan. The two composite indexes serve the filters people use over
long ranges ("this key this year", "my team this quarter") without reading every
other key's rows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_usage_hourly_hour", "usage_hourly", ["hour"])
    op.create_index("ix_usage_hourly_key_hour", "usage_hourly", ["tollway_key_id", "hour"])
    op.create_index("ix_usage_hourly_team_hour", "usage_hourly", ["team_id", "hour"])


def downgrade() -> None:
    op.drop_index("ix_usage_hourly_team_hour", table_name="usage_hourly")
    op.drop_index("ix_usage_hourly_key_hour", table_name="usage_hourly")
    op.drop_index("ix_usage_hourly_hour", table_name="usage_hourly")
