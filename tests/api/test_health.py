"""Liveness without auth; readiness reflects the store and the secret backend."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tollway.domain.services import Services
from tollway.errors import SecretStoreUnavailableError


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/health", headers={"Authorization": ""})
    assert response.json() == {"status": "ok"}


def test_ready_when_store_and_secrets_answer(client: TestClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "secrets": "ok"}}


def test_not_ready_when_the_secret_backend_is_down(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise SecretStoreUnavailableError("infisical unreachable")

    monkeypatch.setattr(services.secrets, "check", down)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["secrets"] == "secret_store_unavailable"


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    body = client.get("/admin/v1/nothing-here").json()
    assert body["error"]["code"] == "not_found"


def test_malformed_json_is_400_with_the_error_shape(client: TestClient) -> None:
    response = client.post(
        "/admin/v1/teams", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
