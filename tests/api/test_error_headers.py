"""The admin dialect sends an error's own headers, whatever its class, in the same
``{"error": {"code", "message", "details"}}`` shape."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tollway.api.errors import install_error_handlers
from tollway.errors import (
    DatabaseUnavailableError,
    NotFoundError,
    SecretStoreUnavailableError,
    TollwayError,
)
from tollway.quotas.counters import QuotaStoreRebuildingError

RAISED: dict[str, TollwayError] = {
    "database": DatabaseUnavailableError(),
    "secrets": SecretStoreUnavailableError("the secret store is down", retry_after=7),
    "quotas": QuotaStoreRebuildingError("the counters are being rebuilt"),
    "plain": NotFoundError.for_id("team", "t1"),
}


def _client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    def raise_it(name: str) -> None:
        raise RAISED[name]

    return TestClient(app, raise_server_exceptions=False)


def test_retry_after_comes_from_the_errors_headers() -> None:
    client = _client()
    expected = {"database": "5", "secrets": "7", "quotas": "1"}
    for name, retry_after in expected.items():
        response = client.get(f"/raise/{name}")
        assert (response.status_code, response.headers["retry-after"]) == (503, retry_after)
        error = RAISED[name]
        assert response.json() == {
            "error": {"code": error.code, "message": error.message, "details": None}
        }


def test_an_error_without_headers_sends_none() -> None:
    response = _client().get("/raise/plain")
    assert response.status_code == 404
    assert "retry-after" not in response.headers
    assert response.json()["error"]["code"] == "not_found"
