"""``tollway status`` and ``GET /admin/v1/status`` against a live server: what a few
requests through the mock provider, a spent budget and a fallback look like, exit 0
when healthy and 5 when the secret store fails, and no secret in any output."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.cli.conftest import ADMIN_TOKEN, Cli, LiveServer
from tests.live import running_server
from tests.metering.test_records import make_event, make_outcome
from tollway.app import create_app, runtime_of
from tollway.domain.common import Actor, record_event
from tollway.errors import SecretStoreUnavailableError
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import store_usage
from tollway.runtime import Runtime
from tollway.settings import Settings
from tollway.store.tables import UsageStatus

UPSTREAM_SECRET = "sk-upstream-secret-that-must-not-show-0000"


@pytest.fixture
def runtime_box() -> list[Runtime]:
    return []


@pytest.fixture
def live_server(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    migrated_sqlite: Callable[[Path], str],
    runtime_box: list[Runtime],
) -> Iterator[LiveServer]:
    """The conftest's server, with its runtime within the test's reach."""
    for name in [name for name in os.environ if name.startswith("TOLLWAY_")]:
        monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    migrated_sqlite(data_dir / "tollway.db")
    settings = Settings(
        data_dir=data_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        secrets={"backend": "memory"},
        routing={"refresh_interval_seconds": 0.1},
    )
    app = create_app(settings)
    with running_server(settings, app) as url:
        runtime_box.append(runtime_of(app))
        yield LiveServer(url=url, token=ADMIN_TOKEN, data_dir=data_dir)


def chat(server: LiveServer, key: str, model: str) -> None:
    """One request, once the key and model reached the routing table (a refresh)."""
    deadline = time.monotonic() + 10
    while True:
        response = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        if response.status_code not in (401, 404) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status_code == 200, response.text


def test_status_after_traffic_a_budget_and_a_fallback(cli: Cli, runtime_box: list[Runtime]) -> None:
    runtime = runtime_box[0]
    provider = cli.json("providers", "create", "--name", "Mock co", "--type", "mock")
    cli.json("models", "create", "--provider", provider["id"], "--model-id", "echo", "--name", "m")
    team = cli.json("teams", "create", "--name", "research")
    key = cli.json("keys", "create", "--name", "agent-1", "--team", team["id"])
    for _ in range(2):
        chat(cli.server, key["key"], "m")
    # A failed, priced request of the team, and a fallback in the audit trail.
    now = datetime.now(UTC)
    failed = CompletedUsage(
        make_event("failed-1", started_at=now, team_id=uuid.UUID(team["id"])),
        make_outcome(
            finished_at=now, status=UsageStatus.ERROR, http_status=502, cost_usd=Decimal("1.5")
        ),
    )
    store_usage(runtime.services.database, [failed])
    with runtime.services.database.session() as session:
        details = {"request_id": "r-1", "model": "m", "reason": "engine_unavailable"}
        record_event(
            session,
            Actor("data-plane"),
            "engine.fallback",
            "request:r-1",
            {**details, "detail": f"upstream said {UPSTREAM_SECRET}"},
        )
    limit = {"scope": "team", "scope_id": team["id"], "usd_per_day": "10"}
    created = httpx.post(
        f"{cli.server.url}/admin/v1/limits",
        json=limit,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert created.status_code == 201, created.text
    runtime.metering.writer.catch_up()  # the two chats, into the ledger

    report = cli.json("status")

    assert report["status"] == "ok", report["problems"]
    assert report["engine"] == {"mode": "embedded", "circuit": "closed", "litellm_service": None}
    assert set(report["dependencies"].values()) == {"ok"}
    assert report["routing"]["version"] >= 0
    ledger = report["ledger"]
    assert ledger["models"] == {"unverified": 1, "verified": 0, "invalid": 0, "retired": 0}
    assert ledger["traffic"] | {"since": None} == {
        "since": None,
        "requests": 3,
        "errors": 1,
        "fallbacks": 0,
    }
    assert ledger["spend"]["today_usd"] == 1.5
    [budget] = ledger["spend"]["budgets"]
    assert (budget["name"], budget["window"], budget["used_usd"], budget["limit_usd"]) == (
        "research",
        "day",
        1.5,
        10.0,
    )
    assert ledger["recent_fallbacks"][0] | {"time": None} == {"time": None, **details}

    screen = cli.ok("status").stdout
    assert "tollway 0.1.0: ok" in screen
    assert "3 requests, 1 errors (33.3%), 0 fallbacks" in screen
    budget_line = next(line for line in screen.splitlines() if "research" in line)
    assert "$1.50" in budget_line
    assert "15%" in budget_line
    assert "engine_unavailable" in screen
    shown = "\n".join(result.stdout + result.stderr for result in cli.results[-2:])
    for secret in (ADMIN_TOKEN, key["key"], UPSTREAM_SECRET):
        assert secret not in shown


def test_status_exits_5_when_the_secret_store_fails(
    cli: Cli, runtime_box: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise SecretStoreUnavailableError("secret store unreachable")

    monkeypatch.setattr(runtime_box[0].services.secrets, "check", down)

    screen = cli("status")
    assert screen.exit_code == 5, screen.stdout
    assert "tollway 0.1.0: unavailable" in screen.stdout
    assert "secrets: secret_store_unavailable" in screen.stdout

    raw = cli("status", "--json")
    assert raw.exit_code == 5
    assert json.loads(raw.stdout)["dependencies"]["secrets"] == "secret_store_unavailable"
    assert "tollway is unavailable" in raw.stderr
    assert ADMIN_TOKEN not in cli.all_output()

    anonymous = httpx.get(f"{cli.server.url}/admin/v1/status")
    assert anonymous.status_code == 401
