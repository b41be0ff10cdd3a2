"""Errors on console pages are pages: a domain error shows its message and status,
anything else a 500 page that says nothing of the cause; never the admin API's JSON."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from tests.console.conftest import sign_in
from tollway.app import create_app
from tollway.console.context import SignedIn
from tollway.errors import ConflictError
from tollway.settings import Settings


def _console(app: FastAPI) -> FastAPI:
    [mount] = [r for r in app.routes if isinstance(r, Mount) and r.name == "console"]
    assert isinstance(mount.app, FastAPI)
    return mount.app


@pytest.fixture
def failing(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    console = _console(app)

    def conflict(console: SignedIn) -> None:
        raise ConflictError("a provider named 'p' already exists")

    def broken(console: SignedIn) -> None:
        raise RuntimeError("sk-internal-detail")

    console.add_api_route("/test-conflict", conflict, methods=["GET"])
    console.add_api_route("/test-broken", broken, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        sign_in(client)
        yield client


def test_a_domain_error_is_a_page_with_its_message(failing: TestClient) -> None:
    response = failing.get("/console/test-conflict")
    assert response.status_code == 409
    assert "text/html" in response.headers["content-type"]
    assert "a provider named &#39;p&#39; already exists" in response.text
    assert response.headers["x-frame-options"] == "DENY"


def test_an_unexpected_error_is_a_500_page_without_its_text(failing: TestClient) -> None:
    response = failing.get("/console/test-broken")
    assert response.status_code == 500
    assert "text/html" in response.headers["content-type"]
    assert "sk-internal-detail" not in response.text
    assert "server log" in response.text


def test_a_bad_query_is_a_422_page(failing: TestClient) -> None:
    response = failing.post("/console/login", data={"token": "x" * 5000, "csrf_token": "y"})
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert "x" * 100 not in response.text
