"""The Infisical outage policy on the data plane (issue 8 §6), with the real
``infisicalsdk`` against the fake Infisical and a clock the test moves.

A key read from Infisical is usable for ``max(CACHE_TTL, MAX_STALE)`` after its last
successful read; while Infisical answers, tollway re-reads keys as they age, so the
window never runs out; while it is down, the last good key keeps serving (also
across routing rebuilds) until the window ends, then requests get 503
``secret_store_unavailable`` with Retry-After. Failed reads are counted in
``tollway_secret_store_errors_total``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fakes.infisical import FakeInfisical
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import ADMIN_TOKEN, Tollway, tollway_settings
from tests.secrets.conftest import FakeClock
from tollway.app import create_app
from tollway.secrets import infisical as infisical_module

CACHE_TTL = 60.0
MAX_STALE = 120.0
SECRETS_PATH = "/api/v3/secrets/raw/"


@pytest.fixture
def infisical() -> Iterator[FakeInfisical]:
    fake = FakeInfisical()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def provider_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openai") as server:
        yield server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The Infisical store (and so every credential it leases) reads this clock."""
    fake = FakeClock()
    store = partial(infisical_module.InfisicalSecretStore, clock=fake, sleep=lambda _: None)
    monkeypatch.setattr(infisical_module, "InfisicalSecretStore", store)
    return fake


@pytest.fixture
def client(tmp_path: Path, infisical: FakeInfisical, clock: FakeClock) -> Iterator[TestClient]:
    secrets = {
        "backend": "infisical",
        "infisical": {
            "host": infisical.url,
            "client_id": infisical.client_id,
            "client_secret": infisical.client_secret,
            "project_id": infisical.project_id,
            "environment": infisical.environment,
            "timeout_seconds": 0.3,
            "max_attempts": 2,
            "cache_ttl_seconds": CACHE_TTL,
            "max_stale_seconds": MAX_STALE,
        },
    }
    settings = tollway_settings(tmp_path / "data", secrets=secrets)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield test_client


def _admin(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/admin/v1{path}", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _chat(client: TestClient, key: str, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    headers = {"Authorization": f"Bearer {key}"}
    return client.post("/v1/chat/completions", json=body, headers=headers)


def _models(client: TestClient, key: str) -> list[str]:
    response = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    if response.status_code != 200:  # the key is not in the routing table yet
        return []
    return [model["id"] for model in response.json()["data"]]


def _eventually(condition: Callable[[], bool]) -> bool:
    try:
        Tollway.wait_until(condition, timeout=5)
    except AssertionError:
        return False
    return True


def _secret_reads(infisical: FakeInfisical) -> int:
    return infisical.count("GET", SECRETS_PATH)


def _setup(client: TestClient, provider_server: FakeProviderServer) -> tuple[str, str, Any]:
    """A model served with a key kept in Infisical, a mock provider, a tollway key."""
    api_key = f"sk-outage-{uuid.uuid4().hex}"
    provider_server.set_key(api_key, Behaviour.ok())
    provider = _admin(
        client,
        "/providers",
        {
            "name": "upstream",
            "type": "openai_compatible",
            "api_key": api_key,
            "base_url": provider_server.base_url,
        },
    )
    body = {"provider_id": provider["id"], "model_id": "m", "name": "kept"}
    _admin(client, "/models?skip_catalog_check=true", body)
    mock = _admin(client, "/providers", {"name": "spare", "type": "mock"})
    key = _admin(client, "/keys", {"name": "agent"})["key"]
    assert _eventually(lambda: "kept" in _models(client, key))
    return key, api_key, mock


def test_keys_serve_through_an_outage_until_the_stale_window_ends(
    client: TestClient, infisical: FakeInfisical, clock: FakeClock, provider_server: Any
) -> None:
    key, api_key, mock = _setup(client, provider_server)
    assert _chat(client, key, "kept").status_code == 200

    # Infisical up: as the key ages past its TTL it is read again, so its window
    # counts from that read and not from the table's build.
    reads = _secret_reads(infisical)
    clock.advance(CACHE_TTL + 40)
    _eventually(lambda: _secret_reads(infisical) > reads)
    clock.advance(CACHE_TTL + 40)  # 200 s after the build, 100 s after the last read

    # Infisical down, and an admin change rebuilds the routing table: the key is
    # within its window, so the model keeps serving (no 404).
    infisical.inject("server_error", times=10_000)
    _admin(client, "/models", {"provider_id": mock["id"], "model_id": "x", "name": "spare"})
    assert _eventually(lambda: "spare" in _models(client, key))
    kept = _chat(client, key, "kept")
    assert kept.status_code == 200, kept.text
    assert "kept" in _models(client, key)

    # Past the window: the key is not used any more, though the table still holds it.
    used = len(provider_server.requests_with_key(api_key))
    clock.advance(MAX_STALE)
    refused = _chat(client, key, "kept")
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("service_unavailable", "secret_store_unavailable")
    assert int(refused.headers["Retry-After"]) > 0
    assert api_key not in refused.text
    assert len(provider_server.requests_with_key(api_key)) == used

    # The failed reads are counted by whichever read met the outage first: the
    # rebuild's, or the renewal thread's as the key ages (it runs on its own clock).
    counted = 'tollway_secret_store_errors_total{backend="infisical",operation="get"}'
    assert _eventually(lambda: counted in client.get("/metrics").text)
