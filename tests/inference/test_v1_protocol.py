"""/v1 speaks OpenAI's error shape for unknown paths and methods too, and a client
that goes away while sending its body is neither a 5xx nor an ERROR log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tollway.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("v1-protocol")
    settings = make_settings(
        data_dir,
        f"sqlite:///{data_dir / 'tollway.db'}",
        routing={"refresh_interval_seconds": 0.1},
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def key(client: TestClient) -> str:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    created = client.post("/admin/v1/keys", json={"name": "agent"}, headers=admin)
    token: str = created.json()["key"]
    deadline = time.monotonic() + 10
    while client.get("/v1/models", headers=bearer(token)).status_code != 200:
        assert time.monotonic() < deadline, "the key never reached the data plane"
        time.sleep(0.05)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def openai_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    "path", ["/v1/nope", "/v1/chat/completion", "/v1/engines/x/completions", "/v1/models-x"]
)
def test_unknown_paths_are_openai_shaped_404s(client: TestClient, key: str, path: str) -> None:
    error = openai_error(client.post(path, json={}, headers=bearer(key)), 404)
    assert (error["type"], error["code"]) == ("invalid_request_error", "unknown_url")
    assert path in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("POST", "/v1/x%0Ay", "unknown_url"), ("GET", "/v1/models/x%0A%1By", "model_not_found")],
)
def test_paths_with_control_characters_stay_in_the_openai_dialect(
    client: TestClient, key: str, method: str, path: str, code: str
) -> None:
    error = openai_error(client.request(method, path, headers=bearer(key)), 404)
    assert error["code"] == code


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/chat/completions", "POST"),
        ("PUT", "/v1/completions", "POST"),
        ("DELETE", "/v1/models", "GET"),
        ("POST", "/v1/models/gpt-x", "GET"),
    ],
)
def test_wrong_methods_are_openai_shaped_405s(
    client: TestClient, key: str, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, headers=bearer(key))
    error = openai_error(response, 405)
    assert (error["type"], error["code"]) == ("invalid_request_error", "method_not_allowed")
    assert allowed in response.headers["allow"]


def test_a_client_gone_during_the_body_read_is_no_error(
    client: TestClient, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A raw ASGI call whose ``receive`` reports the disconnect mid-body, as uvicorn does."""
    incoming: list[Message] = [
        {"type": "http.request", "body": b'{"model": "x", "mess', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"4096"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    caplog.set_level(logging.DEBUG)

    async def call() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    client.portal.call(call)  # type: ignore[union-attr]
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert all(start["status"] < 500 for start in starts), starts
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
