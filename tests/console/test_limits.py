"""The limits page in-process: every scope can be chosen, every window set; the domain's
validation shown next to its field; edit (an emptied field removes that limit), delete."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.console.conftest import page_csrf, services_of
from tollway.domain.common import Actor
from tollway.domain.limits import LIMIT_FIELDS, LimitsCreate
from tollway.domain.teams import TeamCreate
from tollway.domain.tollway_keys import TollwayKeyCreate
from tollway.store.enums import LimitScope

ACTOR = Actor("test")


def post(client: TestClient, path: str, data: dict[str, Any], page: str = "/console/limits") -> Any:
    return client.post(path, data={**data, "csrf_token": page_csrf(client, page)})


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match[1]


def test_every_scope_and_window_is_offered(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    team = services.teams.create(TeamCreate(name="research"), ACTOR)
    key = services.tollway_keys.create(TollwayKeyCreate(name="agent", team_id=team.id), ACTOR)
    revoked = services.tollway_keys.create(TollwayKeyCreate(name="old"), ACTOR)
    services.tollway_keys.revoke(revoked.id, ACTOR)
    html = signed_in.get("/console/limits").text
    assert f'<option value="team:{team.id}">research</option>' in html
    assert f'<option value="tollway_key:{key.id}">agent ({key.prefix}…)</option>' in html
    assert f"tollway_key:{revoked.id}" not in html  # a revoked key needs no limits
    for field in LIMIT_FIELDS:
        assert f'<label for="{field}">' in html, field
    assert "No limits yet" in html
    preselected = signed_in.get(f"/console/limits?target=team:{team.id}").text
    assert f'<option value="team:{team.id}" selected>' in preselected


def test_a_bad_value_is_shown_next_to_its_field_and_kept(signed_in: TestClient) -> None:
    team = services_of(signed_in).teams.create(TeamCreate(name="research"), ACTOR)
    target = f"team:{team.id}"
    bad = post(signed_in, "/console/limits", {"target": target, "requests_per_minute": "0"})
    assert bad.status_code == 422
    assert "greater than 0" in field_error(bad.text, "requests_per_minute")
    assert 'value="0"' in bad.text
    assert f'<option value="{target}" selected>' in bad.text

    words = post(signed_in, "/console/limits", {"target": target, "usd_per_day": "lots"})
    assert "decimal" in field_error(words.text, "usd_per_day")

    nothing = post(signed_in, "/console/limits", {"target": target})
    assert "set at least one" in field_error(nothing.text, "requests_per_minute")

    nowhere = post(signed_in, "/console/limits", {"target": "", "tokens_per_day": "5"})
    assert nowhere.status_code == 422
    field_error(nowhere.text, "target")
    assert services_of(signed_in).limits.list() == []


def test_limits_are_created_listed_edited_and_deleted(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    team = services.teams.create(TeamCreate(name="research"), ACTOR)
    data = {
        "target": f"team:{team.id}",
        "requests_per_minute": "120",
        "tokens_per_day": "1000000",
        "usd_per_month": "50",
        "usd_total": "0.5",
    }
    created = post(signed_in, "/console/limits", data)
    assert created.status_code == 303, created.text
    html = signed_in.get("/console/limits").text
    assert "Limits set for team &#39;research&#39;." in html
    for line in (
        "120 requests / minute",
        "1,000,000 tokens / day",
        "$50.00 / month",
        "$0.50 in total",
    ):
        assert line in html, line
    [entry] = services.limits.list()
    assert entry.scope is LimitScope.TEAM

    again = post(signed_in, "/console/limits", data)
    assert again.status_code == 409
    assert "already exist" in field_error(again.text, "target")

    edit = f"/console/limits/{entry.id}"
    form = signed_in.get(edit).text
    assert 'value="50"' in form  # not 50.000000000000
    changed = {**{f: "" for f in LIMIT_FIELDS}, "requests_per_minute": "60", "usd_per_month": "50"}
    saved = post(signed_in, edit, changed, edit)
    assert saved.status_code == 303, saved.text
    updated = services.limits.get(entry.id)
    assert (updated.requests_per_minute, updated.tokens_per_day) == (60, None)

    emptied = post(signed_in, edit, dict.fromkeys(LIMIT_FIELDS, ""), edit)
    assert emptied.status_code == 422
    assert "delete the entry" in field_error(emptied.text, "requests_per_minute")

    assert 'data-confirm="Delete every limit of team' in signed_in.get("/console/limits").text
    deleted = post(signed_in, f"{edit}/delete", {})
    assert deleted.status_code == 303
    assert services.limits.list() == []
    actors = {e.actor for e in services.audit.list(limit=20, offset=0, target=None).items}
    assert "console" in actors


def test_a_limit_of_a_deleted_scope_or_a_missing_entry_is_a_page(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    team = services.teams.create(TeamCreate(name="gone"), ACTOR)
    services.limits.create(
        LimitsCreate(scope=LimitScope.TEAM, scope_id=team.id, requests_per_minute=5), ACTOR
    )
    missing = signed_in.get("/console/limits/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "5 requests / minute" in signed_in.get("/console/limits").text
