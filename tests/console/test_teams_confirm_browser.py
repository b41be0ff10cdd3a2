"""With JavaScript off, in a real browser: revoking a tollway key and deleting a team
happen only through their confirmation pages, which say what will happen (the key by
name and prefix, never the key; the team with what it owns), and fit a phone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import (
    ConsoleServer,
    Screenshots,
    assert_controls_labelled,
    assert_fits_phone,
)


@pytest.fixture(scope="module")
def admin(console_server: ConsoleServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {console_server.admin_token}"}
    with httpx.Client(base_url=console_server.base_url, headers=headers) as client:
        yield client


def new_team(admin: httpx.Client) -> dict[str, str]:
    created = admin.post("/admin/v1/teams", json={"name": f"team-{uuid.uuid4().hex[:8]}"})
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_key_is_revoked_through_its_confirmation_page_without_javascript(
    no_script_page: Page, console_server: ConsoleServer, admin: httpx.Client, shots: Screenshots
) -> None:
    page = no_script_page
    team = new_team(admin)
    created = admin.post("/admin/v1/keys", json={"name": "agent-1", "team_id": team["id"]})
    key = created.json()
    page.goto(console_server.url(f"/console/teams/{team['id']}"))

    page.get_by_role("link", name="Revoke key agent-1").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke key agent-1?")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(f"agent-1, prefix {key['prefix']}…")
    expect(facts).to_contain_text(team["name"])
    expect(page.locator("[data-outcome=revoke]")).to_contain_text(
        "Agents using this key stop at once"
    )
    expect(page.locator("[data-outcome=revoke]")).to_contain_text("It cannot be undone")
    assert key["key"] not in page.content()
    assert_controls_labelled(page)
    shots.take(page, "tollway-key-revoke")
    assert_fits_phone(page)
    page.get_by_role("button", name="Revoke key agent-1").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Team {team['name']}")
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.locator("tbody tr .badge")).to_have_text("revoked")
    assert admin.get(f"/admin/v1/keys/{key['id']}").json()["revoked_at"] is not None
    assert key["key"] not in page.content()


def test_a_team_is_deleted_through_its_confirmation_page_without_javascript(
    no_script_page: Page, console_server: ConsoleServer, admin: httpx.Client, shots: Screenshots
) -> None:
    page = no_script_page
    team = new_team(admin)
    limit = {"scope": "team", "scope_id": team["id"], "requests_per_minute": 5}
    admin.post("/admin/v1/limits", json=limit).raise_for_status()
    page.goto(console_server.url(f"/console/teams/{team['id']}"))

    page.get_by_role("link", name=f"Delete team {team['name']}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Delete team {team['name']}?")
    expect(page.locator("[data-use=keys]")).to_have_text("It owns no tollway keys.")
    expect(page.locator("[data-outcome=delete]")).to_contain_text(
        "The team and its limits are deleted."
    )
    assert_controls_labelled(page)
    shots.take(page, "team-delete")
    page.get_by_role("button", name=f"Delete team {team['name']}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Teams & keys")
    expect(page.get_by_role("status")).to_contain_text(f"Team '{team['name']}' deleted.")
    assert admin.get(f"/admin/v1/teams/{team['id']}").status_code == 404


def test_a_team_with_keys_is_refused_on_its_page_and_it_fits_a_phone(
    no_script_page: Page, console_server: ConsoleServer, admin: httpx.Client
) -> None:
    page = no_script_page
    team = new_team(admin)
    admin.post("/admin/v1/keys", json={"name": "agent-2", "team_id": team["id"]})
    page.goto(console_server.url(f"/console/teams/{team['id']}/delete"))

    expect(page.locator("[data-use=keys]")).to_contain_text("It owns 1 tollway key: agent-2")
    expect(page.locator("[data-outcome=refused]")).to_contain_text(
        "tollway refuses to delete a team that still owns keys."
    )
    expect(page.get_by_role("button", name=f"Delete team {team['name']}")).to_have_count(0)
    assert_fits_phone(page)
