"""In a real browser: a sign-in form posted from another site is refused with the
console's 403 page, and wrong tokens past the limit get the 429 page. A module of its
own: its failed sign-ins count against 127.0.0.1 on its server, and would lock out
other modules' sign-ins on a shared one."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.console.browser import DESKTOP, STEP_TIMEOUT_MS, ConsoleServer, Screenshots

EVIL = "http://evil.example"
LIMIT = 5  # console.sign_in_attempts_per_minute's default, which console_server keeps


@pytest.fixture
def evil_page(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    """A page on another site (served by the browser's router, no network) with a
    form that posts an admin token to the console's sign-in."""
    action = console_server.url("/console/login")
    html = (
        f'<!doctype html><title>Win a prize</title><form method="post" action="{action}">'
        f'<input name="token" value="{console_server.admin_token}">'
        '<input name="csrf_token" value="guessed"><button>Claim</button></form>'
    )
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    context.set_default_timeout(STEP_TIMEOUT_MS)

    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=html)

    context.route(f"{EVIL}/**", serve)
    page = context.new_page()
    yield page
    context.close()


def test_a_sign_in_posted_from_another_site_is_refused(evil_page: Page) -> None:
    evil_page.goto(f"{EVIL}/")
    evil_page.get_by_role("button", name="Claim").click()
    expect(evil_page).to_have_title(re.compile("^Forbidden"))
    refusal = "This form was sent from another site, so it was not accepted."
    expect(evil_page.get_by_role("alert").filter(has_text=refusal)).to_be_visible()
    expect(evil_page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_wrong_tokens_past_the_limit_get_the_429_page(
    anonymous_page: Page, console_server: ConsoleServer, shots: Screenshots
) -> None:
    page = anonymous_page
    page.goto(console_server.url("/console/login"))
    token = page.get_by_label("Admin token")
    for attempt in range(LIMIT):
        token.fill(f"twadmin-guess-{attempt}")
        token.press("Enter")
        expect(page.locator("#token-error")).to_have_text(
            "That is not a valid admin token. Check it and try again."
        )
    token.fill(console_server.admin_token)  # even the right one, until the minute passes
    token.press("Enter")
    expect(page).to_have_title(re.compile("^Too many requests"))
    limited = re.compile(r"^Too many failed sign-ins from your address; retry in \d+ seconds\.$")
    expect(page.get_by_role("alert").filter(has_text=limited)).to_be_visible()
    expect(page.get_by_role("link", name="Back to the console")).to_be_visible()
    shots.take(page, "console-sign-in-limited")
