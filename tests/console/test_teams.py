"""The teams page in-process: teams with key counts, create a team and a key (the key
shown once, in the POST's own answer only), validation next to its field, revoke
(its confirmation page: test_teams_confirm.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN
from tests.console.conftest import page_csrf, services_of
from tollway.domain.common import Actor
from tollway.domain.teams import TeamCreate, TeamRead
from tollway.domain.tollway_keys import TollwayKeyCreate
from tollway.store.tables import utcnow

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KEY = re.compile(r"tw-[A-Za-z0-9_-]{20,}")


def team(client: TestClient, name: str = "research") -> TeamRead:
    return services_of(client).teams.create(TeamCreate(name=name), Actor("test"))


def publish(client: TestClient, *names: str) -> None:
    body = {"name": "Fake", "type": "openai", "api_key": "sk-test-0000000000abcd"}
    answer = client.post("/admin/v1/providers", json=body, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    for name in names:
        model = {"provider_id": answer.json()["id"], "model_id": name, "name": name}
        created = client.post(
            "/admin/v1/models", json=model, params={"skip_catalog_check": "true"}, headers=ADMIN
        )
        assert created.status_code == 201, created.text


def post(client: TestClient, path: str, data: dict[str, Any], page: str) -> Any:
    return client.post(path, data={**data, "csrf_token": page_csrf(client, page)})


def test_the_list_shows_teams_with_their_key_counts(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    research, ops = team(signed_in, "research"), team(signed_in, "ops")
    for name in ("a", "b"):
        services.tollway_keys.create(TollwayKeyCreate(name=name, team_id=research.id), Actor("t"))
    services.tollway_keys.create(TollwayKeyCreate(name="loose"), Actor("t"))
    html = signed_in.get("/console/teams").text
    rows = re.findall(
        r"<tr>\s*<td><a href=\"([^\"]+)\">([^<]+)</a></td>\s*<td[^>]*>(\d+)</td>", html
    )
    assert [(name, count) for _, name, count in rows] == [("ops", "0"), ("research", "2")]
    assert rows[1][0] == f"/console/teams/{research.id}"
    assert ops.name in html
    assert ">1 tollway key without a team</a>" in html


def test_creating_a_team_validates_next_to_its_field(signed_in: TestClient) -> None:
    empty = post(signed_in, "/console/teams", {"name": "  "}, "/console/teams")
    assert empty.status_code == 422
    assert 'id="name-error"' in empty.text
    assert 'aria-invalid="true"' in empty.text

    created = post(
        signed_in, "/console/teams", {"name": "ops", "byok_only": "true"}, "/console/teams"
    )
    assert created.status_code == 303
    [made] = services_of(signed_in).teams.list()
    assert made.byok_only is True
    assert created.headers["location"] == f"/console/teams/{made.id}"
    assert "Team &#39;ops&#39; created" in signed_in.get(created.headers["location"]).text

    taken = post(signed_in, "/console/teams", {"name": "ops"}, "/console/teams")
    assert taken.status_code == 409
    assert re.search(r'id="name-error">[^<]*already exists', taken.text)
    assert 'value="ops"' in taken.text  # the form keeps what was typed


def test_a_new_key_is_shown_once_in_its_own_answer_and_never_again(signed_in: TestClient) -> None:
    publish(signed_in, "gpt-4o", "claude")
    research = team(signed_in)
    detail = f"/console/teams/{research.id}"
    assert '<option value="claude">' in signed_in.get(detail).text  # published names

    data = {"name": "agent", "allowed_models": ["gpt-4o", "claude"], "expires_on": "2099-01-31"}
    answer = post(signed_in, f"{detail}/keys", data, detail)
    assert answer.status_code == 201, answer.text
    [shown] = set(KEY.findall(answer.text))
    assert f'<code id="new-key">{shown}</code>' in answer.text
    assert 'data-copy="#new-key"' in answer.text
    assert "only time tollway shows this key" in answer.text
    assert f'data-replace-url="{detail}"' in answer.text

    [key] = services_of(signed_in).tollway_keys.list(research.id)
    assert shown.startswith(key.prefix)
    assert key.allowed_models == ["gpt-4o", "claude"]
    assert key.expires_at is not None
    assert key.expires_at.isoformat() == "2099-01-31T00:00:00+00:00"
    # Revisiting, any page, the flashes, a reload: never the key again, only its prefix.
    again = signed_in.get(detail)
    assert shown not in again.text
    assert f"{key.prefix}…" in again.text
    assert "gpt-4o, claude" in again.text
    assert "2099-01-31 00:00 UTC" in again.text
    for path in ("/console/teams", "/console/"):
        assert shown not in signed_in.get(path).text
    assert not KEY.search(signed_in.get(detail).text)


def test_key_form_errors_sit_next_to_their_fields(signed_in: TestClient) -> None:
    research = team(signed_in)
    detail = f"/console/teams/{research.id}"
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    cases = [
        ({"name": "", "expires_on": ""}, "name"),
        ({"name": "agent", "expires_on": "31/01/2099"}, "expires_on"),
        ({"name": "agent", "expires_on": yesterday}, "expires_on"),
    ]
    for data, field in cases:
        answer = post(signed_in, f"{detail}/keys", data, detail)
        assert answer.status_code == 422, (data, answer.text)
        assert f'id="{field}-error"' in answer.text, data
        assert not KEY.search(answer.text)
    assert "must be in the future" in answer.text
    assert f'value="{yesterday}"' in answer.text
    assert services_of(signed_in).tollway_keys.list(research.id) == []


def test_revoking_is_only_for_this_teams_keys(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    research, ops = team(signed_in, "research"), team(signed_in, "ops")
    key = services.tollway_keys.create(TollwayKeyCreate(name="a", team_id=research.id), Actor("t"))
    detail = f"/console/teams/{research.id}"
    assert f"{detail}/keys/{key.id}/revoke" in signed_in.get(detail).text  # its confirmation

    other = post(signed_in, f"/console/teams/{ops.id}/keys/{key.id}/revoke", {}, detail)
    assert other.status_code == 404
    forged = signed_in.post(f"{detail}/keys/{key.id}/revoke", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert services.tollway_keys.get(key.id).revoked_at is None

    revoked = post(signed_in, f"{detail}/keys/{key.id}/revoke", {}, detail)
    assert revoked.status_code == 303
    html = signed_in.get(detail).text
    assert "revoked: agents using it are refused" in html
    assert 'class="badge badge-revoked"' in html
    assert f"{detail}/keys/{key.id}/revoke" not in html  # nothing left to revoke
    twice = post(signed_in, f"{detail}/keys/{key.id}/revoke", {}, detail)
    assert twice.status_code == 409  # a readable page, not a 500
    assert "already revoked" in twice.text
    events = services.audit.list(limit=10, offset=0, action="tollway_key.revoke").items
    assert [event.actor for event in events] == ["console"]


@pytest.mark.parametrize("path", ["/console/teams/not-an-id", "/console/teams/" + "0" * 32])
def test_a_missing_team_is_a_page_not_a_500(signed_in: TestClient, path: str) -> None:
    answer = signed_in.get(path)
    assert answer.status_code in (404, 422)
    assert "text/html" in answer.headers["content-type"]


def test_an_empty_team_can_be_deleted(signed_in: TestClient) -> None:
    research = team(signed_in)
    detail = f"/console/teams/{research.id}"
    assert "Delete team" in signed_in.get(detail).text
    deleted = post(signed_in, f"{detail}/delete", {}, detail)
    assert deleted.status_code == 303
    assert services_of(signed_in).teams.list() == []
