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
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import SQLModel

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour, stop_all
from tests.fakes.providers.wire import credential_encodings
from tests.inference.conftest import ADMIN_TOKEN as ADMIN_TOKEN_INFERENCE
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tollway.app import create_app, runtime_of
from tollway.domain.services import Services
from tollway.engine.litellm_env import load_litellm
from tollway.store.db import Database


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


# -- upstreams that echo every credential they receive ---------------------------------


def echo_canary(label: str) -> str:
    """A canary with characters that URL-encoding, base64 and JSON escaping all change."""
    return f'sk-canary-{label}-{uuid.uuid4().hex[:12]}/+={uuid.uuid4().hex[:12]}"x'


def leak_forms(secret: str) -> list[str]:
    """``secret`` raw and the middle of each encoded form an upstream may echo (the
    edges of a base64 form depend on the bytes around the secret)."""
    return [secret, *(form[6:-6] for form in credential_encodings(secret))]


@dataclass
class EchoWorld:
    """Fake upstreams echoing credentials back, and what tollway did with them."""

    primary: FakeProviderServer
    anthropic: FakeProviderServer
    openrouter: FakeProviderServer
    secrets: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    def secret(self, label: str) -> str:
        value = echo_canary(label)
        self.secrets.append(value)
        return value


@pytest.fixture
def echo_world() -> Iterator[EchoWorld]:
    primary, anthropic = FakeProviderServer("openai"), FakeProviderServer("anthropic")
    openrouter = FakeProviderServer("openrouter")
    servers = [primary, anthropic, openrouter]
    for server in servers:
        server.start()
    try:
        yield EchoWorld(primary, anthropic, openrouter)
    finally:
        stop_all(servers)


def _echoing_setup(tollway: Tollway, world: EchoWorld) -> str:
    """Providers whose every answer echoes the credentials; returns an agent's key."""
    echo, html = ModelBehaviour.echoing_credentials, ModelBehaviour.non_json
    openrouter_key = world.secret("openrouter")
    world.openrouter.set_key(openrouter_key, Behaviour.ok())
    tollway.provider("openrouter", api_key=openrouter_key, base_url=world.openrouter.base_url)
    scripts = {"c500": echo(500), "c401": echo(401), "chtml": html(502, "<p>internal</p>")}
    for model, behaviour in scripts.items():
        world.primary.script_model(model, behaviour)
        world.openrouter.script_model(f"vendor/{model}", behaviour)
    for model in ("c500", "chtml"):
        _echo_provider(tollway, world, world.primary, "openai_compatible", model)
    _echo_provider(tollway, world, world.anthropic, "anthropic", "c400")
    world.anthropic.script_model("c400", echo(400))
    # Last: the rejected key is quarantined once the provider refuses it, and marked
    # invalid when its re-test, which echoes the key as well, is refused too.
    rejected = _echo_provider(tollway, world, world.primary, "openai_compatible", "c401")
    agent = tollway.key()
    tollway.wait_for_model(agent, "c401")
    world.primary.set_key(rejected, Behaviour.echoing_credentials(401))
    return agent


def _echo_provider(
    tollway: Tollway, world: EchoWorld, fake: FakeProviderServer, kind: str, model: str
) -> str:
    """A provider serving ``model`` with a key of its own; returns that key."""
    key = world.secret(model)
    fake.set_key(key, Behaviour.ok())
    provider = tollway.provider(kind, name=model, api_key=key, base_url=fake.base_url)
    tollway.model(provider, model, openrouter_model_id=f"vendor/{model}")
    return key


def _agent_calls(tollway: Tollway, world: EchoWorld, agent: str) -> None:
    client = openai.OpenAI(base_url=tollway.v1, api_key=agent, max_retries=0)
    for model, stream in [("c500", False), ("c500", True), ("c400", False), ("chtml", False)]:
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}], stream=stream
            )
        world.bodies.append(f"{info.value.status_code} {info.value.response.text}")
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="c401", messages=[{"role": "user", "content": "x"}])
    world.bodies.append(info.value.response.text)


def _key_check(tollway: Tollway, world: EchoWorld) -> None:
    """A key test against a provider that echoes the key it is shown."""
    key = world.secret("check")
    world.primary.set_key(key, Behaviour.echoing_credentials(401))
    provider = tollway.provider(
        "openai_compatible", name="check", api_key=key, base_url=world.primary.base_url
    )
    response = tollway.admin.post(f"/admin/v1/providers/{provider['id']}/test")
    world.bodies.append(response.text)


def test_echoed_credentials_never_leak(
    tmp_path: Path,
    database_url: str,
    echo_world: EchoWorld,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # restored after the test
    printed = logging.StreamHandler(sys.stderr)  # the server's stderr, as `serve` logs
    printed.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(printed)
    # A key the provider rejects is re-tested after its quarantine: soon, here, so the
    # re-test's rejection (echoing the key too) reaches the store within the test.
    settings = tollway_settings(
        tmp_path / "data", database_url=database_url, routing={"key_quarantine_seconds": 0.2}
    )
    load_litellm()  # the import (seconds) before the live server's start deadline
    try:
        with live_tollway(settings) as tollway:
            world = echo_world
            agent = _echoing_setup(tollway, world)
            world.secrets += [agent, ADMIN_TOKEN_INFERENCE]
            _agent_calls(tollway, world, agent)
            _key_check(tollway, world)
            tollway.wait_until(lambda: _invalidated(tollway), timeout=10)
            for url in ("/admin/v1/audit?limit=500", "/admin/v1/providers"):
                world.bodies.append(tollway.admin.get(url).text)
            rows = _database_rows(database_url)
    finally:
        logging.getLogger().removeHandler(printed)
    logs = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    logs.append(capfd.readouterr().err)
    stored = " ".join(str(value) for value in rows)
    # The echoes were recorded (scrubbed), so every exit was exercised.
    assert "engine.fallback" in stored
    assert "you sent: [redacted]" in stored
    assert any("fallback to OpenRouter" in line for line in logs)
    assert any("internal" not in b and "non-JSON body" in b for b in world.bodies)
    for secret in world.secrets:
        for leak in leak_forms(secret):
            assert not any(leak in body for body in world.bodies), (secret, leak)
            assert not any(leak in line for line in logs), (secret, leak)
            assert leak not in stored, (secret, leak)


def _invalidated(tollway: Tollway) -> bool:
    """The data plane's rejected-key write (and the key test's) reached the store."""
    statuses = [
        key["status"]
        for provider in tollway.admin.get("/admin/v1/providers").json()
        if provider["name"] in ("c401", "check")
        for key in tollway.admin.get(f"/admin/v1/providers/{provider['id']}/keys").json()
    ]
    return statuses.count("invalid") == 2


def _database_rows(database_url: str) -> list[Any]:
    database = Database(database_url)
    values: list[Any] = []
    try:
        with database.engine.connect() as connection:
            for table in SQLModel.metadata.sorted_tables:
                for row in connection.execute(text(f"SELECT * FROM {table.name}")):
                    values.extend(row)
    finally:
        database.dispose()
    return values
