"""The whole control plane on the Infisical backend: the real SDK against the fake.

Keys go to Infisical under /tollway/<team or shared>, rotation makes a new version
there, and when Infisical is down with nothing cached, reads fail closed with 503.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN, create_provider, error_of, ok
from tests.fakes.infisical import FakeInfisical
from tollway.app import create_app
from tollway.settings import Settings


@pytest.fixture
def infisical() -> Iterator[FakeInfisical]:
    fake = FakeInfisical()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def client(tmp_path: Path, infisical: FakeInfisical) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
        secrets={  # type: ignore[arg-type]
            "backend": "infisical",
            "infisical": {
                "host": infisical.url,
                "client_id": infisical.client_id,
                "client_secret": infisical.client_secret,
                "project_id": infisical.project_id,
                "environment": infisical.environment,
                "timeout_seconds": 0.3,
                "max_attempts": 2,
                "cache_ttl_seconds": 0,
            },
        },
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield test_client


def test_keys_live_in_infisical_with_versions(client: TestClient, infisical: FakeInfisical) -> None:
    team = ok(client.post("/admin/v1/teams", json={"name": "ml"}), 201)
    provider = create_provider(client, api_key="sk-infisical-one-0001", team_id=team["id"])
    key = provider["keys"][0]
    assert key["secret_backend"] == "infisical"
    name = f"PROVIDER_KEY_{uuid.UUID(key['id']).hex.upper()}"
    folder = f"/tollway/{uuid.UUID(team['id']).hex}"
    assert infisical.versions(folder, name) == ["sk-infisical-one-0001"]
    url = f"/admin/v1/providers/{provider['id']}/keys/{key['id']}/rotate"
    rotated = ok(client.post(url, json={"api_key": "sk-infisical-two-0002"}))
    assert rotated["secret_version"] == 2
    assert infisical.versions(folder, name) == ["sk-infisical-one-0001", "sk-infisical-two-0002"]


def test_reads_fail_closed_when_infisical_is_down(
    client: TestClient, infisical: FakeInfisical
) -> None:
    provider = create_provider(client, api_key="sk-infisical-three-03")
    infisical.inject("server_error", times=100)
    response = client.post(f"/admin/v1/providers/{provider['id']}/test")
    error = error_of(response, 503)
    assert error["code"] == "secret_store_unavailable"
    assert response.headers["Retry-After"]
    assert "sk-infisical-three-03" not in response.text
    ready = client.get("/health/ready")
    assert ready.status_code == 503
