"""Deleting a model that has verification results retires it: out of routing, /v1/models
and the default listings, its results kept and readable; ``strict=true`` refuses. A
model without results is deleted as before, and the name can be published again."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.api.conftest import error_of, ok
from tests.api.test_database_outage import wait_for


def serve(client: TestClient) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A mock provider, its model under the public name ``echo``, and an agent's key."""
    provider = ok(client.post("/admin/v1/providers", json={"name": "m", "type": "mock"}), 201)
    body = {"provider_id": provider["id"], "model_id": "mock-echo", "name": "echo"}
    model = ok(client.post("/admin/v1/models", json=body), 201)
    key: str = ok(client.post("/admin/v1/keys", json={"name": "agent"}), 201)["key"]
    return provider, model, key


def served_names(client: TestClient, key: str) -> list[str]:
    listing = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    return sorted(item["id"] for item in listing.json()["data"])


def chat(client: TestClient, key: str) -> httpx.Response:
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    return client.post(
        "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    )


def audited(client: TestClient, action: str) -> list[dict[str, Any]]:
    items = ok(client.get("/admin/v1/audit?limit=100"))["items"]
    return [event for event in items if event["action"] == action]


def test_a_model_with_results_is_retired_and_its_results_stay_readable(
    client: TestClient,
) -> None:
    provider, model, key = serve(client)
    run = ok(client.post(f"/admin/v1/models/{model['id']}/verify"))
    assert run["status"] == "verified"
    wait_for(lambda: chat(client, key).status_code == 200)

    error = error_of(client.delete(f"/admin/v1/models/{model['id']}?strict=true"), 409)
    assert "verification result" in error["message"]
    assert "retire" in error["message"]

    retired = ok(client.delete(f"/admin/v1/models/{model['id']}"))
    assert (retired["id"], retired["status"]) == (model["id"], "retired")
    [event] = audited(client, "model.retired")
    assert event["details"]["previous_status"] == "verified"
    assert not audited(client, "model.delete")

    assert ok(client.get("/admin/v1/models")) == []
    assert ok(client.get("/admin/v1/models", params={"provider_id": provider["id"]})) == []
    [listed] = ok(client.get("/admin/v1/models", params={"include_retired": "true"}))
    assert listed["status"] == "retired"
    assert ok(client.get(f"/admin/v1/models/{model['id']}"))["status"] == "retired"
    history = ok(client.get(f"/admin/v1/models/{model['id']}/verifications"))
    assert history["total"] == len(run["results"]) > 0
    wait_for(lambda: chat(client, key).status_code == 404)
    assert served_names(client, key) == []

    # Kept for the record: it cannot change, nor be verified again; deleting it again is
    # the same answer and audits nothing more.
    patched = client.patch(f"/admin/v1/models/{model['id']}", json={"priority": 3})
    assert "retired" in error_of(patched, 409)["message"]
    assert (
        "retired" in error_of(client.post(f"/admin/v1/models/{model['id']}/verify"), 409)["message"]
    )
    assert ok(client.delete(f"/admin/v1/models/{model['id']}"))["status"] == "retired"
    assert len(audited(client, "model.retired")) == 1

    # The same public name and model id can be published again, and is served.
    body = {"provider_id": provider["id"], "model_id": "mock-echo", "name": "echo"}
    again = ok(client.post("/admin/v1/models", json=body), 201)
    assert again["id"] != model["id"]
    assert [m["id"] for m in ok(client.get("/admin/v1/models"))] == [again["id"]]
    wait_for(lambda: chat(client, key).status_code == 200)
    assert served_names(client, key) == ["echo"]


def test_a_model_without_results_is_deleted(client: TestClient) -> None:
    _, model, _ = serve(client)
    response = client.delete(f"/admin/v1/models/{model['id']}?strict=true")
    assert response.status_code == 204
    error_of(client.get(f"/admin/v1/models/{model['id']}"), 404)
    assert ok(client.get("/admin/v1/models", params={"include_retired": "true"})) == []
    assert [e["target"] for e in audited(client, "model.delete")] == [f"model:{model['id']}"]


def test_deleting_the_provider_leaves_a_retired_model_retired(client: TestClient) -> None:
    provider, model, _ = serve(client)
    ok(client.post(f"/admin/v1/models/{model['id']}/verify"))
    ok(client.delete(f"/admin/v1/models/{model['id']}"))

    # strict counts only the models the provider still serves
    assert client.delete(f"/admin/v1/providers/{provider['id']}?strict=true").status_code == 204
    assert ok(client.get(f"/admin/v1/models/{model['id']}"))["status"] == "retired"
