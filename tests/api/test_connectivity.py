"""Key tests against fake providers speaking each family's real auth endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN, make_settings, ok
from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer, Family
from tollway.app import create_app

FAMILY_OF_TYPE: dict[str, Family] = {
    "openai": "openai",
    "openai_compatible": "openai",
    "groq": "openai",
    "openrouter": "openrouter",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "cohere": "cohere",
}


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[Family, FakeProviderServer]]:
    servers = {
        f: FakeProviderServer(f) for f in ("openai", "openrouter", "anthropic", "gemini", "cohere")
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


SETTINGS: dict[str, Any] = {"providers": {"test_timeout_seconds": 0.5}}


@pytest.fixture(scope="module")
def shared_overrides() -> dict[str, Any]:
    return SETTINGS


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data", database_url, **SETTINGS)
    with TestClient(create_app(settings)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield test_client


def new_key(label: str) -> str:
    return f"sk-{label}-{uuid.uuid4().hex}"


def provider_on(
    client: TestClient, fake: FakeProviderServer, provider_type: str, key: str, **query: Any
) -> dict[str, Any]:
    body = {"name": provider_type, "type": provider_type, "api_key": key, "base_url": fake.base_url}
    params = "?validate=true" if query.get("validate") else ""
    result: dict[str, Any] = ok(client.post(f"/admin/v1/providers{params}", json=body), 201)
    return result


def run_test(client: TestClient, provider: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = ok(client.post(f"/admin/v1/providers/{provider['id']}/test"))
    return result


@pytest.mark.parametrize("provider_type", sorted(FAMILY_OF_TYPE))
def test_valid_key_activates_the_provider(
    shared_client: TestClient, fakes: dict[Family, FakeProviderServer], provider_type: str
) -> None:
    fake, key = fakes[FAMILY_OF_TYPE[provider_type]], new_key("valid")
    fake.set_key(key, Behaviour.ok())
    provider = provider_on(shared_client, fake, provider_type, key)
    result = run_test(shared_client, provider)
    assert result["provider_status"] == "active"
    [outcome] = result["results"]
    assert (outcome["outcome"], outcome["key_status"]) == ("valid", "valid")
    assert len(fake.requests_with_key(key)) == 1
    stored = ok(shared_client.get(f"/admin/v1/providers/{provider['id']}"))
    assert stored["status"] == "active"
    assert stored["keys"][0]["last_validated_at"] is not None


@pytest.mark.parametrize("provider_type", ["openai", "anthropic", "gemini", "cohere", "openrouter"])
def test_rejected_key_is_marked_invalid(
    shared_client: TestClient, fakes: dict[Family, FakeProviderServer], provider_type: str
) -> None:
    fake, key = fakes[FAMILY_OF_TYPE[provider_type]], new_key("rejected")
    fake.set_key(key, Behaviour.rejected())
    provider = provider_on(shared_client, fake, provider_type, key)
    result = run_test(shared_client, provider)
    assert result["provider_status"] == "invalid"
    [outcome] = result["results"]
    assert (outcome["outcome"], outcome["key_status"]) == ("rejected", "invalid")
    assert key not in str(result)
    stored_key = ok(shared_client.get(f"/admin/v1/providers/{provider['id']}"))["keys"][0]
    assert stored_key["last_error"]


@pytest.mark.parametrize(
    ("behaviour", "outcome"),
    [
        (Behaviour.forbidden(), "forbidden"),
        (Behaviour.rate_limited("7"), "rate_limited"),
        (Behaviour.server_error(503), "provider_error"),
        (Behaviour.hang(5), "timeout"),
    ],
)
def test_each_failure_has_its_own_outcome(
    shared_client: TestClient,
    fakes: dict[Family, FakeProviderServer],
    behaviour: Behaviour,
    outcome: str,
) -> None:
    key = new_key("failing")
    fakes["openai"].set_key(key, behaviour)
    provider = provider_on(shared_client, fakes["openai"], "openai", key)
    [result] = run_test(shared_client, provider)["results"]
    assert result["outcome"] == outcome
    assert result["message"]
    passing = outcome not in ("forbidden",)
    assert result["key_status"] == ("unvalidated" if passing else "invalid")


def test_connection_refused_and_dns_errors(shared_client: TestClient) -> None:
    refused = ok(
        shared_client.post(
            "/admin/v1/providers",
            json={
                "name": "down",
                "type": "openai_compatible",
                "api_key": new_key("x"),
                "base_url": f"http://127.0.0.1:{free_port()}/v1",
            },
        ),
        201,
    )
    assert run_test(shared_client, refused)["results"][0]["outcome"] == "connection_error"
    unknown = ok(
        shared_client.post(
            "/admin/v1/providers",
            json={
                "name": "nowhere",
                "type": "openai_compatible",
                "api_key": new_key("x"),
                "base_url": "http://no-such-host.invalid/v1",
            },
        ),
        201,
    )
    assert run_test(shared_client, unknown)["results"][0]["outcome"] == "dns_error"


def test_one_good_key_among_bad_ones_keeps_the_provider_active(
    shared_client: TestClient, fakes: dict[Family, FakeProviderServer]
) -> None:
    fake, good, bad = fakes["openai"], new_key("good"), new_key("bad")
    fake.set_key(good, Behaviour.ok())
    fake.set_key(bad, Behaviour.rejected())
    provider = provider_on(shared_client, fake, "openai", bad)
    ok(
        shared_client.post(f"/admin/v1/providers/{provider['id']}/keys", json={"api_key": good}),
        201,
    )
    result = run_test(shared_client, provider)
    assert result["provider_status"] == "active"
    assert sorted(r["outcome"] for r in result["results"]) == ["rejected", "valid"]


def test_validate_on_create_and_disabled_keys_are_skipped(
    shared_client: TestClient, fakes: dict[Family, FakeProviderServer]
) -> None:
    fake, key = fakes["anthropic"], new_key("ant")
    fake.set_key(key, Behaviour.ok())
    provider = provider_on(shared_client, fake, "anthropic", key, validate=True)
    assert provider["status"] == "active"
    assert provider["keys"][0]["status"] == "valid"
    ok(
        shared_client.post(
            f"/admin/v1/providers/{provider['id']}/keys/{provider['keys'][0]['id']}/disable"
        )
    )
    [result] = run_test(shared_client, provider)["results"]
    assert result["outcome"] == "skipped"
    assert len(fake.requests_with_key(key)) == 1


def test_rotated_key_is_the_one_tested(
    shared_client: TestClient, fakes: dict[Family, FakeProviderServer]
) -> None:
    fake, old, new = fakes["gemini"], new_key("old"), new_key("new")
    fake.set_key(new, Behaviour.ok())
    provider = provider_on(shared_client, fake, "gemini", old)
    key_id = provider["keys"][0]["id"]
    ok(
        shared_client.post(
            f"/admin/v1/providers/{provider['id']}/keys/{key_id}/rotate", json={"api_key": new}
        )
    )
    assert run_test(shared_client, provider)["results"][0]["outcome"] == "valid"
    assert fake.requests_with_key(old) == []


def test_mock_provider_is_valid_without_network(shared_client: TestClient) -> None:
    provider = ok(
        shared_client.post("/admin/v1/providers", json={"name": "Mock", "type": "mock"}), 201
    )
    result = run_test(shared_client, provider)
    assert result["provider_status"] == "active"
    assert result["results"][0]["outcome"] == "valid"


def test_validation_is_audited(client: TestClient, fakes: dict[Family, FakeProviderServer]) -> None:
    key = new_key("audit")
    fakes["cohere"].set_key(key, Behaviour.ok())
    provider = provider_on(client, fakes["cohere"], "cohere", key)
    run_test(client, provider)
    events = ok(client.get("/admin/v1/audit?action=provider_key.validate"))["items"]
    assert events[0]["details"]["outcome"] == "valid"
