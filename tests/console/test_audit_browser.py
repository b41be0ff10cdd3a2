"""The audit page in a real browser: newest first, the filters and paging."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import (
    ConsoleServer,
    Screenshots,
    assert_controls_labelled,
    tab_to,
)


@pytest.fixture(scope="module")
def team_ids(console_server: ConsoleServer) -> list[str]:
    """55 teams created through the admin API (audited as "admin"), one deleted."""
    auth = {"Authorization": f"Bearer {console_server.admin_token}"}
    with httpx.Client(base_url=console_server.base_url, headers=auth) as client:
        ids = [
            client.post("/admin/v1/teams", json={"name": f"team-{n:03}"}).json()["id"]
            for n in range(55)
        ]
        assert client.delete(f"/admin/v1/teams/{ids[0]}").status_code == 204
    return ids


def rows(page: Page) -> list[str]:
    table = page.get_by_role("table", name="Audit events, newest first")
    return table.locator("tbody tr").all_inner_texts()


def test_filters_and_paging(
    page: Page, console_server: ConsoleServer, team_ids: list[str], shots: Screenshots
) -> None:
    page.goto(console_server.url("/console/audit"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit")
    expect(page.locator("#audit-count")).to_have_text("Showing 1 to 50 of 57 events, newest first.")
    first = rows(page)
    assert "console.signed_in" in first[0]  # this operator's own sign-in, after the teams
    assert "team.delete" in first[1]
    assert "team-054" in first[2]  # then the newest create
    assert_controls_labelled(page)
    shots.take(page, "audit")

    page.get_by_role("link", name="Older events").click()
    expect(page.locator("#audit-count")).to_have_text(
        "Showing 51 to 57 of 57 events, newest first."
    )
    assert "team-000" in rows(page)[-1]
    page.get_by_role("link", name="Newer events").click()
    expect(page.locator("#audit-count")).to_contain_text("Showing 1 to 50")

    # Filter by action and actor with the keyboard: the form keeps what was chosen.
    tab_to(page, page.get_by_label("Actor"))
    page.keyboard.type("admin")
    action = page.get_by_label("Action")
    tab_to(page, action)
    page.keyboard.type("team.delete")
    expect(action).to_have_value("team.delete")
    tab_to(page, page.get_by_role("button", name="Filter"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("action=team.delete"))
    expect(page.locator("#audit-count")).to_have_text("Showing 1 to 1 of 1 events, newest first.")
    expect(page.get_by_label("Actor")).to_have_value("admin")

    page.get_by_label("Actor").fill("console")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-count")).to_have_text("No events match.")

    # A target link narrows the trail to that team's events.
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_role("link", name=f"team:{team_ids[0]}").first.click()
    expect(page.get_by_label("Target")).to_have_value(f"team:{team_ids[0]}")
    texts = rows(page)
    assert len(texts) == 2
    assert "team.delete" in texts[0]
    assert "team.create" in texts[1]
