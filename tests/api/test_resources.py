"""Models, teams, pricing and limits: create, read, update, delete, validation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_model, create_provider, error_of, ok

# -- models ---------------------------------------------------------------------------


def test_model_lifecycle(client: TestClient) -> None:
    provider = create_provider(client)
    model = create_model(
        client,
        provider["id"],
        description="small",
        max_input_tokens=128000,
        max_output_tokens=16384,
        supports_reasoning=True,
        openrouter_model_id="openai/gpt-4o-mini",
    )
    assert model["status"] == "unverified"
    assert model["error"] is None
    assert "api_key" not in model
    assert "credentials" not in model
    updated = ok(client.patch(f"/admin/v1/models/{model['id']}", json={"name": "fast"}))
    assert updated["name"] == "fast"
    assert updated["description"] == "small"
    assert [m["id"] for m in ok(client.get("/admin/v1/models?name=fast"))] == [model["id"]]
    ok(client.delete(f"/admin/v1/models/{model['id']}"), 204)
    error_of(client.get(f"/admin/v1/models/{model['id']}"), 404)


def test_model_of_unknown_provider_is_422(shared_client: TestClient) -> None:
    body = {"provider_id": str(uuid.uuid4()), "model_id": "m", "name": "m"}
    error = error_of(shared_client.post("/admin/v1/models", json=body), 422)
    assert "does not exist" in error["message"]


def test_models_may_share_a_public_name_across_providers(client: TestClient) -> None:
    first, second = create_provider(client), create_provider(client, type="groq")
    create_model(client, first["id"], name="llama")
    create_model(client, second["id"], name="llama", model_id="llama-3.1-8b")
    assert len(ok(client.get("/admin/v1/models?name=llama"))) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"max_input_tokens": 0},
        {"weight": -1},
        {"model_id": ""},
        {"name": "two\nlines"},
        {"unknown": 1},
    ],
)
def test_invalid_model_fields(shared_client: TestClient, fields: dict[str, Any]) -> None:
    provider = create_provider(shared_client)
    body = {"provider_id": provider["id"], "model_id": "m", "name": "m", **fields}
    error_of(shared_client.post("/admin/v1/models", json=body), 422)


# -- teams ----------------------------------------------------------------------------


def test_team_lifecycle(client: TestClient) -> None:
    team = ok(client.post("/admin/v1/teams", json={"name": "ops", "byok_only": True}), 201)
    assert team["byok_only"] is True
    assert ok(client.get("/admin/v1/teams")) == [team]
    renamed = ok(client.patch(f"/admin/v1/teams/{team['id']}", json={"name": "platform"}))
    assert (renamed["name"], renamed["byok_only"]) == ("platform", True)
    ok(client.delete(f"/admin/v1/teams/{team['id']}"), 204)
    error_of(client.get(f"/admin/v1/teams/{team['id']}"), 404)


def test_team_names_are_unique(client: TestClient) -> None:
    ok(client.post("/admin/v1/teams", json={"name": "ops"}), 201)
    assert error_of(client.post("/admin/v1/teams", json={"name": "ops"}), 409)["code"] == "conflict"


def test_team_owning_keys_cannot_be_deleted(client: TestClient) -> None:
    team = ok(client.post("/admin/v1/teams", json={"name": "ops"}), 201)
    create_provider(client, team_id=team["id"])
    error = error_of(client.delete(f"/admin/v1/teams/{team['id']}"), 409)
    assert "provider key" in error["message"]


# -- pricing --------------------------------------------------------------------------


def test_pricing_default_and_model_override(client: TestClient) -> None:
    provider = create_provider(client)
    model = create_model(client, provider["id"])
    default = ok(
        client.post(
            "/admin/v1/pricing",
            json={
                "provider_id": provider["id"],
                "input_price_per_token": 0.00000015,
                "output_price_per_token": "0.0000006",
            },
        ),
        201,
    )
    assert default["input_price_per_token"] == pytest.approx(1.5e-07)
    assert default["currency"] == "USD"
    override = ok(
        client.post(
            "/admin/v1/pricing",
            json={
                "provider_id": provider["id"],
                "model_id": model["id"],
                "input_price_per_token": 0,
            },
        ),
        201,
    )
    assert override["output_price_per_token"] is None
    changed = ok(
        client.patch(f"/admin/v1/pricing/{override['id']}", json={"output_price_per_token": 1e-6})
    )
    assert changed["output_price_per_token"] == pytest.approx(1e-6)
    assert len(ok(client.get(f"/admin/v1/pricing?provider_id={provider['id']}"))) == 2
    ok(client.delete(f"/admin/v1/pricing/{default['id']}"), 204)


@pytest.mark.parametrize(
    "fields",
    [
        {"input_price_per_token": -0.1},
        {"input_price_per_token": 2},
        {"currency": "EUR", "input_price_per_token": 0.1},
        {},
    ],
)
def test_invalid_prices(shared_client: TestClient, fields: dict[str, Any]) -> None:
    provider = create_provider(shared_client)
    error_of(
        shared_client.post("/admin/v1/pricing", json={"provider_id": provider["id"], **fields}), 422
    )


def test_duplicate_pricing_is_409(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    body = {"provider_id": provider["id"], "input_price_per_token": 0.1}
    ok(shared_client.post("/admin/v1/pricing", json=body), 201)
    error_of(shared_client.post("/admin/v1/pricing", json=body), 409)


def test_pricing_model_must_belong_to_the_provider(shared_client: TestClient) -> None:
    first, second = create_provider(shared_client), create_provider(shared_client)
    model = create_model(shared_client, first["id"])
    body = {"provider_id": second["id"], "model_id": model["id"], "input_price_per_token": 0.1}
    error_of(shared_client.post("/admin/v1/pricing", json=body), 422)


# -- limits ---------------------------------------------------------------------------


def test_limits_per_scope(client: TestClient) -> None:
    provider = create_provider(client)
    team = ok(client.post("/admin/v1/teams", json={"name": "ops"}), 201)
    for scope, scope_id in (
        ("provider", provider["id"]),
        ("provider_key", provider["keys"][0]["id"]),
        ("team", team["id"]),
    ):
        body = {"scope": scope, "scope_id": scope_id, "requests_per_minute": 60, "usd_per_day": 5}
        created = ok(client.post("/admin/v1/limits", json=body), 201)
        assert created["usd_per_day"] == 5
    assert len(ok(client.get("/admin/v1/limits"))) == 3
    team_limits = ok(client.get(f"/admin/v1/limits?scope=team&scope_id={team['id']}"))
    [limits] = team_limits
    changed = ok(
        client.patch(
            f"/admin/v1/limits/{limits['id']}", json={"requests_per_minute": None, "usd_total": 100}
        )
    )
    assert (changed["requests_per_minute"], changed["usd_total"]) == (None, 100)
    ok(client.delete(f"/admin/v1/limits/{limits['id']}"), 204)


@pytest.mark.parametrize(
    "fields",
    [
        {"requests_per_minute": 0},
        {"tokens_per_day": -5},
        {"usd_per_month": 0},
        {},
        {"scope": "galaxy"},
    ],
)
def test_invalid_limits(shared_client: TestClient, fields: dict[str, Any]) -> None:
    provider = create_provider(shared_client)
    body = {"scope": "provider", "scope_id": provider["id"], **fields}
    error_of(shared_client.post("/admin/v1/limits", json=body), 422)


def test_limits_need_an_existing_scope(shared_client: TestClient) -> None:
    body = {"scope": "team", "scope_id": str(uuid.uuid4()), "requests_per_hour": 5}
    error_of(shared_client.post("/admin/v1/limits", json=body), 422)


def test_duplicate_limits_are_409(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    body = {"scope": "provider", "scope_id": provider["id"], "requests_per_hour": 5}
    ok(shared_client.post("/admin/v1/limits", json=body), 201)
    error_of(shared_client.post("/admin/v1/limits", json=body), 409)


def test_removing_every_limit_is_refused(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    body = {"scope": "provider", "scope_id": provider["id"], "requests_per_hour": 5}
    limits = ok(shared_client.post("/admin/v1/limits", json=body), 201)
    error_of(
        shared_client.patch(f"/admin/v1/limits/{limits['id']}", json={"requests_per_hour": None}),
        422,
    )


def test_deleting_a_provider_deletes_its_limits(client: TestClient) -> None:
    provider = create_provider(client)
    body = {"scope": "provider", "scope_id": provider["id"], "requests_per_hour": 5}
    ok(client.post("/admin/v1/limits", json=body), 201)
    ok(client.delete(f"/admin/v1/providers/{provider['id']}"), 204)
    assert ok(client.get("/admin/v1/limits")) == []


# -- names next to ids ----------------------------------------------------------------


def test_reads_name_what_their_ids_point_at(client: TestClient) -> None:
    """Every list and single read carries the names of what its ids point at, read
    live (a rename shows at once), and null where nothing is named."""
    provider = create_provider(client, name="Acme")
    team = ok(client.post("/admin/v1/teams", json={"name": "ops"}), 201)
    model = create_model(client, provider["id"], name="fast")
    shared_key = provider["keys"][0]
    team_key = ok(
        client.post(
            f"/admin/v1/providers/{provider['id']}/keys",
            json={"api_key": "sk-test-0000000000team", "label": "ops key", "team_id": team["id"]},
        ),
        201,
    )
    tollway_key = ok(
        client.post("/admin/v1/keys", json={"name": "agent", "team_id": team["id"]}), 201
    )
    assert (model["provider_name"], tollway_key["team_name"]) == ("Acme", "ops")
    assert (shared_key["provider_name"], shared_key["team_name"]) == ("Acme", None)
    assert (team_key["provider_name"], team_key["team_name"]) == ("Acme", "ops")
    for scope, scope_id in (
        ("provider", provider["id"]),
        ("provider_key", team_key["id"]),
        ("team", team["id"]),
        ("tollway_key", tollway_key["id"]),
    ):
        body = {"scope": scope, "scope_id": scope_id, "requests_per_minute": 60}
        ok(client.post("/admin/v1/limits", json=body), 201)
    prices = {"provider_id": provider["id"], "input_price_per_token": 0.000001}
    ok(client.post("/admin/v1/pricing", json=prices), 201)
    ok(client.post("/admin/v1/pricing", json={**prices, "model_id": model["id"]}), 201)

    ok(client.patch(f"/admin/v1/teams/{team['id']}", json={"name": "ops-2"}))
    limits = ok(client.get("/admin/v1/limits"))
    assert sorted((row["scope"], row["scope_name"]) for row in limits) == [
        ("provider", "Acme"),
        ("provider_key", "ops key"),
        ("team", "ops-2"),
        ("tollway_key", "agent"),
    ]
    [listed_model] = ok(client.get("/admin/v1/models"))
    assert listed_model["provider_name"] == "Acme"
    assert ok(client.get(f"/admin/v1/keys/{tollway_key['id']}"))["team_name"] == "ops-2"
    listed_keys = ok(client.get(f"/admin/v1/providers/{provider['id']}/keys"))
    assert [(k["label"], k["team_name"]) for k in listed_keys] == [
        ("default", None),
        ("ops key", "ops-2"),
    ]
    pricing = ok(client.get("/admin/v1/pricing"))
    assert sorted((p["provider_name"], p["model_name"] or "-") for p in pricing) == [
        ("Acme", "-"),
        ("Acme", "fast"),
    ]
