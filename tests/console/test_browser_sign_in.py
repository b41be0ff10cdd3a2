"""Sign-in, home and sign-out in a real browser, as an operator does them: by
keyboard, with labelled controls, under the strict CSP (the ``page`` fixtures fail
on any script or CSP error)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.console.browser import (
    PHONE,
    ConsoleServer,
    RequestLog,
    Screenshots,
    assert_controls_labelled,
    tab_to,
)

NAV = ["Home", "Providers", "Models", "Teams & keys", "Limits", "Prices", "Usage", "Audit"]


def test_a_wrong_token_then_the_right_one_by_keyboard(
    anonymous_page: Page, console_server: ConsoleServer, shots: Screenshots
) -> None:
    page = anonymous_page
    page.goto(console_server.url("/console/usage"))
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fconsole%2Fusage$"))
    expect(page).to_have_title("Sign in · tollway console")
    assert_controls_labelled(page)
    token = page.get_by_label("Admin token")
    expect(token).to_be_focused()  # autofocus: type straight away

    token.fill("twadmin-not-it")
    token.press("Enter")
    error = page.locator("#token-error")
    expect(error).to_have_text("That is not a valid admin token. Check it and try again.")
    expect(token).to_have_attribute("aria-invalid", "true")
    expect(token).to_have_attribute("aria-describedby", re.compile("token-error"))
    expect(token).to_have_value("")  # the wrong token is not shown back
    shots.take(page, "console-sign-in-error")

    tab_to(page, token)
    page.keyboard.type(console_server.admin_token)
    tab_to(page, page.get_by_role("button", name="Sign in"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(console_server.url("/console/usage"))


def test_home_shows_health_and_navigation_then_sign_out(
    page: Page, console_server: ConsoleServer, shots: Screenshots
) -> None:
    requests = RequestLog()
    requests.watch(page)
    page.goto(console_server.url("/console/"))
    expect(page).to_have_title("Home · tollway console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Home")
    nav = page.get_by_role("navigation", name="Console")
    for label in NAV:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("status").filter(has_text="serving normally")).to_be_visible()
    dependencies = page.get_by_role("region", name="Dependencies")
    for label in ("Database", "Secret store", "Quota store", "Usage journal"):
        expect(dependencies.get_by_text(label, exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Last hour")).to_contain_text("Error rate")
    expect(page.get_by_role("table", name="Recent fallbacks to OpenRouter")).to_be_visible()
    assert len(requests.urls) <= 4, requests.urls  # the page, its CSS, its script
    assert_controls_labelled(page)
    shots.take(page, "console-home")

    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the home page scrolls sideways at 390 px ({width} px)"

    tab_to(page, nav.get_by_role("link", name="Providers"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(console_server.url("/console/providers"))

    sign_out = page.get_by_role("button", name="Sign out")
    tab_to(page, sign_out)
    page.keyboard.press("Enter")
    expect(page).to_have_url(console_server.url("/console/login?signed_out=1"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(console_server.url("/console/"))
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
