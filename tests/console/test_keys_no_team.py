"""Tollway keys without a team: the teams page links to them, their page lists them
(never the key itself), and each is revoked through the shared confirmation page; a
team's key is not reachable there."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

from tests.console.conftest import page_csrf, services_of
from tests.console.test_models import text_of
from tests.console.test_provider_keys import flash_after
from tests.console.test_teams import team
from tests.console.test_teams_confirm import ADMIN, form_action
from tollway.domain.tollway_keys import TollwayKeyCreate


def test_keys_without_a_team_are_listed_and_revoked_through_the_confirmation(
    signed_in: TestClient,
) -> None:
    services = services_of(signed_in)
    loose = services.tollway_keys.create(TollwayKeyCreate(name="ci-runner"), ADMIN)
    owned = services.tollway_keys.create(
        TollwayKeyCreate(name="agent-1", team_id=team(signed_in).id), ADMIN
    )

    teams = signed_in.get("/console/teams").text
    assert 'href="/console/keys/no-team">1 tollway key without a team</a>' in teams

    listing = signed_in.get("/console/keys/no-team")
    assert listing.status_code == 200
    words = text_of(listing.text)
    assert "ci-runner" in words
    assert "agent-1" not in words  # a team's key is on its team's page
    assert loose.key not in listing.text
    confirm = f"/console/keys/no-team/{loose.id}/revoke"
    assert f'href="{confirm}"' in listing.text

    page = signed_in.get(confirm)
    assert page.status_code == 200
    assert loose.key not in page.text
    words = text_of(page.text)
    assert f"ci-runner, prefix {loose.prefix}…" in words
    assert "Team none" in words
    assert "Agents using this key stop at once" in words
    assert form_action(page.text) == confirm
    answer = signed_in.post(confirm, data={"csrf_token": page_csrf(signed_in, confirm)})
    flash = html.unescape(text_of(flash_after(signed_in, answer)))
    assert f"Key 'ci-runner' ({loose.prefix}…) revoked" in flash
    assert services.tollway_keys.get(loose.id).revoked_at is not None
    events = services.audit.list(limit=10, offset=0, action="tollway_key.revoke").items
    assert [event.actor for event in events] == ["console"]

    # A team's key is not revoked from here, by page or by POST.
    other = f"/console/keys/no-team/{owned.id}/revoke"
    assert signed_in.get(other).status_code == 404
    token = page_csrf(signed_in, "/console/keys/no-team")
    assert signed_in.post(other, data={"csrf_token": token}).status_code == 404
    assert services.tollway_keys.get(owned.id).revoked_at is None


def test_with_every_key_in_a_team_the_page_says_so(signed_in: TestClient) -> None:
    assert "without a team</a>" not in signed_in.get("/console/teams").text
    words = text_of(signed_in.get("/console/keys/no-team").text)
    assert "Every tollway key belongs to a team." in words
