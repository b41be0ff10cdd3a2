"""The console over a real app (TestClient, SQLite), anonymous or signed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tollway.app import create_app, runtime_of
from tollway.domain.services import Services
from tollway.settings import Settings

# Every page in the navigation, by its path under /console.
NAV_PATHS = [
    "/console/",
    "/console/providers",
    "/console/models",
    "/console/teams",
    "/console/limits",
    "/console/prices",
    "/console/usage",
    "/console/audit",
]
# Every page a signed-in operator can open, the navigation's and the others.
PAGE_PATHS = [*NAV_PATHS, "/console/provider-keys", "/console/catalog"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Settings:
    return make_settings(tmp_path / "data", migrated_sqlite(tmp_path / "tollway.db"))


def console_client(settings: Settings, **kwargs: Any) -> TestClient:
    return TestClient(
        create_app(settings), raise_server_exceptions=False, follow_redirects=False, **kwargs
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with console_client(settings) as test_client:
        yield test_client


@pytest.fixture
def signed_in(client: TestClient) -> TestClient:
    response = sign_in(client)
    assert response.status_code == 303, response.text
    return client


def services_of(client: TestClient) -> Services:
    return runtime_of(client.app).services  # type: ignore[arg-type]


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token field on the page"
    return match[1]


def sign_in(
    client: TestClient, token: str = ADMIN_TOKEN, next_path: str = "", prefix: str = ""
) -> httpx.Response:
    """Open the sign-in form, then post ``token`` with the form's CSRF token."""
    form = client.get(f"{prefix}/console/login")
    assert form.status_code == 200, form.text
    data = {"token": token, "csrf_token": csrf_of(form.text), "next": next_path}
    return client.post(f"{prefix}/console/login", data=data)


def page_csrf(client: TestClient, path: str = "/console/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)
