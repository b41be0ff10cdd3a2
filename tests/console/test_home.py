"""Home: the dependencies, the engine, spend, the last hour's traffic and the latest
fallbacks, as the status service reads them (tests/cli/test_status.py pins those
numbers; here, what the operator sees)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import services_of
from tests.metering.test_records import make_event, make_outcome
from tollway.app import runtime_of
from tollway.domain.common import Actor, record_event
from tollway.errors import SecretStoreUnavailableError
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import store_usage
from tollway.store.tables import UsageStatus

UPSTREAM_SECRET = "sk-upstream-said-" + "9" * 20


def _traffic(client: TestClient) -> None:
    now = datetime.now(UTC)
    usage = [
        CompletedUsage(
            make_event(f"r-{n}", started_at=now, team_id=uuid.uuid4()),
            make_outcome(finished_at=now, status=status, cost_usd=Decimal("1.25")),
        )
        for n, status in enumerate([UsageStatus.OK, UsageStatus.OK, UsageStatus.ERROR])
    ]
    services = services_of(client)
    store_usage(services.database, usage)
    with services.database.session() as session:
        details = {"request_id": "req-fb-1", "model": "gpt-small", "reason": "engine_unavailable"}
        record_event(
            session,
            Actor("data-plane"),
            "engine.fallback",
            "request:req-fb-1",
            {**details, "detail": f"upstream said {UPSTREAM_SECRET}"},
        )


def test_home_shows_health_spend_traffic_and_fallbacks(signed_in: TestClient) -> None:
    _traffic(signed_in)
    html = signed_in.get("/console/").text
    assert "tollway is serving normally." in html
    for label in ("Database", "Secret store", "Quota store", "Usage journal", "Journal backlog"):
        assert f"<dt>{label}</dt>" in html
    assert "embedded, circuit" in html
    assert "closed" in html
    assert "<dt>Today (UTC)</dt><dd>$3.75</dd>" in html
    assert "<dt>Requests</dt><dd>3</dd>" in html
    assert "<dt>Errors</dt><dd>1</dd>" in html
    assert "<dt>Error rate</dt><dd>33.3 %</dd>" in html
    assert "engine_unavailable" in html
    assert "req-fb-1" in html
    assert UPSTREAM_SECRET not in html


def test_home_says_what_is_down(signed_in: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> None:
        raise SecretStoreUnavailableError("secret store unreachable")

    runtime = runtime_of(signed_in.app)  # type: ignore[arg-type]
    monkeypatch.setattr(runtime.services.secrets, "check", down)
    monkeypatch.setattr(runtime.health, "_round", None)  # no cached round of checks
    for _ in range(10):
        runtime.status._breaker.record_failure()
    response = signed_in.get("/console/")
    assert response.status_code == 200
    assert "tollway is unavailable." in response.text
    assert "secrets: secret_store_unavailable" in response.text
    assert "engine circuit open" in response.text
    assert 'class="status-bad">secret_store_unavailable' in response.text
