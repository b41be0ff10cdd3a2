"""Migrations build exactly the schema the tables declare, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, col, select

from tests.metering.test_reports import varied
from tests.metering.test_writer import assert_daily_matches_hourly, daily
from tollway.metering.writer import store_usage
from tollway.store import migrate
from tollway.store.db import Database
from tollway.store.tables import (
    ConsoleSession,
    Model,
    UsageRecord,
    UtcDateTime,
    VerificationResult,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def postgres_or_sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, not migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tollway.db'}"
    fresh: Callable[[], str] = request.getfixturevalue("postgres_server")
    return fresh()


def test_migrations_match_the_tables(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_upgrade_is_idempotent_and_at_head(database: Database) -> None:
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()


def test_usage_records_from_before_0005_read_as_within_their_reservation(
    postgres_or_sqlite_url: str,
) -> None:
    database = Database(postgres_or_sqlite_url)
    try:
        migrate.upgrade(database, "0004")
        with database.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO usage_records (id, request_id, started_at, finished_at, "
                    "public_model, requested_model, route, endpoint, status, prompt_tokens, "
                    "completion_tokens, cached_tokens, reasoning_tokens, cost_source, "
                    "latency_ms, counted) VALUES (:id, 'old', :at, :at, 'm', 'm', 'litellm', "
                    "'chat', 'ok', 1, 1, 0, 0, 'computed', 1, :no)"
                ).bindparams(
                    sa.bindparam("id", type_=sa.Uuid()),
                    sa.bindparam("at", type_=UtcDateTime()),
                    sa.bindparam("no", type_=sa.Boolean()),
                ),
                {"id": uuid.uuid4(), "at": datetime.now(UTC), "no": False},
            )
        migrate.upgrade(database)
        with database.session() as session:
            (record,) = session.exec(select(UsageRecord)).all()
        assert record.over_reservation is False
    finally:
        database.dispose()


def test_model_legacy_id_upgrades_and_downgrades_keeping_the_models(
    postgres_or_sqlite_url: str,
) -> None:
    database = Database(postgres_or_sqlite_url)
    try:
        migrate.upgrade(database)
        with database.session() as session:
            session.add(Model(provider_id=uuid.uuid4(), model_id="a", name="a", legacy_id="m1"))
            session.add(Model(provider_id=uuid.uuid4(), model_id="b", name="b"))

        migrate.downgrade(database, "0006")
        columns = {c["name"] for c in sa.inspect(database.engine).get_columns("models")}
        assert "legacy_id" not in columns
        assert migrate.current_revision(database) == "0006"

        migrate.upgrade(database)  # rows from before 0007 have no legacy id
        with database.session() as session:
            models = session.exec(select(Model).order_by(col(Model.model_id))).all()
            assert [(m.model_id, m.legacy_id) for m in models] == [("a", None), ("b", None)]
    finally:
        database.dispose()


def test_model_catalog_upgrades_and_downgrades_keeping_the_models(
    postgres_or_sqlite_url: str,
) -> None:
    database = Database(postgres_or_sqlite_url)
    try:
        migrate.upgrade(database)
        with database.session() as session:
            session.add(Model(provider_id=uuid.uuid4(), model_id="a", name="a"))
        migrate.downgrade(database, "0007")
        inspector = sa.inspect(database.engine)
        columns = {c["name"] for c in inspector.get_columns("models")}
        assert "missing_from_catalog" not in columns
        tables = set(inspector.get_table_names())
        assert not {"discovered_models", "catalog_refresh_state"} & tables
        migrate.upgrade(database)  # models from before 0008 are not missing
        with database.session() as session:
            [model] = session.exec(select(Model)).all()
            assert (model.model_id, model.missing_from_catalog) == ("a", False)
    finally:
        database.dispose()


def test_verification_results_upgrade_and_downgrade_keeping_the_models(
    postgres_or_sqlite_url: str,
) -> None:
    database = Database(postgres_or_sqlite_url)
    try:
        migrate.upgrade(database)
        model = Model(provider_id=uuid.uuid4(), model_id="a", name="a")
        with database.session() as session:
            session.add(model)
            session.flush()
            session.add(
                VerificationResult(
                    model_id=model.id,
                    provider_id=model.provider_id,
                    run_id=uuid.uuid4(),
                    test_type="completion",
                    passed=True,
                    evidence={"request": {"max_tokens": 16}},
                )
            )
        migrate.downgrade(database, "0008")
        assert not {"verification_results", "verification_lease"} & set(
            sa.inspect(database.engine).get_table_names()
        )
        migrate.upgrade(database)
        with database.session() as session:
            assert [m.model_id for m in session.exec(select(Model)).all()] == ["a"]
            assert session.exec(select(VerificationResult)).all() == []
    finally:
        database.dispose()


def test_console_sessions_upgrade_and_downgrade(postgres_or_sqlite_url: str) -> None:
    database = Database(postgres_or_sqlite_url)
    try:
        migrate.upgrade(database)
        with database.session() as session:
            session.add(
                ConsoleSession(id_digest="d" * 64, csrf_token="t", flashes=[{"level": "info"}])
            )
        migrate.downgrade(database, "0009")
        assert "console_sessions" not in sa.inspect(database.engine).get_table_names()
        assert migrate.current_revision(database) == "0009"
        migrate.upgrade(database)
        with database.session() as session:
            assert session.exec(select(ConsoleSession)).all() == []
    finally:
        database.dispose()


def test_usage_daily_upgrade_backfills_the_hourly_sums_and_downgrade_drops_it(
    postgres_or_sqlite_url: str,
) -> None:
    database = Database(postgres_or_sqlite_url)
    try:
        migrate.upgrade(database)
        start = datetime(2031, 3, 1, 20, tzinfo=UTC)
        store_usage(database, varied(300, start=start, span=timedelta(days=3, hours=7)))
        days = {row.day for row in daily(database)}
        assert_daily_matches_hourly(database)

        migrate.downgrade(database, "0010")
        assert "usage_daily" not in sa.inspect(database.engine).get_table_names()
        assert migrate.current_revision(database) == "0010"

        migrate.upgrade(database)  # the backfill, from usage_hourly alone
        assert_daily_matches_hourly(database)
        rows = daily(database)
        assert len({row.id for row in rows}) == len(rows)
        assert sum(row.requests for row in rows) == 300
        assert {row.day for row in rows} == days
    finally:
        database.dispose()
