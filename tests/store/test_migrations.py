"""Migrations build exactly the schema the tables declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tollway.store import migrate
from tollway.store.db import Database


def test_migrations_match_the_tables(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_upgrade_is_idempotent_and_at_head(database: Database) -> None:
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()
