"""usage records: over_reservation, set when reported usage exceeded the reservation

A provider that ignores the completion cap, or a prompt larger than tollway's upper
bound, is billed as reported; the record says so, so operators can find such
requests (and the providers that cause them) in SQL. Existing rows predate the
check: they read as false.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(
            sa.Column("over_reservation", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("over_reservation")
