"""Model choices checked against the provider's catalog: unknown ids refused with the
closest ones, the skip flag audited, metadata filled with its source, bulk publishing
all or nothing, lenient static lists, and the settings import's report. With a
scripted lister behind every provider (as tests/api/test_catalog.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import error_of, ok
from tests.api.test_catalog import _client, catalog, create_provider, refresh
from tests.fakes.listers import CHAT, EMBED, MINI, ScriptedLister
from tollway.providers.base import KeyCheckOutcome


@pytest.fixture
def lister() -> ScriptedLister:
    lister = ScriptedLister()
    lister.serve(CHAT, MINI, EMBED)
    return lister


@pytest.fixture
def client(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str], lister: ScriptedLister
) -> Iterator[TestClient]:
    """SQLite only: the check's queries run on PostgreSQL in test_database_outage's."""
    yield from _client(tmp_path, migrated_sqlite(tmp_path / "tollway.db"), lister)


def post_model(client: TestClient, provider: dict[str, Any], model_id: str, **extra: Any) -> Any:
    params = extra.pop("params", None)
    body = {"provider_id": provider["id"], "model_id": model_id, "name": "public", **extra}
    return client.post("/admin/v1/models", json=body, params=params)


def publish(client: TestClient, provider: dict[str, Any], *items: Any) -> Any:
    models = [item if isinstance(item, dict) else {"model_id": item} for item in items]
    return client.post(
        f"/admin/v1/providers/{provider['id']}/models:publish", json={"models": models}
    )


def audited(client: TestClient, action: str) -> list[dict[str, Any]]:
    items = ok(client.get("/admin/v1/audit?limit=100"))["items"]
    return [event for event in items if event["action"] == action]


def test_unknown_id_is_refused_with_the_closest_ids_and_the_skip_flag_is_audited(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    error = error_of(post_model(client, provider, "gpt-4o-minii"), 422)
    assert error["code"] == "model_not_in_catalog"
    [unknown] = error["details"]["unknown"]
    assert unknown["model_id"] == "gpt-4o-minii"
    assert unknown["loc"] == ["body", "model_id"]
    assert unknown["suggestions"][:2] == ["gpt-4o-mini", "gpt-4o"]
    assert "skip_catalog_check" in error["message"]
    assert ok(client.get("/admin/v1/models")) == []
    assert lister.calls == 1  # never fetched: refreshed once, then fresh

    skipped = ok(post_model(client, provider, "gpt-5", params={"skip_catalog_check": "true"}), 201)
    assert skipped["catalog_check"] == {"status": "skipped", "warnings": []}
    assert (skipped["metadata_sources"], skipped["max_input_tokens"]) == ({}, None)
    [event] = audited(client, "model.create")
    assert event["details"]["catalog_check"] == "skipped"
    assert lister.calls == 1


def test_metadata_not_given_is_filled_from_the_catalog_with_its_source(
    client: TestClient,
) -> None:
    provider = create_provider(client)
    model = ok(post_model(client, provider, "gpt-4o", max_output_tokens=4096), 201)
    assert model["catalog_check"] == {"status": "listed", "warnings": []}
    assert (model["max_input_tokens"], model["max_output_tokens"]) == (128_000, 4096)
    assert model["supports_streaming"] is True
    # The scripted lister states capabilities as a whole; LiteLLM's map one by one.
    sources = catalog(client, provider, q="gpt-4o", limit=1)["items"][0]["sources"]
    stated = {
        name: sources.get(f"capabilities.{name}", sources["capabilities"])
        for name in ("reasoning", "streaming")
    }
    assert model["metadata_sources"] == {
        "max_input_tokens": "provider",
        "max_output_tokens": "manual",
        "supports_reasoning": stated["reasoning"],
        "supports_streaming": stated["streaming"],
    }
    [event] = audited(client, "model.create")
    assert event["details"]["metadata_sources"] == model["metadata_sources"]
    # A read shows the model, not the check.
    assert "metadata_sources" not in ok(client.get(f"/admin/v1/models/{model['id']}"))

    # A new id on update is checked too.
    error = error_of(
        client.patch(f"/admin/v1/models/{model['id']}", json={"model_id": "gpt4o-mni"}), 422
    )
    assert "gpt-4o-mini" in error["details"]["unknown"][0]["suggestions"]


def test_publish_is_all_or_nothing(client: TestClient) -> None:
    provider = create_provider(client)
    error = error_of(publish(client, provider, "gpt-4o", "gpt-4o-minii", "nothing-alike"), 422)
    assert error["code"] == "model_not_in_catalog"
    unknown = {item["model_id"]: item for item in error["details"]["unknown"]}
    assert set(unknown) == {"gpt-4o-minii", "nothing-alike"}
    assert unknown["gpt-4o-minii"]["loc"] == ["body", "models", 1, "model_id"]
    assert unknown["nothing-alike"]["suggestions"] == []
    assert ok(client.get("/admin/v1/models")) == []

    created = ok(
        publish(client, provider, "gpt-4o", {"model_id": "gpt-4o-mini", "name": "mini"}), 201
    )
    assert [(m["model_id"], m["name"]) for m in created] == [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "mini"),
    ]
    assert len(audited(client, "model.create")) == 2
    assert error_of(publish(client, provider, "gpt-4o", "gpt-4o"), 422)["message"].startswith(
        "a model is listed twice"
    )


def test_no_catalog_refuses_and_a_static_list_only_warns(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    lister.fail(KeyCheckOutcome.CONNECTION_ERROR)
    error = error_of(post_model(client, provider, "gpt-4o"), 422)
    assert error["code"] == "catalog_unavailable"
    assert "skip_catalog_check" in error["message"]

    mock = ok(client.post("/admin/v1/providers", json={"name": "m", "type": "mock"}), 201)
    lister.serve(CHAT)
    lenient = ok(post_model(client, mock, "echo"), 201)
    assert lenient["catalog_check"]["status"] == "unlisted"
    assert "accepted unchecked" in lenient["catalog_check"]["warnings"][0]


def test_import_reports_ids_a_cached_catalog_misses(client: TestClient) -> None:
    provider = create_provider(client)
    refresh(client, provider)
    document = {
        "version": 1,
        "providers": [],
        "catalog": [
            {
                "id": "00000000-0000-0000-0000-00000000000a",
                "providerId": provider["id"],
                "modelId": "gpt-4o",
            },
            {
                "id": "00000000-0000-0000-0000-00000000000b",
                "providerId": provider["id"],
                "modelId": "gpt-4o-mni",
                "name": "typo",
            },
        ],
    }
    result = ok(client.post("/admin/v1/settings/import", json=document))
    assert result["models_created"] == 2  # reported, not refused
    [missing] = result["models_not_in_catalog"]
    assert (missing["name"], missing["model_id"]) == ("typo", "gpt-4o-mni")
    assert missing["suggestions"][0] == "gpt-4o-mini"
    assert any("did you mean gpt-4o-mini" in warning for warning in result["warnings"])
