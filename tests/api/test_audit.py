"""Every mutation leaves an audit event; the trail is newest first and paginated."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import create_model, create_provider, ok


def test_mutations_are_audited_newest_first(client: TestClient) -> None:
    provider = create_provider(client, api_key="sk-audit-canary-99887766")
    model = create_model(client, provider["id"])
    team = ok(client.post("/admin/v1/teams", json={"name": "ops"}), 201)
    ok(client.patch(f"/admin/v1/teams/{team['id']}", json={"byok_only": True}))
    key_url = f"/admin/v1/providers/{provider['id']}/keys/{provider['keys'][0]['id']}"
    ok(client.post(f"{key_url}/rotate", json={"api_key": "sk-audit-canary-55443322"}))
    ok(client.post(f"{key_url}/disable"))
    ok(client.delete(f"/admin/v1/models/{model['id']}"), 204)
    page = ok(client.get("/admin/v1/audit?limit=100"))
    actions = [event["action"] for event in page["items"]]
    assert actions == [
        "model.delete",
        "provider_key.disable",
        "provider_key.rotate",
        "team.update",
        "team.create",
        "model.create",
        "provider_key.create",
        "provider.create",
    ]
    assert page["total"] == len(actions)
    assert all(event["actor"] == "admin" for event in page["items"])
    assert page["items"][0]["target"] == f"model:{model['id']}"
    text = client.get("/admin/v1/audit?limit=100").text
    assert "sk-audit-canary" not in text


def test_audit_pages_do_not_overlap(client: TestClient) -> None:
    for index in range(7):
        ok(client.post("/admin/v1/teams", json={"name": f"team-{index}"}), 201)
    first = ok(client.get("/admin/v1/audit?limit=4"))
    second = ok(client.get("/admin/v1/audit?limit=4&offset=4"))
    ids = [e["id"] for e in first["items"]] + [e["id"] for e in second["items"]]
    assert len(ids) == len(set(ids)) == 7
    assert (first["total"], first["limit"], second["offset"]) == (7, 4, 4)


def test_audit_filters_by_action(client: TestClient) -> None:
    ok(client.post("/admin/v1/teams", json={"name": "a"}), 201)
    create_provider(client, type="mock", api_key=None)
    page = ok(client.get("/admin/v1/audit?action=team.create"))
    assert [e["action"] for e in page["items"]] == ["team.create"]


def test_failed_mutations_leave_no_event(client: TestClient) -> None:
    client.post("/admin/v1/providers", json={"name": "x", "type": "openai"})
    assert ok(client.get("/admin/v1/audit"))["total"] == 0
