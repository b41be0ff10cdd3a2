"""Provider keys: several per provider, shared or team-owned; never returned."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.api.conftest import create_model, create_provider, error_of, ok
from tollway.domain.services import Services
from tollway.store.tables import ProviderKey


def _keys_url(provider: dict[str, object]) -> str:
    return f"/admin/v1/providers/{provider['id']}/keys"


def _reveal(services: Services, key_id: str) -> str:
    with services.database.session() as session:
        key = session.get(ProviderKey, uuid.UUID(key_id))
        assert key is not None
    return services.provider_keys.reveal(key).reveal()


def test_add_shared_and_team_keys(client: TestClient) -> None:
    provider = create_provider(client)
    team = ok(client.post("/admin/v1/teams", json={"name": "research"}), 201)
    shared = ok(client.post(_keys_url(provider), json={"api_key": "sk-shared-2222222222"}), 201)
    owned = ok(
        client.post(
            _keys_url(provider),
            json={"api_key": "sk-team-33333333333", "label": "research", "team_id": team["id"]},
        ),
        201,
    )
    assert shared["team_id"] is None
    assert owned["team_id"] == team["id"]
    listed = ok(client.get(_keys_url(provider)))
    assert [k["label"] for k in listed] == ["default", "default", "research"]
    assert "sk-team-33333333333" not in client.get(_keys_url(provider)).text


def test_key_for_unknown_team_is_404(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    body = {"api_key": "sk-x-1234567890", "team_id": str(uuid.uuid4())}
    error_of(shared_client.post(_keys_url(provider), json=body), 404)


def test_rotation_replaces_the_value_and_leaves_provider_and_models_alone(
    client: TestClient, services: Services
) -> None:
    provider = create_provider(client, api_key="sk-old-value-00001111")
    model = create_model(client, provider["id"])
    key = provider["keys"][0]
    rotated = ok(
        client.post(
            f"{_keys_url(provider)}/{key['id']}/rotate", json={"api_key": "sk-new-value-00002222"}
        )
    )
    assert rotated["id"] == key["id"]
    assert rotated["fingerprint"] == "2222"
    assert rotated["secret_version"] == key["secret_version"] + 1
    assert rotated["rotated_at"] is not None
    assert _reveal(services, key["id"]) == "sk-new-value-00002222"
    after = ok(client.get(f"/admin/v1/providers/{provider['id']}"))
    assert {k: v for k, v in after.items() if k != "keys"} == {
        k: v for k, v in provider.items() if k != "keys"
    }
    assert ok(client.get(f"/admin/v1/models/{model['id']}")) == model


def test_disable_enable_delete(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    key_url = f"{_keys_url(provider)}/{provider['keys'][0]['id']}"
    assert ok(shared_client.post(f"{key_url}/disable"))["status"] == "disabled"
    assert ok(shared_client.post(f"{key_url}/enable"))["status"] == "unvalidated"
    assert error_of(shared_client.post(f"{key_url}/enable"), 409)["code"] == "conflict"
    ok(shared_client.delete(key_url), 204)
    assert ok(shared_client.get(_keys_url(provider))) == []
    error_of(shared_client.delete(key_url), 404)


def test_key_of_another_provider_is_404(shared_client: TestClient) -> None:
    first, second = create_provider(shared_client), create_provider(shared_client)
    wrong = f"{_keys_url(second)}/{first['keys'][0]['id']}/disable"
    error_of(shared_client.post(wrong), 404)


def test_rotate_requires_a_key(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    url = f"{_keys_url(provider)}/{provider['keys'][0]['id']}/rotate"
    error_of(shared_client.post(url, json={}), 422)
    error_of(shared_client.post(url, json={"api_key": ""}), 422)
