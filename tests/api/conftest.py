"""An admin API client over a real app, on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tollway.app import create_app, runtime_of
from tollway.domain.services import Services
from tollway.settings import Settings

ADMIN_TOKEN = "twadmin-test-token-0123456789"


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with admin_client(settings) as test_client:
        yield test_client


def admin_client(settings: Settings) -> TestClient:
    test_client = TestClient(create_app(settings), raise_server_exceptions=False)
    test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    return test_client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> TestClient:
    """``client``'s app, built once per module and backend (``_shared_apps``), for
    tests that only read their own answers: refusals, and writes checked in their
    response or read back by their own ids. Building and starting an app costs
    seconds of CPU on the loaded 2-core machine, a request milliseconds. A test that
    lists, counts or reads what another test may have written takes ``client``."""
    apps: dict[str, TestClient] = request.getfixturevalue("_shared_apps")
    if request.param not in apps:
        data_dir = tmp_path_factory.mktemp(f"shared-api-{request.param}")
        if request.param == "sqlite":
            shutil.copyfile(request.getfixturevalue("sqlite_template"), data_dir / "tollway.db")
            url = f"sqlite:///{data_dir / 'tollway.db'}"
        else:
            url = request.getfixturevalue("shared_database_url")
        overrides: dict[str, Any] = request.getfixturevalue("shared_overrides")
        settings = make_settings(data_dir / "data", url, **overrides)
        apps[request.param] = admin_client(settings).__enter__()
    return apps[request.param]


@pytest.fixture(scope="module")
def shared_overrides() -> dict[str, Any]:
    """Settings of ``shared_client``'s apps beyond ``make_settings``; a module may
    override this fixture."""
    return {}


@pytest.fixture(scope="module")
def _shared_apps() -> Iterator[dict[str, TestClient]]:
    """The module's shared apps by backend, stopped when the module is done, last
    started first: a running app's log scrubbing is a process-wide record factory
    wrapping the one before it, and only a stop in reverse order puts each back."""
    apps: dict[str, TestClient] = {}
    yield apps
    for test_client in reversed(apps.values()):
        test_client.__exit__(None, None, None)


@pytest.fixture
def services(client: TestClient) -> Services:
    return runtime_of(client.app).services  # type: ignore[arg-type]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"]), body
    error: dict[str, Any] = body["error"]
    return error


def create_provider(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "OpenAI", "type": "openai", "api_key": "sk-test-0000000000abcd", **fields}
    result: dict[str, Any] = ok(client.post("/admin/v1/providers", json=body), 201)
    return result


# A create's answer beyond the model itself (what the catalog check said).
WRITE_ONLY = frozenset({"catalog_check", "metadata_sources"})
UNCHECKED = {"skip_catalog_check": "true"}


def create_model(client: TestClient, provider_id: str, **fields: Any) -> dict[str, Any]:
    """The model as reads show it. Unchecked: tests' providers are not listed (the
    catalog check has its own tests, tests/api/test_model_catalog.py)."""
    body = {"provider_id": provider_id, "model_id": "gpt-4o-mini", "name": "gpt-4o-mini", **fields}
    created = ok(client.post("/admin/v1/models", json=body, params=UNCHECKED), 201)
    return {k: v for k, v in created.items() if k not in WRITE_ONLY}
