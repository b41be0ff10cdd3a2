"""models: legacy_id, the id a legacy settings file gave the entry

A legacy settings file may give its catalog entries ids that are not UUIDs ("m1", 7);
the migration derives each model's UUID from that id and keeps the original here, so
operators can find the entry they knew. Models created otherwise have none: existing
rows read as null.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("legacy_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("legacy_id")
