"""An in-process tollway (``TestClient``) serving one mock model, for tests that need
the data plane but no network."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient


def serve_mock_model(client: TestClient, admin_token: str, name: str = "echo") -> str:
    """Create a mock provider serving ``name``; returns a tollway key once it is routable."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    provider = client.post(
        "/admin/v1/providers", json={"name": "m", "type": "mock"}, headers=admin
    ).json()
    body = {"provider_id": provider["id"], "model_id": name, "name": name}
    assert client.post("/admin/v1/models", json=body, headers=admin).status_code == 201
    key: str = client.post("/admin/v1/keys", json={"name": "a"}, headers=admin).json()["key"]
    deadline = time.monotonic() + 10
    while name not in _models(client, key):
        assert time.monotonic() < deadline, "the model never reached the routing table"
        time.sleep(0.05)
    return key


def _models(client: TestClient, key: str) -> list[Any]:
    response = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    return [m["id"] for m in response.json().get("data", [])]
