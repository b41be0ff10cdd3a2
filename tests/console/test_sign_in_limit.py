"""The limit on failed sign-ins, read from the audit trail: shared by every console
app on one database, with a Retry-After that is right, lifted once the minute has
passed; and the audit events of signing in and out, with nothing typed in them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.console.conftest import console_client, page_csrf, services_of, sign_in
from tollway.domain.common import Actor
from tollway.domain.console_sign_ins import (
    SIGN_IN_FAILED,
    SIGNED_IN,
    SIGNED_OUT,
    ConsoleSignIns,
)
from tollway.store.db import Database
from tollway.store.tables import AuditEvent, utcnow

CONSOLE = Actor("console")
ADDRESS = "testclient"  # what TestClient presents as the client's address


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=utcnow().tzinfo)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _events(database: Database, action: str | None = None) -> list[AuditEvent]:
    with database.session() as session:
        statement = select(AuditEvent).order_by(col(AuditEvent.time))
        if action is not None:
            statement = statement.where(AuditEvent.action == action)
        return list(session.exec(statement).all())


def _age_failures(database: Database, seconds: float) -> None:
    """Move every recorded failure ``seconds`` into the past (no sleeping a minute)."""
    with database.session() as session:
        for event in session.exec(select(AuditEvent).where(AuditEvent.action == SIGN_IN_FAILED)):
            event.time -= timedelta(seconds=seconds)
            session.add(event)


# -- the rule, on each backend, with a clock of its own ---------------------------------


def test_failures_in_the_last_minute_per_address(database: Database) -> None:
    clock = Clock()
    sign_ins = ConsoleSignIns(database, 3, clock=clock)
    for _ in range(3):
        assert sign_ins.retry_after("10.0.0.1") is None
        sign_ins.failed("10.0.0.1", CONSOLE)
        clock.advance(10)
    assert sign_ins.retry_after("10.0.0.1") == 30  # the first failure leaves at +60
    assert sign_ins.retry_after("10.0.0.2") is None  # per address
    sign_ins.signed_in("10.0.0.1", CONSOLE)  # successes are not failures
    clock.advance(29.5)
    assert sign_ins.retry_after("10.0.0.1") == 1  # rounded up, never 0
    clock.advance(0.5)
    assert sign_ins.retry_after("10.0.0.1") is None


def test_after_a_burst_past_the_limit_retry_after_waits_for_enough_to_leave(
    database: Database,
) -> None:
    clock = Clock()
    sign_ins = ConsoleSignIns(database, 3, clock=clock)
    for _ in range(5):  # two more than the limit, as concurrent attempts may land
        sign_ins.failed("10.0.0.1", CONSOLE)
        clock.advance(10)
    # Failures at +0…+40, now +50: two must leave before fewer than three remain,
    # so the wait is for the one at +20 (at +80), not the oldest (at +60).
    assert sign_ins.retry_after("10.0.0.1") == 30
    clock.advance(30)
    assert sign_ins.retry_after("10.0.0.1") is None


def test_an_overlong_address_is_cut_to_the_audit_column(database: Database) -> None:
    sign_ins = ConsoleSignIns(database, 1)
    sign_ins.failed("x" * 500, CONSOLE)
    assert sign_ins.retry_after("x" * 500) is not None
    [event] = _events(database)
    assert event.target == "x" * 200


# -- through the console -------------------------------------------------------------------


@pytest.fixture
def two_replicas(tmp_path: Path, database_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two console apps, each with a data directory of its own, on ONE database."""
    limit = {"sign_in_attempts_per_minute": 4}
    first = make_settings(tmp_path / "one", database_url, console=limit)
    second = make_settings(tmp_path / "two", database_url, console=limit)
    with console_client(first) as one, console_client(second) as two:
        yield one, two


def test_two_replicas_on_one_database_share_the_limit(
    two_replicas: tuple[TestClient, TestClient],
) -> None:
    one, two = two_replicas
    for client in (one, two, one, two):  # two failures on each: four in all
        assert sign_in(client, token="twadmin-guess").status_code == 422
    for client in (one, two):  # either replica refuses now, even the right token
        refused = sign_in(client)
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 60
        assert f"Too many failed sign-ins from your address; retry in {wait} seconds." in (
            refused.text
        )
    assert len(_events(services_of(one).database, SIGN_IN_FAILED)) == 4  # 429s not recorded


def test_retry_after_counts_down_to_when_the_oldest_failure_leaves(
    tmp_path: Path, database_url: str
) -> None:
    """The exact arithmetic is pinned above with a clock of its own; here, through the
    console, the failures are made 50 s old, so the wait is at most 10 s (less by
    however long the test took), and waiting that long is enough."""
    settings = make_settings(
        tmp_path / "data", database_url, console={"sign_in_attempts_per_minute": 2}
    )
    with console_client(settings) as client:
        database = services_of(client).database
        sign_ins = ConsoleSignIns(database, 2)
        for _ in range(2):
            sign_ins.failed(ADDRESS, CONSOLE)
        _age_failures(database, 50)
        refused = sign_in(client)
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 10
        assert f"retry in {wait} seconds" in refused.text
        _age_failures(database, wait)
        assert sign_in(client).status_code == 303


def test_a_right_token_is_let_in_once_the_minute_has_passed(client: TestClient) -> None:
    for _ in range(5):  # the default limit
        assert sign_in(client, token="twadmin-guess").status_code == 422
    assert sign_in(client).status_code == 429
    _age_failures(services_of(client).database, 61)
    answer = sign_in(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"


# -- the audit events ---------------------------------------------------------------------


def test_sign_ins_and_sign_outs_are_audited_without_what_was_typed(client: TestClient) -> None:
    canary = "twadmin-canary-7f3a9c1e5b2d4f60"
    assert sign_in(client, token=canary).status_code == 422
    assert sign_in(client).status_code == 303
    logout = client.post("/console/logout", data={"csrf_token": page_csrf(client)})
    assert logout.status_code == 303

    events = _events(services_of(client).database)
    assert [(e.actor, e.action, e.target) for e in events] == [
        ("console", SIGN_IN_FAILED, ADDRESS),
        ("console", SIGNED_IN, ADDRESS),
        ("console", SIGNED_OUT, ADDRESS),
    ]
    stored = json.dumps([[e.actor, e.action, e.target, e.details] for e in events])
    for secret in (canary, ADMIN_TOKEN):
        tail = secret[-16:]  # the random part: not the token, nor a piece of it
        for start in range(len(tail) - 5):
            assert tail[start : start + 6] not in stored, secret


def test_the_audit_page_shows_the_failed_sign_in_without_the_token(client: TestClient) -> None:
    canary = "twadmin-canary-0c8e2b7d41a95f3e"
    sign_in(client, token=canary)
    sign_in(client)
    html = client.get("/console/audit", params={"action": SIGN_IN_FAILED}).text
    assert "Showing 1 to 1 of 1 events" in html
    assert ADDRESS in html
    assert canary not in html
    assert canary.removeprefix("twadmin-canary-")[:6] not in html
