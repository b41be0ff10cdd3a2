"""The routing table holder tells its subscribers of every table it installs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tollway.routing.holder import RoutingTableHolder
from tollway.routing.table import RoutingTable
from tollway.store.control import bump_routing_version, routing_version
from tollway.store.db import Database


def holder_over(database: Database) -> tuple[RoutingTableHolder, list[int]]:
    """A holder whose build returns an empty table at the store's version; and the
    versions its builds returned, in order."""
    built: list[int] = []

    def build(previous: RoutingTable | None) -> RoutingTable:
        with database.session() as session:
            table = RoutingTable(version=routing_version(session))
        built.append(table.version)
        return table

    return RoutingTableHolder(database, build, interval_seconds=3600), built


def bump(database: Database) -> None:
    with database.session() as session:
        bump_routing_version(session)
        session.commit()


def test_subscribers_hear_of_the_first_load_and_every_rebuild(
    sqlite_database: Database,
) -> None:
    holder, built = holder_over(sqlite_database)
    first: list[int] = []
    second: list[int] = []
    holder.subscribe(lambda table: first.append(table.version))
    holder.subscribe(lambda table: second.append(table.version))

    holder.load()
    assert asyncio.run(holder.refresh()) is False  # same version: nothing rebuilt
    bump(sqlite_database)
    assert asyncio.run(holder.refresh()) is True

    start = built[0]
    assert first == second == built == [start, start + 1]
    assert holder.table.version == start + 1


def test_a_subscriber_sees_the_table_before_it_serves(sqlite_database: Database) -> None:
    holder, built = holder_over(sqlite_database)
    serving_when_told: list[int] = []
    holder.subscribe(lambda table: serving_when_told.append(holder.table.version))

    holder.load()
    bump(sqlite_database)
    asyncio.run(holder.refresh())

    # Each time, the previous table was still the one serving.
    assert serving_when_told == [-1, built[0]]


def test_a_failing_subscriber_neither_stops_routing_nor_the_others(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    holder, built = holder_over(sqlite_database)
    told: list[int] = []

    def broken(table: RoutingTable) -> None:
        raise OSError("disk full")

    holder.subscribe(broken)
    holder.subscribe(lambda table: told.append(table.version))
    caplog.set_level(logging.ERROR, logger="tollway.routing.holder")

    holder.load()
    bump(sqlite_database)
    assert asyncio.run(holder.refresh()) is True

    assert holder.table.version == built[-1]
    assert told == built == [built[0], built[0] + 1]
    failures = [r for r in caplog.records if "subscriber" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.exc_info is not None and r.exc_info[0] is OSError for r in failures)
    assert "broken" in failures[0].getMessage()
