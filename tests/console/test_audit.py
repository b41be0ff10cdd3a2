"""The audit page in-process: newest first, filters by actor, action and target,
paging with a cap, readable details, and never a secret."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN
from tests.console.conftest import services_of
from tollway.domain.common import Actor
from tollway.domain.teams import TeamCreate
from tollway.store.repositories import audit as audit_trail


def seed_teams(client: TestClient, count: int, actor: str = "admin") -> list[str]:
    """``count`` teams created (and audited) by ``actor``; their ids, oldest first."""
    teams = services_of(client).teams
    return [
        str(teams.create(TeamCreate(name=f"team-{n:03}"), Actor(actor)).id) for n in range(count)
    ]


def actions_shown(html: str) -> list[str]:
    return re.findall(r'action=[^"]*">([a-z_.]+)</a>', html)


def test_newest_first_with_readable_details(signed_in: TestClient) -> None:
    seed_teams(signed_in, 2)
    html = signed_in.get("/console/audit").text
    assert "Showing 1 to 3 of 3 events, newest first." in html
    names = re.findall(r"<dt>name</dt><dd>(team-\d+)</dd>", html)
    assert names == ["team-001", "team-000"]
    # The operator's own sign-in is on the trail too, oldest here.
    assert actions_shown(html) == ["team.create", "team.create", "console.signed_in"]


def test_filters_by_actor_action_and_target(signed_in: TestClient) -> None:
    ids = seed_teams(signed_in, 3, actor="admin")
    services_of(signed_in).teams.delete(uuid.UUID(ids[0]), Actor("console"))
    by_actor = signed_in.get("/console/audit", params={"actor": "console"}).text
    assert actions_shown(by_actor) == ["team.delete", "console.signed_in"]
    by_action = signed_in.get("/console/audit", params={"action": "team.create"}).text
    assert "of 3 events" in by_action
    by_target = signed_in.get("/console/audit", params={"target": f"team:{ids[0]}"}).text
    assert actions_shown(by_target) == ["team.delete", "team.create"]
    assert '<option value="team.delete">' in by_target  # the action filter offers it
    nothing = signed_in.get("/console/audit", params={"actor": "nobody"}).text
    assert "No events match." in nothing


def test_pages_of_fifty_keep_the_filters(signed_in: TestClient) -> None:
    seed_teams(signed_in, 55)
    first = signed_in.get("/console/audit", params={"action": "team.create"}).text
    assert "Showing 1 to 50 of 55 events" in first
    assert "page=2" in first
    assert "action=team.create&amp;page=2" in first
    second = signed_in.get("/console/audit", params={"action": "team.create", "page": "2"}).text
    assert "Showing 51 to 55 of 55 events" in second
    assert re.findall(r"<dt>name</dt><dd>(team-\d+)</dd>", second) == [
        f"team-{n:03}" for n in range(4, -1, -1)
    ]
    assert 'rel="next"' not in second


def test_a_bad_page_or_overlong_filter_is_a_field_error(signed_in: TestClient) -> None:
    for params in ({"page": "0"}, {"page": "x"}, {"page": "100000"}, {"actor": "a" * 201}):
        response = signed_in.get("/console/audit", params=params)
        assert response.status_code == 422, params
        assert "Please correct the following" in response.text


def test_details_never_show_a_known_secret(signed_in: TestClient) -> None:
    database = services_of(signed_in).database
    with database.session() as session:
        audit_trail.append_event(
            session, "admin", "test.leak", "settings", {"quoted": f"token {ADMIN_TOKEN} here"}
        )
        session.commit()
    html = signed_in.get("/console/audit").text
    assert "test.leak" in html
    assert ADMIN_TOKEN not in html
    assert "[redacted]" in html


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/console/audit")
    assert response.status_code == 303
