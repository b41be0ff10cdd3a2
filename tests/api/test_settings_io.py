"""Settings import (upsert by id, idempotent) and export (never a plaintext key)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import create_provider, error_of, ok

OPENAI_ID = str(uuid.UUID(int=1))
LOCAL_ID = str(uuid.UUID(int=2))
MOCK_ID = str(uuid.UUID(int=3))
KEY = "sk-import-canary-" + uuid.uuid4().hex
GOLDEN = Path(__file__).parents[1] / "domain" / "golden" / "settings"


def document(api_key: str = KEY) -> dict[str, Any]:
    return {
        "version": 1,
        "providers": [
            {
                "id": OPENAI_ID,
                "name": "OpenAI",
                "type": "openai",
                "credentials": {"apiKey": api_key},
            },
            {
                "id": LOCAL_ID,
                "name": "vLLM",
                "type": "openai_compatible",
                "credentials": {
                    "apiKey": "local-key-12345678",
                    "baseUrl": "http://127.0.0.1:8000/v1",
                },
            },
            {"id": MOCK_ID, "name": "Mock", "type": "mock"},
        ],
        "catalog": [
            {"id": str(uuid.UUID(int=11)), "providerId": OPENAI_ID, "modelId": "gpt-4o-mini"},
            {
                "id": str(uuid.UUID(int=12)),
                "providerId": LOCAL_ID,
                "modelId": "llama",
                "name": "llama-local",
                "maxInputTokens": 8192,
                "someOtherProductsField": True,
            },
            {"id": str(uuid.UUID(int=13)), "providerId": MOCK_ID, "modelId": "mock-echo"},
        ],
    }


def test_import_creates_then_is_idempotent(client: TestClient) -> None:
    first = ok(client.post("/admin/v1/settings/import", json=document()))
    assert first == {
        "providers_created": 3,
        "providers_updated": 0,
        "keys_stored": 2,
        "models_created": 3,
        "models_updated": 0,
        "warnings": [],
        "models_not_in_catalog": [],
    }
    second = ok(client.post("/admin/v1/settings/import", json=document()))
    assert (second["providers_created"], second["keys_stored"], second["models_updated"]) == (
        0,
        0,
        0,
    )
    provider = ok(client.get(f"/admin/v1/providers/{OPENAI_ID}"))
    assert provider["keys"][0]["secret_version"] == 1
    model = ok(client.get(f"/admin/v1/models/{uuid.UUID(int=12)}"))
    assert (model["name"], model["max_input_tokens"]) == ("llama-local", 8192)


def test_import_with_a_new_key_rotates_it(client: TestClient) -> None:
    ok(client.post("/admin/v1/settings/import", json=document()))
    result = ok(client.post("/admin/v1/settings/import", json=document("sk-rotated-0000999")))
    assert result["keys_stored"] == 1
    key = ok(client.get(f"/admin/v1/providers/{OPENAI_ID}"))["keys"][0]
    assert (key["secret_version"], key["fingerprint"]) == (2, "0999")


def test_export_has_fingerprints_never_keys(client: TestClient) -> None:
    ok(client.post("/admin/v1/settings/import", json=document()))
    response = client.get("/admin/v1/settings/export")
    exported = ok(response)
    assert KEY not in response.text
    assert '"apiKey"' not in response.text
    openai = next(p for p in exported["providers"] if p["id"] == OPENAI_ID)
    assert openai["credentials"]["apiKeyFingerprint"] == "\u2026" + KEY[-4:]
    assert {m["modelId"] for m in exported["catalog"]} == {"gpt-4o-mini", "llama", "mock-echo"}


def test_exported_file_imports_into_a_fresh_install(client: TestClient) -> None:
    create_provider(client, name="Existing")
    exported = ok(client.get("/admin/v1/settings/export"))
    result = ok(client.post("/admin/v1/settings/import", json=exported))
    assert result["providers_created"] == 0


def test_import_refuses_unknown_provider_references(client: TestClient) -> None:
    doc = document()
    doc["catalog"].append(
        {"id": str(uuid.UUID(int=99)), "providerId": str(uuid.UUID(int=98)), "modelId": "x"}
    )
    error = error_of(client.post("/admin/v1/settings/import", json=doc), 422)
    assert str(uuid.UUID(int=98)) in error["message"]
    assert ok(client.get("/admin/v1/providers")) == []


def test_import_refuses_a_type_change(client: TestClient) -> None:
    ok(client.post("/admin/v1/settings/import", json=document()))
    doc = document()
    doc["providers"][0]["type"] = "anthropic"
    error = error_of(client.post("/admin/v1/settings/import", json=doc), 422)
    assert "cannot change" in error["message"]


def test_import_of_a_legacy_document_says_to_migrate(client: TestClient) -> None:
    legacy = {"catalog": [{"id": "m1", "modelId": "m", "providerConfig": {"providerType": "mock"}}]}
    error = error_of(client.post("/admin/v1/settings/import", json=legacy), 422)
    assert "tollway settings import FILE" in error["message"]
    assert "UUID" not in error["message"]


def test_import_errors_never_echo_keys(client: TestClient) -> None:
    doc = document()
    doc["providers"][0]["type"] = "not-a-type"
    response = client.post("/admin/v1/settings/import", json=doc)
    error_of(response, 422)
    assert KEY not in response.text


def test_legacy_ids_are_imported_shown_and_exported(client: TestClient) -> None:
    # A legacy file as the CLI sends it once migrated: its golden form.
    migrated = json.loads((GOLDEN / "legacy_ids.expected.json").read_text())
    first = ok(client.post("/admin/v1/settings/import", json=migrated))
    assert first["models_created"] == 8
    again = ok(client.post("/admin/v1/settings/import", json=migrated))
    assert (again["models_created"], again["models_updated"]) == (0, 0)

    model = ok(client.get(f"/admin/v1/models/{migrated['catalog'][0]['id']}"))
    assert (model["model_id"], model["legacy_id"]) == ("qwen2.5:7b", "m1")
    listed = {m["id"]: m["legacy_id"] for m in ok(client.get("/admin/v1/models"))}
    assert listed == {e["id"]: e.get("legacyId") for e in migrated["catalog"]}
    exported = {
        e["id"]: e.get("legacyId") for e in ok(client.get("/admin/v1/settings/export"))["catalog"]
    }
    assert exported == listed
