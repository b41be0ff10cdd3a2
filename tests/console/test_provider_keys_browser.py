"""The provider keys page in a real browser: add a team-owned key by keyboard, rotate it,
disable and enable it, delete it through its confirmation page; only fingerprints ever
on the page; and deleting a key with JavaScript off, through the page that says what
uses it."""

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
    tab_to,
)

FIRST_KEY = f"sk-shared-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def admin(console_server: ConsoleServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {console_server.admin_token}"}
    with httpx.Client(base_url=console_server.base_url, headers=headers) as client:
        yield client


def test_keys_by_fingerprint_with_team_keys_marked(
    page: Page, console_server: ConsoleServer, admin: httpx.Client, shots: Screenshots
) -> None:
    body = {"name": "Keyring", "type": "openai", "api_key": FIRST_KEY}
    provider = admin.post("/admin/v1/providers", json=body).json()
    admin.post("/admin/v1/teams", json={"name": "Research"}).raise_for_status()
    page.goto(console_server.url(f"/console/providers/{provider['id']}"))
    page.get_by_role("link", name="Manage keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Keys of Keyring")
    assert_controls_labelled(page)

    team_key = f"sk-team-{uuid.uuid4().hex}"
    tab_to(page, page.get_by_label("API key"))  # the add form, by keyboard only
    page.keyboard.type(team_key)
    page.keyboard.press("Tab")
    page.keyboard.type("byok")
    page.keyboard.press("Tab")
    page.keyboard.type("Team")  # the select's type-ahead picks "Team: Research"
    tab_to(page, page.get_by_role("button", name="Add key"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Key byok added for team Research")
    keys = admin.get(f"/admin/v1/providers/{provider['id']}/keys").json()
    rows = page.get_by_role("table", name="Provider keys").locator("tbody tr")
    expect(rows).to_have_count(2)
    byok = rows.filter(has_text="byok")
    expect(byok).to_contain_text("Team: Research")
    expect(rows.filter(has_text="default")).to_contain_text("Shared")
    for key in keys:
        expect(rows.filter(has_text=key["label"])).to_contain_text(key["fingerprint"])
    assert FIRST_KEY not in page.content()
    assert team_key not in page.content()
    shots.take(page, "provider-keys")

    page.get_by_role("link", name="Rotate key byok").click()
    page.get_by_label("New API key").fill(f"sk-rotated-{uuid.uuid4().hex}")
    page.get_by_role("button", name="Rotate key").click()
    old = next(key["fingerprint"] for key in keys if key["label"] == "byok")
    expect(page.get_by_role("status")).to_contain_text(f"fingerprint {old} is now")
    expect(byok).not_to_contain_text(old)

    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm asks first
    byok.get_by_role("button", name="Disable").click()
    expect(byok).to_contain_text("Disabled")
    byok.get_by_role("button", name="Enable").click()
    expect(byok).to_contain_text("Not tested")
    byok.get_by_role("link", name="Delete key byok").click()  # a page, not a prompt
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete key byok?")
    page.get_by_role("button", name="Delete key byok").click()
    expect(page.get_by_role("status")).to_contain_text("Key byok")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("table", name="Provider keys")).not_to_contain_text("Research")


def test_a_destructive_action_waits_for_the_confirmation(
    page: Page, console_server: ConsoleServer, admin: httpx.Client
) -> None:
    body = {"name": "Careful", "type": "anthropic", "api_key": f"sk-{uuid.uuid4().hex}"}
    provider = admin.post("/admin/v1/providers", json=body).json()
    page.goto(console_server.url(f"/console/providers/{provider['id']}/keys"))
    messages: list[str] = []

    def dismiss(dialog: object) -> None:
        messages.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dismiss)
    page.get_by_role("button", name="Disable").click()
    row = page.get_by_role("table", name="Provider keys").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text("Disabled")
    assert messages
    assert "Requests stop using it." in messages[0]
    [key] = admin.get(f"/admin/v1/providers/{provider['id']}/keys").json()
    assert key["status"] != "disabled"


def test_a_key_is_deleted_through_its_confirmation_page_without_javascript(
    no_script_page: Page, console_server: ConsoleServer, admin: httpx.Client, shots: Screenshots
) -> None:
    page = no_script_page
    secret = f"sk-{uuid.uuid4().hex}"
    body = {"name": "Plain", "type": "openai", "api_key": secret, "key_label": "main"}
    provider = admin.post("/admin/v1/providers", json=body).json()
    model = {"provider_id": provider["id"], "model_id": "gpt-4o", "name": "plain-chat"}
    admin.post("/admin/v1/models?skip_catalog_check=true", json=model).raise_for_status()
    [key] = admin.get(f"/admin/v1/providers/{provider['id']}/keys").json()
    page.goto(console_server.url(f"/console/providers/{provider['id']}/keys"))

    page.get_by_role("link", name="Delete key main").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Delete key main?")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(f"main, fingerprint {key['fingerprint']}")
    expect(facts).to_contain_text("Shared")
    expect(page.locator("[data-use=models]")).to_contain_text(
        "It serves Plain's 1 deployment: plain-chat"
    )
    expect(page.locator("[data-use=last-key]")).to_contain_text("It is Plain's only key.")
    assert secret not in page.content()
    assert_controls_labelled(page)
    shots.take(page, "provider-key-delete")
    page.get_by_role("button", name="Delete key main").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Keys of Plain")
    expect(page.get_by_role("status")).to_contain_text(
        f"Key main ({key['fingerprint']}) deleted, its secret too."
    )
    expect(page.get_by_role("table", name="Provider keys")).to_contain_text("No keys yet")
    assert admin.get(f"/admin/v1/providers/{provider['id']}/keys").json() == []
