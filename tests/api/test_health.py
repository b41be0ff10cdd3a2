"""Liveness without auth; readiness reflects every dependency the process needs to
serve and bill: database, secret store, quota counters, usage journal, routing table."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from tests.api.conftest import make_settings
from tests.fakes.disk import FaultyDisk
from tests.fakes.ports import free_port
from tests.metering.test_records import make_outcome
from tollway.app import create_app, runtime_of
from tollway.domain.health import Phase
from tollway.domain.services import Services
from tollway.errors import SecretStoreUnavailableError
from tollway.routing.table import RoutingTable

ALL_OK = {
    "database": "ok",
    "secrets": "ok",
    "quota_store": "ok",
    "usage_journal": "ok",
    "routing_table": "ok",
    "lifecycle": "ok",
}

# What these pin does not depend on the database's backend.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def not_ready_because(client: TestClient) -> dict[str, str]:
    """The checks that failed, asserting the answer is a 503 naming them."""
    response = client.get("/health/ready")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["checks"]) == set(ALL_OK)
    return {name: result for name, result in body["checks"].items() if result != "ok"}


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/health", headers={"Authorization": ""})
    assert response.json() == {"status": "ok"}


@SQLITE_ONLY
def test_live_and_startup_answer_without_checking_dependencies(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("refused"))

    monkeypatch.setattr(services.database, "ping", down)
    headers = {"Authorization": ""}
    assert client.get("/health/live", headers=headers).json() == {"status": "ok"}
    startup = client.get("/health/startup", headers=headers)
    assert (startup.status_code, startup.json()) == (200, {"status": "started"})
    assert client.get("/health/ready", headers=headers).status_code == 503


@SQLITE_ONLY
def test_startup_is_503_until_start_up_finished(client: TestClient) -> None:
    lifecycle = runtime_of(client.app).health.lifecycle  # type: ignore[arg-type]
    lifecycle.phase = Phase.STARTING
    response = client.get("/health/startup")
    assert (response.status_code, response.json()) == (503, {"status": "starting"})
    assert not_ready_because(client) == {"lifecycle": "starting"}


@SQLITE_ONLY
def test_not_ready_while_draining(client: TestClient) -> None:
    runtime_of(client.app).health.lifecycle.begin_draining()  # type: ignore[arg-type]
    assert not_ready_because(client) == {"lifecycle": "draining"}
    # Still serving meanwhile: that is the point of draining first.
    assert client.get("/health/live").status_code == 200
    assert client.get("/admin/v1/teams").status_code == 200


@SQLITE_ONLY
def test_the_network_checks_run_once_per_second_for_all_probes(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[str] = []
    monkeypatch.setattr(services.database, "ping", lambda: pings.append("database"))
    monkeypatch.setattr(services.secrets, "check", lambda: pings.append("secrets"))
    for _ in range(5):
        assert client.get("/health/ready").status_code == 200
    assert sorted(pings) == ["database", "secrets"]


def test_ready_when_every_dependency_answers(client: TestClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": ALL_OK}


def test_not_ready_when_the_secret_backend_is_down(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise SecretStoreUnavailableError("infisical unreachable")

    monkeypatch.setattr(services.secrets, "check", down)
    assert not_ready_because(client) == {"secrets": "secret_store_unavailable"}


def test_not_ready_when_the_database_is_down(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("refused"))

    monkeypatch.setattr(services.database, "ping", down)
    # The local secret store lives in the same database: it is down with it.
    assert not_ready_because(client) == {
        "database": "database_unavailable",
        "secrets": "secret_store_unavailable",
    }


@pytest.fixture
def dead_redis_client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    # Nothing listens there: every connection is refused at once.
    quotas = {"backend": "redis", "redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    settings = make_settings(tmp_path / "data", database_url, quotas=quotas)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_not_ready_when_the_quota_store_is_down(dead_redis_client: TestClient) -> None:
    assert not_ready_because(dead_redis_client) == {"quota_store": "quota_store_unavailable"}


def test_not_ready_while_the_usage_journal_cannot_write(client: TestClient) -> None:
    journal = runtime_of(client.app).serving.journal  # type: ignore[arg-type]
    disk = FaultyDisk()
    journal.disk = disk
    disk.fail(errno.ENOSPC)
    journal.finish("nobody", make_outcome())
    with pytest.raises(OSError, match="No space"):
        journal.flush()
    assert not_ready_because(client) == {"usage_journal": "usage_journal_unavailable"}
    disk.heal()
    journal.flush()
    assert client.get("/health/ready").status_code == 200


def test_not_ready_without_a_routing_table(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = runtime_of(client.app).serving.routing  # type: ignore[arg-type]
    monkeypatch.setattr(holder, "table", RoutingTable(version=-1))  # as before the first load
    assert not_ready_because(client) == {"routing_table": "routing_table_not_loaded"}


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    body = client.get("/admin/v1/nothing-here").json()
    assert body["error"]["code"] == "not_found"


def test_malformed_json_is_400_with_the_error_shape(client: TestClient) -> None:
    response = client.post(
        "/admin/v1/teams", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
