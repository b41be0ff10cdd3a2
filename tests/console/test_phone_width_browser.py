"""Every page an operator opens without an id fits a 390 px wide phone: no sideways
scroll of the page (tables scroll inside their wrappers), with long names in its
tables. The catalog page's own check, with many long model ids, is in
test_catalog_browser.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.api.conftest import ADMIN_TOKEN
from tests.console.browser import ConsoleServer, assert_fits_phone
from tests.console.conftest import PAGE_PATHS

LONG = "a-rather-long-name-that-an-operator-might-well-choose-for-it"


@pytest.fixture(scope="module")
def seeded(console_server: ConsoleServer) -> ConsoleServer:
    """A provider, a published model and a team, each with a long name, so the pages'
    tables have rows (and their cells' hidden labels) to lay out."""

    def admin(path: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        answer = httpx.post(console_server.url(path), json=body, headers=headers)
        assert answer.is_success, answer.text
        return answer.json()

    provider = admin(
        "/admin/v1/providers",
        {"name": f"provider-{LONG}", "type": "mock", "api_key": "sk-mock-000000000000"},
    )
    admin(
        "/admin/v1/models?skip_catalog_check=true",
        {"provider_id": provider["id"], "model_id": f"model-{LONG}", "name": f"public-{LONG}"},
    )
    admin("/admin/v1/teams", {"name": f"team-{LONG}"})
    return console_server


def test_no_page_scrolls_sideways_on_a_phone(page: Page, seeded: ConsoleServer) -> None:
    """One signed-in browser walks every page (a sign-in per page cost a minute)."""
    too_wide = []
    for path in PAGE_PATHS:
        page.goto(seeded.url(path))
        try:
            assert_fits_phone(page)
        except AssertionError as exc:
            too_wide.append(str(exc))
    assert not too_wide, "\n".join(too_wide)
