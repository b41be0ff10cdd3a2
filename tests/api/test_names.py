"""Names refuse control and invisible formatting characters with 422, on create and
on update: they travel into headers, logs, CSV reports and terminals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_provider, error_of, ok

REFUSED = [
    "line\nbreak",
    "carriage\rreturn",
    "nul\x00",
    "escape\x1b[31m",
    "del\x7f",
    "c1\x85range",
    "bidi\u202eoverride",
    "isolate\u2066",
    "zero\u200bwidth",
    "bom\ufeff",
    "line\u2028separator",
]
ALLOWED = ["Acme \u2013 中文", "Zürich GPU", "فارسی\u200cمتن", "family 👨\u200d👩\u200d👧"]


def refused(response: Any) -> None:
    assert error_of(response, 422)["code"] == "validation_error"


def test_every_kind_of_name_refuses_control_characters(client: TestClient) -> None:
    provider = create_provider(client, name="clean")
    model = ok(
        client.post(
            "/admin/v1/models",
            json={"provider_id": provider["id"], "model_id": "m", "name": "m"},
            params={"skip_catalog_check": "true"},
        ),
        201,
    )
    team = ok(client.post("/admin/v1/teams", json={"name": "team"}), 201)
    key = ok(client.post("/admin/v1/keys", json={"name": "agent"}), 201)
    for name in REFUSED:
        refuse_everywhere(client, name, provider["id"], model["id"], team["id"], key["id"])


def refuse_everywhere(
    client: TestClient, name: str, provider_id: str, model_id: str, team_id: str, key_id: str
) -> None:
    refused(client.post("/admin/v1/providers", json={"name": name, "type": "mock"}))
    refused(
        client.post("/admin/v1/providers", json={"name": "p", "type": "mock", "key_label": name})
    )
    refused(client.patch(f"/admin/v1/providers/{provider_id}", json={"name": name}))
    refused(
        client.post(
            f"/admin/v1/providers/{provider_id}/keys",
            json={"api_key": "sk-test-0000000000wxyz", "label": name},
        )
    )
    for field in ("name", "model_id"):
        body = {"provider_id": provider_id, "model_id": "m2", "name": "m2", field: name}
        refused(client.post("/admin/v1/models", json=body))
        refused(client.patch(f"/admin/v1/models/{model_id}", json={field: name}))
    refused(client.post("/admin/v1/teams", json={"name": name}))
    refused(client.patch(f"/admin/v1/teams/{team_id}", json={"name": name}))
    refused(client.post("/admin/v1/keys", json={"name": name}))
    refused(client.post("/admin/v1/keys", json={"name": "k", "allowed_models": [name]}))
    refused(client.patch(f"/admin/v1/keys/{key_id}", json={"name": name}))


@pytest.mark.parametrize("name", ALLOWED)
def test_any_script_and_joiners_are_fine(shared_client: TestClient, name: str) -> None:
    assert ok(shared_client.post("/admin/v1/teams", json={"name": name}), 201)["name"] == name


def test_the_refusal_names_the_code_point_not_the_value(shared_client: TestClient) -> None:
    response = shared_client.post("/admin/v1/teams", json={"name": "sk-live-secret\nx"})
    error = error_of(response, 422)
    assert "control or invisible formatting characters (found U+000A)" in error["message"]
    assert "sk-live-secret" not in response.text
