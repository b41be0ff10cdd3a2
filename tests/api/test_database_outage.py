"""The database goes away under a running server: admin calls answer 503
``database_unavailable`` in the admin error shape (not a 500, not a dropped
connection), readiness says so, and /v1 keeps serving from the routing table in
memory, its usage journaled until the database is back. Both come back by
themselves with the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.api.conftest import ADMIN_TOKEN, error_of, make_settings, ok
from tests.conftest import POSTGRES_ADMIN_URL
from tollway.app import create_app, runtime_of
from tollway.store import migrate
from tollway.store.db import Database, normalize_url

ADMIN_READS = ["/admin/v1/providers", "/admin/v1/teams", "/admin/v1/keys", "/admin/v1/audit"]


def serve_mock_model(client: TestClient) -> str:
    """A mock model and a key for it, visible to /v1 once the routing table has it."""
    provider = ok(client.post("/admin/v1/providers", json={"name": "m", "type": "mock"}), 201)
    body = {"provider_id": provider["id"], "model_id": "mock-echo", "name": "mock-echo"}
    ok(client.post("/admin/v1/models", json=body), 201)
    key: str = ok(client.post("/admin/v1/keys", json={"name": "agent"}), 201)["key"]
    wait_for(lambda: chat(client, key).status_code == 200)
    return key


def chat(client: TestClient, key: str) -> httpx.Response:
    body = {"model": "mock-echo", "messages": [{"role": "user", "content": "still there?"}]}
    return client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def assert_database_unavailable(client: TestClient) -> None:
    for path in ADMIN_READS:
        error = error_of(client.get(path), 503)
        assert error["code"] == "database_unavailable", path
    response = client.post("/admin/v1/teams", json={"name": "late"})
    assert error_of(response, 503)["code"] == "database_unavailable"
    assert int(response.headers["retry-after"]) >= 1
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "database_unavailable"


@pytest.mark.postgres
def test_admin_answers_503_while_postgresql_is_gone(
    tmp_path: Path, postgres_server: Callable[[], str]
) -> None:
    url = postgres_server()
    name = make_url(url).database
    settings = make_settings(tmp_path / "data", url, routing={"refresh_interval_seconds": 0.1})
    admin = create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
            key = serve_mock_model(client)
            with admin.connect() as connection:
                # Every session of the server is cut, and reconnecting finds nothing.
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))

            assert_database_unavailable(client)
            # The data plane needs no database: served from memory, usage journaled.
            assert [chat(client, key).status_code for _ in range(3)] == [200] * 3

            with admin.connect() as connection:  # back, empty, the schema restored
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            database = Database(url)
            migrate.upgrade(database)
            database.dispose()
            wait_for(lambda: client.get("/admin/v1/teams").status_code == 200)
    finally:
        admin.dispose()


def test_admin_answers_503_while_the_sqlite_file_is_gone(tmp_path: Path) -> None:
    sqlite_dir = tmp_path / "db"
    sqlite_dir.mkdir()
    url = f"sqlite:///{sqlite_dir / 'tollway.db'}"
    settings = make_settings(tmp_path / "data", url, routing={"refresh_interval_seconds": 0.1})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        key = serve_mock_model(client)
        services = runtime_of(client.app).services  # type: ignore[arg-type]
        # The volume holding the file goes away: new connections cannot open it (a
        # connection SQLite already holds would keep the old file, so drop them).
        moved = sqlite_dir.rename(tmp_path / "db.away")
        services.database.engine.dispose()

        assert_database_unavailable(client)
        assert chat(client, key).status_code == 200

        moved.rename(sqlite_dir)  # back: everything answers again
        assert client.get("/admin/v1/providers").status_code == 200
        wait_for(lambda: client.get("/health/ready").status_code == 200)
