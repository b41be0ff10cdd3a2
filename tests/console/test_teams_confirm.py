"""Revoking a tollway key and deleting a team through their confirmation pages, in
process: the revoke page names the key by name, team and prefix (never the key) and
says agents stop at once, for good; the delete page lists what the team owns and says
tollway refuses while it owns keys, or deletes it with its limits; each form POSTs to
the action's route, audited as the console; unknown ids and a missing CSRF token are
refused."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.console.conftest import page_csrf, services_of
from tests.console.test_models import text_of
from tests.console.test_provider_keys import flash_after
from tests.console.test_teams import ADMIN as ADMIN_HEADERS
from tests.console.test_teams import team
from tollway.domain.common import Actor
from tollway.domain.limits import LimitsCreate
from tollway.domain.provider_keys import ProviderKeyCreate
from tollway.domain.tollway_keys import TollwayKeyCreate
from tollway.store.enums import LimitScope
from tollway.store.tables import TollwayKey, utcnow

ADMIN = Actor("admin")
PROVIDER_SECRET = "sk-team-own-0123456789abcdef"


def form_action(html: str) -> str:
    form = re.search(r'<form class="form" method="post" action="([^"]+)"', html)
    assert form, html
    return form[1]


def test_the_team_page_links_to_the_confirmations_instead_of_script_prompts(
    signed_in: TestClient,
) -> None:
    research = team(signed_in)
    created = services_of(signed_in).tollway_keys.create(
        TollwayKeyCreate(name="agent-1", team_id=research.id), ADMIN
    )
    detail = f"/console/teams/{research.id}"
    page = signed_in.get(detail).text
    revoke = f'href="{detail}/keys/{created.id}/revoke" aria-label="Revoke key agent-1">Revoke…</a>'
    assert revoke in page
    assert f'href="{detail}/delete">Delete team research…</a>' in page
    assert "data-confirm=" not in page
    assert created.key not in page


def test_the_revoke_page_names_the_key_never_the_secret_and_revokes(
    signed_in: TestClient,
) -> None:
    services = services_of(signed_in)
    research = team(signed_in)
    created = services.tollway_keys.create(
        TollwayKeyCreate(name="agent-1", team_id=research.id, allowed_models=["gpt-4o"]), ADMIN
    )
    path = f"/console/teams/{research.id}/keys/{created.id}/revoke"

    page = signed_in.get(path)

    assert page.status_code == 200
    assert created.key not in page.text
    words = text_of(page.text)
    assert "Revoke key agent-1?" in words
    assert f"agent-1, prefix {created.prefix}…" in words
    assert "Team research" in words
    assert "Allowed models gpt-4o" in words
    assert "Agents using this key stop at once" in words
    assert "It cannot be undone" in words
    assert form_action(page.text) == path
    answer = signed_in.post(path, data={"csrf_token": page_csrf(signed_in, path)})
    flash = html.unescape(text_of(flash_after(signed_in, answer)))
    assert f"Key 'agent-1' ({created.prefix}…) revoked" in flash
    assert services.tollway_keys.get(created.id).revoked_at is not None
    events = services.audit.list(limit=10, offset=0, action="tollway_key.revoke").items
    assert [event.actor for event in events] == ["console"]

    again = text_of(signed_in.get(path).text)
    assert "It is already revoked" in again
    assert "Revoke key agent-1 (" not in again  # no button left


def test_an_expired_key_is_said_to_be_refused_already(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    research = team(signed_in)
    created = services.tollway_keys.create(
        TollwayKeyCreate(name="old", team_id=research.id, expires_at=utcnow() + timedelta(days=1)),
        ADMIN,
    )
    with services_of(signed_in).database.session() as session:
        row = session.get(TollwayKey, created.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(days=1)
        session.add(row)
    path = f"/console/teams/{research.id}/keys/{created.id}/revoke"
    words = text_of(signed_in.get(path).text)
    assert "It has expired, so agents using it are refused already" in words
    assert "stop at once" not in words


def test_a_team_with_keys_is_refused_and_the_page_says_so(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    research = team(signed_in)
    created = services.tollway_keys.create(
        TollwayKeyCreate(name="agent-1", team_id=research.id), ADMIN
    )
    services.tollway_keys.revoke(created.id, ADMIN)
    body = {"name": "Own", "type": "openai", "api_key": "sk-shared-00000000abcd"}
    provider = signed_in.post("/admin/v1/providers", json=body, headers=ADMIN_HEADERS).json()
    own = services.provider_keys.add(
        uuid.UUID(provider["id"]),
        ProviderKeyCreate.model_validate(
            {"api_key": PROVIDER_SECRET, "label": "byok", "team_id": research.id}
        ),
        ADMIN,
    )
    path = f"/console/teams/{research.id}/delete"

    page = signed_in.get(path)

    assert page.status_code == 200
    assert created.key not in page.text
    assert PROVIDER_SECRET not in page.text
    words = text_of(page.text)
    assert "Delete team research?" in words
    assert f"It owns 1 tollway key: agent-1 ( {created.prefix}… , revoked)." in words
    assert f"It owns 1 provider key: byok on Own ( {own.fingerprint} )." in words
    assert "tollway refuses to delete a team that still owns keys." in words
    assert 'method="post"' not in page.text.split("<h1>")[1]  # nothing to submit
    # The POST refuses too, with the domain's reason, and the team stays.
    answer = signed_in.post(path, data={"csrf_token": page_csrf(signed_in, path)})
    assert "still owns" in text_of(flash_after(signed_in, answer))
    assert [t.name for t in services.teams.list()] == ["research"]


def test_an_empty_team_is_deleted_with_its_limits(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    research = team(signed_in)
    limit = LimitsCreate(scope=LimitScope.TEAM, scope_id=research.id, requests_per_minute=5)
    services.limits.create(limit, ADMIN)
    path = f"/console/teams/{research.id}/delete"

    page = signed_in.get(path)

    words = text_of(page.text)
    assert "It owns no tollway keys." in words
    assert "It owns no provider keys." in words
    assert "The team and its limits are deleted." in words
    assert form_action(page.text) == path
    answer = signed_in.post(path, data={"csrf_token": page_csrf(signed_in, path)})
    assert "Team 'research' deleted." in html.unescape(flash_after(signed_in, answer))
    assert services.teams.list() == []
    assert services.limits.list(LimitScope.TEAM, research.id) == []


def test_unknown_ids_and_a_missing_token_are_refused(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    research, ops = team(signed_in, "research"), team(signed_in, "ops")
    key = services.tollway_keys.create(TollwayKeyCreate(name="a", team_id=research.id), ADMIN)
    for path in (
        f"/console/teams/{ops.id}/keys/{key.id}/revoke",  # another team's key
        f"/console/teams/{research.id}/keys/{uuid.uuid4()}/revoke",
        f"/console/teams/{uuid.uuid4()}/keys/{key.id}/revoke",
        f"/console/teams/{uuid.uuid4()}/delete",
    ):
        answer = signed_in.get(path)
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"]
    bad = signed_in.get(f"/console/teams/{research.id}/keys/not-an-id/revoke")
    assert bad.status_code == 422
    revoke = f"/console/teams/{research.id}/keys/{key.id}/revoke"
    assert signed_in.post(revoke, data={"csrf_token": "x"}).status_code == 403
    delete = f"/console/teams/{ops.id}/delete"
    assert signed_in.post(delete, data={"csrf_token": "x"}).status_code == 403
    assert services.tollway_keys.get(key.id).revoked_at is None
    assert len(services.teams.list()) == 2
