"""stored responses: what /v1/responses keeps for previous_response_id and GET

One row per stored answer, owned by one tollway key, kept until ``expires_at``
(``RESPONSES__RETENTION_DAYS``). The input items are the whole conversation up to
that turn, so a continuation reads one row.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollway.store.tables import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_responses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tollway_key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("input_items", sa.JSON(), nullable=False),
        sa.Column("output_items", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stored_responses_tollway_key_id", "stored_responses", ["tollway_key_id"])
    op.create_index("ix_stored_responses_expires_at", "stored_responses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_stored_responses_expires_at", table_name="stored_responses")
    op.drop_index("ix_stored_responses_tollway_key_id", table_name="stored_responses")
    op.drop_table("stored_responses")
