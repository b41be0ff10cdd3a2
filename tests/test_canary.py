"""Canary provider keys never leave the secret store in plaintext.

Unique canaries go in through every path that takes a key (create, add, rotate,
update, settings import, validation against a provider that rejects them, bad
requests that carry them) with every logger at DEBUG, SQL echo included. Then no
response, log record, exception text or SQL column may contain one.

Then upstreams that echo every credential they receive (raw, URL-encoded, base64
at every alignment, JSON-escaped) in their error bodies, on the inference path,
on the fallback to OpenRouter and in key tests: no form of any canary may reach
an agent's error body, a log line, an audit entry or a database row.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import SQLModel

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.fakes.providers import Behaviour, FakeProviderServer
from tollway.app import create_app, runtime_of
from tollway.console.pages import PAGE_MODULES
from tollway.domain.services import Services


def canary(label: str) -> str:
    return f"sk-canary-{label}-{uuid.uuid4().hex}"


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openai") as server:
        yield server


class Recorder:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.bodies: list[str] = []
        self.tollway_key = ""  # one made for the console's pages

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.request(method, url, **kwargs)
        self.bodies.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response.json() if response.content else None


def exercise(api: Recorder, fake: FakeProviderServer, canaries: list[str]) -> None:
    def key(label: str) -> str:
        value = canary(label)
        canaries.append(value)
        return value

    rejected = key("rejected")
    fake.set_key(rejected, Behaviour.rejected())
    team = api.call("POST", "/admin/v1/teams", json={"name": "t"})
    provider = api.call(
        "POST",
        "/admin/v1/providers?validate=true",
        json={
            "name": "p",
            "type": "openai_compatible",
            "api_key": rejected,
            "base_url": fake.base_url,
        },
    )
    pid = provider["id"]
    added = api.call(
        "POST",
        f"/admin/v1/providers/{pid}/keys",
        json={"api_key": key("team"), "team_id": team["id"]},
    )
    api.call(
        "POST", f"/admin/v1/providers/{pid}/keys/{added['id']}/rotate", json={"api_key": key("rot")}
    )
    api.call("PATCH", f"/admin/v1/providers/{pid}", json={"api_key": key("patch")})
    api.call("POST", f"/admin/v1/providers/{pid}/test")
    for kind in ("anthropic", "gemini", "cohere", "mistral", "groq", "together_ai", "openrouter"):
        api.call(
            "POST", "/admin/v1/providers", json={"name": kind, "type": kind, "api_key": key(kind)}
        )
    _bad_requests(api, key, pid, added["id"])
    api.call("POST", "/admin/v1/settings/import", json=_document(key("import")))
    for url in ("/admin/v1/providers", "/admin/v1/audit?limit=500", "/admin/v1/settings/export"):
        api.call("GET", url)
    api.call("GET", f"/admin/v1/providers/{pid}/keys")


def _bad_requests(api: Recorder, key: Any, provider_id: str, key_id: str) -> None:
    missing = uuid.uuid4()
    api.call(
        "POST", "/admin/v1/providers", json={"name": "x", "type": "bogus", "api_key": key("t")}
    )
    api.call(
        "POST", "/admin/v1/providers", json={"name": "x", "type": "openai", "api_key": [key("l")]}
    )
    api.call("POST", "/admin/v1/providers", json={"name": key("name") * 10, "type": "mock"})
    api.call(
        "POST", "/admin/v1/providers", json={"name": "x", "type": "openai", "apikey": key("typo")}
    )
    api.call("POST", f"/admin/v1/providers/{missing}/keys", json={"api_key": key("404")})
    api.call(
        "POST",
        f"/admin/v1/providers/{provider_id}/keys/{missing}/rotate",
        json={"api_key": key("r")},
    )
    api.call(
        "POST",
        f"/admin/v1/providers/{provider_id}/keys/{key_id}/rotate",
        json={"api_key": key("x") + "\n\x00"},
    )
    api.call("POST", "/admin/v1/settings/import", json=_document(key("bad"), provider_type="nope"))
    api.call(
        "POST",
        "/admin/v1/providers",
        content=f'{{"api_key": "{key("json")}", ',
        headers={"Content-Type": "application/json"},
    )


def _document(api_key: str, provider_type: str = "openai") -> dict[str, Any]:
    provider_id = str(uuid.uuid4())
    return {
        "version": 1,
        "providers": [
            {
                "id": provider_id,
                "name": "i",
                "type": provider_type,
                "credentials": {"apiKey": api_key},
            }
        ],
        "catalog": [{"id": str(uuid.uuid4()), "providerId": provider_id, "modelId": "m"}],
    }


def dump_database(services: Services) -> list[Any]:
    values: list[Any] = []
    with services.database.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):
                values.extend(row)
    return values


def contains(value: Any, secret: str) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return secret.encode() in bytes(value)
    return secret in str(value)


def test_canaries_never_leak(
    tmp_path: Path, database_url: str, fake: FakeProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # restored after the test
    canaries: list[str] = []
    settings = make_settings(tmp_path / "data", database_url, log_level="DEBUG")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        api = Recorder(client)
        exercise(api, fake, canaries)
        console_html = console_pages(client, api)
        services = runtime_of(client.app).services  # type: ignore[arg-type]
        rows = dump_database(services)
    assert len(canaries) >= 15
    assert any(isinstance(v, bytes) for v in rows), "the local store should hold ciphertext"
    logs = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert any("INSERT INTO local_secrets" in line for line in logs), "SQL echo was captured"
    for secret in canaries:
        assert not any(secret in body for body in api.bodies), secret
        assert not any(secret in line for line in logs), secret
        assert not any(contains(value, secret) for value in rows), secret
    shown_once = api.tollway_key
    assert len(console_html) >= 10
    for secret in [*canaries, ADMIN_TOKEN, shown_once]:
        assert not any(secret in html for html in console_html), secret


# -- the operator console's pages ------------------------------------------------------

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_pages(client: TestClient, api: Recorder) -> list[str]:
    """Every console page a signed-in operator can open (the ones with an id in
    their path for the ids ``exercise`` made), as HTML; sign-in and sign-out too."""
    # A team's key, so the team's key pages (the revoke confirmation) are opened too.
    team = client.get("/admin/v1/teams").json()[0]["id"]
    created = client.post("/admin/v1/keys", json={"name": "agent", "team_id": team}).json()
    api.tollway_key = created["key"]
    # And a key without a team, for its own pages (its revoke confirmation).
    loose = client.post("/admin/v1/keys", json={"name": "loose-agent"}).json()
    pages = [client.get("/console/login").text]
    for secret in ("twadmin-wrong", ADMIN_TOKEN):  # the wrong one's answer, then in
        token = _CSRF_FIELD.search(pages[-1])
        assert token is not None
        answer = client.post(
            "/console/login", data={"token": secret, "csrf_token": token[1]}, follow_redirects=True
        )
        pages.append(answer.text)
    ids = _known_ids(client)
    # Else the pages of a model or a key (edit, delete confirmations…) go unopened.
    assert {"provider_id", "key_id", "model_id", "team_id", "tollway_key_id"} <= ids.keys(), ids
    teamless = [
        path for path in _console_get_paths({"tollway_key_id": loose["id"]}) if loose["id"] in path
    ]
    assert teamless, "no console page of a key without a team was opened"
    for path in [*_console_get_paths(ids), *teamless]:
        if path.startswith("/console/keys/no-team/") and loose["id"] not in path:
            continue  # the team's key is not one of these pages'
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert loose["key"] not in page.text
        pages.append(page.text)
    csrf = _CSRF_FIELD.search(pages[-1])  # any signed-in page carries the session's token
    assert csrf is not None
    pages.append(client.post("/console/logout", data={"csrf_token": csrf[1]}).text)
    return pages


def _known_ids(client: TestClient) -> dict[str, str]:
    providers = client.get("/admin/v1/providers").json()
    provider = providers[0]["id"]
    keys = client.get(f"/admin/v1/providers/{provider}/keys").json()
    teams = client.get("/admin/v1/teams").json()
    tollway_keys = client.get("/admin/v1/keys").json()
    models = client.get("/admin/v1/models").json()
    ids = {"provider_id": provider}
    if keys:
        ids["key_id"] = ids["provider_key_id"] = keys[0]["id"]
    if teams:
        ids["team_id"] = teams[0]["id"]
    if tollway_keys:
        ids["tollway_key_id"] = tollway_keys[0]["id"]
    if models:
        ids["model_id"] = models[0]["id"]
    return ids


def _console_get_paths(ids: dict[str, str]) -> list[str]:
    """The console pages' GET routes, with the ids it knows filled in (others
    skipped); home last."""
    paths = []
    for module in PAGE_MODULES:
        for route in module.router.routes:
            if not isinstance(route, APIRoute) or "GET" not in route.methods:
                continue
            try:
                paths.append(route.path.format(**ids))
            except KeyError:
                continue
    paths.sort(key=lambda path: path == "/")
    return [f"/console{path}" for path in paths]
