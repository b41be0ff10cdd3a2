"""Tollway keys: shown once, stored as a digest, revocable, expirable, scoped."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.api.conftest import error_of, ok
from tollway.domain.services import Services


def test_create_shows_the_key_once(client: TestClient, services: Services) -> None:
    team = ok(client.post("/admin/v1/teams", json={"name": "agents"}), 201)
    created = ok(
        client.post(
            "/admin/v1/keys",
            json={"name": "bot", "team_id": team["id"], "allowed_models": ["a", "b", "a"]},
        ),
        201,
    )
    key = created["key"]
    assert key.startswith("tw-")
    assert len(key) >= 3 + 43  # 256 random bits, base64url
    assert created["prefix"] == key[:10]
    assert created["allowed_models"] == ["a", "b"]
    listed = client.get("/admin/v1/keys")
    assert key not in listed.text
    assert "key" not in ok(listed)[0]
    with services.database.engine.connect() as connection:
        stored = connection.execute(text("SELECT key_hash FROM tollway_keys")).scalar_one()
    assert stored == hashlib.sha256(key.encode()).hexdigest()


def test_revoke_and_expire(shared_client: TestClient) -> None:
    created = ok(shared_client.post("/admin/v1/keys", json={"name": "k"}), 201)
    url = f"/admin/v1/keys/{created['id']}"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = ok(shared_client.patch(url, json={"expires_at": past}))
    assert expired["expires_at"] is not None
    revoked = ok(shared_client.post(f"{url}/revoke"))
    assert revoked["revoked_at"] is not None
    assert error_of(shared_client.post(f"{url}/revoke"), 409)["code"] == "conflict"
    ok(shared_client.delete(url), 204)
    error_of(shared_client.get(url), 404)


def test_invalid_keys_requests(shared_client: TestClient) -> None:
    error_of(shared_client.post("/admin/v1/keys", json={}), 422)
    error_of(
        shared_client.post("/admin/v1/keys", json={"name": "k", "team_id": str(uuid.uuid4())}), 404
    )
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    error_of(shared_client.post("/admin/v1/keys", json={"name": "k", "expires_at": past}), 422)
    naive = datetime.now().replace(tzinfo=None).isoformat()
    error_of(shared_client.post("/admin/v1/keys", json={"name": "k", "expires_at": naive}), 422)
    error_of(shared_client.post("/admin/v1/keys", json={"name": "k", "allowed_models": [""]}), 422)


def test_team_with_keys_cannot_be_deleted(client: TestClient) -> None:
    team = ok(client.post("/admin/v1/teams", json={"name": "t"}), 201)
    ok(client.post("/admin/v1/keys", json={"name": "k", "team_id": team["id"]}), 201)
    error = error_of(client.delete(f"/admin/v1/teams/{team['id']}"), 409)
    assert "tollway key" in error["message"]


def test_limits_on_a_tollway_key(client: TestClient) -> None:
    created = ok(client.post("/admin/v1/keys", json={"name": "k"}), 201)
    body = {"scope": "tollway_key", "scope_id": created["id"], "requests_per_minute": 10}
    ok(client.post("/admin/v1/limits", json=body), 201)
