"""Teams, limits and prices in a real browser, as an operator uses them:

- teams: create a team, create a key and see it once with a working copy button, reload
  and it is gone (only its prefix stays), revoke it after its confirmation page;
- limits, by keyboard only: a bad value is refused next to its field, fixed, listed,
  edited and deleted;
- prices: sync, set a manual price (marked), remove it back to the synced source.

One server for the module; each test makes its own data.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
from playwright.sync_api import Dialog, Page, expect
from sqlmodel import select

from tests.console.browser import (
    ConsoleServer,
    RequestLog,
    Screenshots,
    assert_controls_labelled,
    tab_to,
)
from tollway.settings import Settings
from tollway.store.db import Database
from tollway.store.tables import DiscoveredModel, Model


def admin(server: ConsoleServer) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


def publish(server: ConsoleServer, provider: str, *names: str) -> dict[str, str]:
    """A provider with these models published; {name: model row id}."""
    with admin(server) as api:
        body = {"name": provider, "type": "openai", "api_key": "sk-test-0000000000abcd"}
        created = api.post("/admin/v1/providers", json=body)
        assert created.status_code == 201, created.text
        ids = {}
        for name in names:
            model = {"provider_id": created.json()["id"], "model_id": name, "name": name}
            answer = api.post("/admin/v1/models", json=model, params={"skip_catalog_check": "true"})
            assert answer.status_code == 201, answer.text
            ids[name] = answer.json()["id"]
    return ids


def _models_named(name: str) -> Any:
    return select(Model).where(Model.name == name)


def confirm(page: Page, asked: list[str], *, accept: bool = True) -> None:
    """Answer the next confirmation dialog, noting what it asked."""

    def handle(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", handle)


MODELS = ("claude-sonnet", "gpt-4o", "llama-3")


def test_a_key_is_shown_once_copied_gone_on_reload_then_revoked(
    page: Page, console_server: ConsoleServer, shots: Screenshots
) -> None:
    publish(console_server, "Fake", *MODELS)
    page.goto(console_server.url("/console/teams"))
    expect(page.get_by_text("No teams yet")).to_be_visible()
    assert_controls_labelled(page)
    page.get_by_label("Team name").fill("research")
    page.get_by_role("button", name="Create team").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Team research")
    expect(page.get_by_role("status")).to_contain_text("Team 'research' created")
    assert_controls_labelled(page)
    detail = page.url
    page.get_by_label("Key name", exact=False).fill("agent-1")
    page.get_by_label("Allowed models").select_option(["gpt-4o", "llama-3"])
    page.get_by_label("Expires on").fill("2099-01-31")
    page.get_by_role("button", name="Create key").click()

    # The key, once, with a copy button that copies exactly it.
    shown = page.locator("#new-key")
    expect(page.get_by_role("heading", name=re.compile("copy it now"))).to_be_visible()
    key = shown.inner_text()
    assert re.fullmatch(r"tw-[A-Za-z0-9_-]{40,}", key)
    expect(page.get_by_text("only time tollway shows this key")).to_be_visible()
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=console_server.base_url
    )
    copy = page.locator('button[data-copy="#new-key"]')
    expect(copy).to_have_text("Copy key")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert page.url == detail  # the answer took the team's address: a reload re-posts nothing

    # Reload: the key is gone for good, its prefix and settings stay; no second key.
    log = RequestLog()
    log.watch(page)
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)
    assert key not in page.content()
    assert len(log.urls) <= 5, log.urls  # the page, two stylesheets, two scripts
    rows = page.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text(f"{key[:10]}…")
    expect(row).to_contain_text("gpt-4o, llama-3")
    expect(row).to_contain_text("2099-01-31 00:00 UTC")
    expect(row).to_contain_text("never")  # not used yet
    expect(row.locator(".badge")).to_have_text("active")
    shots.take(page, "team-detail")

    page.get_by_role("link", name="Teams & keys").first.click()
    team_row = page.get_by_role("row", name=re.compile("research"))
    expect(team_row).to_contain_text("1")
    shots.take(page, "teams")
    team_row.get_by_role("link", name="research").click()

    # Revoke: a page says what it does first (cancelling keeps the key), then refused.
    page.get_by_role("link", name="Revoke key agent-1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke key agent-1?")
    expect(page.locator("dl.facts")).to_contain_text(f"agent-1, prefix {key[:10]}…")
    assert key not in page.content()
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("tbody tr .badge")).to_have_text("active")
    page.get_by_role("link", name="Revoke key agent-1").click()
    page.get_by_role("button", name=re.compile("Revoke key agent-1")).click()
    expect(page.get_by_role("status")).to_contain_text("Key 'agent-1'")
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.locator("tbody tr .badge")).to_have_text("revoked")
    expect(page.get_by_role("link", name="Revoke key agent-1")).to_have_count(0)
    assert key not in page.content()


def test_limits_by_keyboard_only_a_bad_value_then_fixed_listed_edited_deleted(
    page: Page, console_server: ConsoleServer, shots: Screenshots
) -> None:
    with admin(console_server) as api:
        team = api.post("/admin/v1/teams", json={"name": "ops"}).json()
    page.goto(console_server.url("/console/limits"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Limits")
    assert_controls_labelled(page)

    target = page.get_by_label("Applies to")
    tab_to(page, target)
    page.keyboard.type("ops")  # a focused select picks the option typed
    expect(target).to_have_value(f"team:{team['id']}")
    per_minute = page.get_by_label("Requests per minute")
    tab_to(page, per_minute)
    page.keyboard.type("0")
    page.keyboard.press("Enter")

    error = page.locator("#requests_per_minute-error")
    expect(error).to_have_text("Input should be greater than 0")
    expect(per_minute).to_have_attribute("aria-invalid", "true")
    expect(per_minute).to_have_attribute(
        "aria-describedby", re.compile("requests_per_minute-error")
    )
    expect(page.get_by_role("alert").filter(has_text="Please correct")).to_be_visible()
    expect(target).to_have_value(f"team:{team['id']}")  # kept, with the bad value
    expect(per_minute).to_have_value("0")
    assert_controls_labelled(page)

    tab_to(page, per_minute)
    page.keyboard.press("Control+A")
    page.keyboard.type("120")
    tab_to(page, page.get_by_label("USD per day"))
    page.keyboard.type("25")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Limits set for team 'ops'.")
    row = page.get_by_role("row", name=re.compile("ops"))
    expect(row).to_contain_text("120 requests / minute")
    expect(row).to_contain_text("$25.00 / day")
    shots.take(page, "limits")

    tab_to(page, page.get_by_role("link", name="Edit the limits of ops"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Limits for team ops")
    assert_controls_labelled(page)
    field = page.get_by_label("Requests per minute")
    expect(field).to_have_value("120")
    tab_to(page, field)
    page.keyboard.press("Control+A")
    page.keyboard.type("60")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Limits for 'ops' saved.")
    expect(row).to_contain_text("60 requests / minute")

    asked: list[str] = []
    confirm(page, asked)
    tab_to(page, page.get_by_role("button", name="Delete the limits of ops"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Limits for 'ops' deleted.")
    expect(page.get_by_text("No limits yet")).to_be_visible()
    assert asked == ["Delete every limit of team 'ops'?"]


def test_prices_sync_then_a_manual_price_marked_then_removed(
    page: Page, console_server: ConsoleServer, shots: Screenshots
) -> None:
    ids = publish(console_server, "Acme", "acme-large", "acme-secret")
    database = Database(Settings(data_dir=console_server.data_dir).resolved_database_url)
    try:
        with database.session() as session:
            [provider_id] = {m.provider_id for m in session.exec(_models_named("acme-large")).all()}
            session.add(
                DiscoveredModel(
                    provider_id=provider_id,
                    model_id="acme-large",
                    input_price=Decimal("0.0000025"),
                    output_price=Decimal("0.00001"),
                    sources={"input_price": "litellm", "output_price": "litellm"},
                    content_hash="test",
                )
            )
    finally:
        database.dispose()

    page.goto(console_server.url("/console/prices"))
    large = page.get_by_role("row", name=re.compile("acme-large"))
    expect(large).to_contain_text("unpriced")
    page.get_by_role("button", name="Sync prices").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Prices synced: 1 changed")
    expect(status).to_contain_text("acme-large (Acme) input unpriced → $2.50/M from LiteLLM map")
    expect(large).to_contain_text("$2.50")
    expect(large).to_contain_text("$10.00")
    expect(large.locator(".badge")).to_have_text("LiteLLM map")
    expect(page.get_by_role("row", name=re.compile("acme-secret"))).to_contain_text("unpriced")
    assert "$0.00" not in page.content()

    large.get_by_role("link", name=re.compile("Set a manual price for acme-large")).click()
    expect(page.get_by_label(re.compile(r"^Model"))).to_have_value(ids["acme-large"])
    assert_controls_labelled(page)
    page.get_by_label("Input price (USD per million tokens)", exact=True).fill("3")
    page.get_by_label("Output price (USD per million tokens)").fill("12.50")
    page.get_by_role("button", name="Set manual price").click()
    expect(status).to_contain_text("Manual price set for acme-large (Acme)")
    expect(large.locator(".badge")).to_have_text("manual override")
    expect(large).to_contain_text("$3.00")
    expect(large).to_contain_text("$12.50")
    shots.take(page, "prices")

    asked: list[str] = []
    confirm(page, asked)
    large.get_by_role("button", name=re.compile("Remove the manual price of acme-large")).click()
    expect(status).to_contain_text("back to LiteLLM map: input $2.50/M, output $10.00/M")
    expect(large.locator(".badge")).to_have_text("LiteLLM map")
    expect(large).to_contain_text("$2.50")
    assert asked[0].startswith("Remove the manual price of acme-large?")
