"""model catalog cache: discovered_models, catalog_refresh_state, models.missing_from_catalog

The provider's model list as last fetched (per provider, and per team key whose
catalog may differ), the state of each catalog's last refresh, and a flag on published
models whose id the provider's catalog no longer lists. Existing models read as present.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tollway.store.tables import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _scope_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("provider_key_id", sa.Uuid(), nullable=True),
    ]


def _scope_constraints() -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["provider_key_id"], ["provider_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    ]


def upgrade() -> None:
    price = sa.Numeric(precision=24, scale=12)
    op.create_table(
        "discovered_models",
        *_scope_columns(),
        sa.Column("model_id", sa.String(length=400), nullable=False),
        sa.Column("display_name", sa.String(length=400), nullable=True),
        sa.Column("context_window", sa.Integer(), nullable=True),
        sa.Column("max_output_tokens", sa.Integer(), nullable=True),
        sa.Column("input_modalities", sa.JSON(), nullable=False),
        sa.Column("output_modalities", sa.JSON(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("input_price", price, nullable=True),
        sa.Column("output_price", price, nullable=True),
        sa.Column("deprecation", sa.String(length=200), nullable=True),
        sa.Column("owned_by", sa.String(length=200), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        *_scope_constraints(),
    )
    op.create_index(
        "ix_discovered_models_scope",
        "discovered_models",
        ["provider_id", "provider_key_id", "model_id"],
    )
    op.create_table(
        "catalog_refresh_state",
        *_scope_columns(),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=400), nullable=True),
        sa.Column("backoff_until", UtcDateTime(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("model_count", sa.Integer(), nullable=False),
        sa.Column("static", sa.Boolean(), nullable=False),
        sa.Column("scope_key", sa.String(length=36), nullable=False),
        sa.Column("refreshing_until", UtcDateTime(), nullable=True),
        *_scope_constraints(),
        sa.UniqueConstraint("provider_id", "scope_key", name="uq_catalog_refresh_scope"),
    )
    op.create_index(
        "ix_catalog_refresh_state_provider_id", "catalog_refresh_state", ["provider_id"]
    )
    with op.batch_alter_table("models") as batch:
        batch.add_column(
            sa.Column(
                "missing_from_catalog", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("missing_from_catalog")
    op.drop_index("ix_catalog_refresh_state_provider_id", table_name="catalog_refresh_state")
    op.drop_table("catalog_refresh_state")
    op.drop_index("ix_discovered_models_scope", table_name="discovered_models")
    op.drop_table("discovered_models")
