"""The usage page in a real browser: the seeded numbers in the chart and tables, the
controls (by keyboard too) changing them, the CSV download matching the table shown,
and the comparison across providers of one public model."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from tests.console.browser import (
    ConsoleServer,
    RequestLog,
    Screenshots,
    assert_controls_labelled,
    tab_to,
)
from tests.console.test_usage import ALPHA_KEY, Seeded, seed
from tollway.settings import Settings
from tollway.store.db import Database

CUSTOM = "/console/usage?range=custom&from=2030-03-01&to=2030-03-02"


@pytest.fixture(scope="module")
def seeded(console_server: ConsoleServer) -> Seeded:
    auth = {"Authorization": f"Bearer {console_server.admin_token}"}
    settings = Settings(
        data_dir=console_server.data_dir, admin_token=SecretStr(console_server.admin_token)
    )
    database = Database(settings.resolved_database_url)
    with httpx.Client(base_url=console_server.base_url, headers=auth) as client:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post(path, json=body)
            assert response.status_code == 201, response.text
            result: dict[str, Any] = response.json()
            return result

        return seed(post, database, datetime.now(UTC))


def spend_table(page: Page) -> list[list[str]]:
    table = page.get_by_role("table", name=re.compile("^Spend by"))
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in table.locator("tbody tr").all()
    ]


def test_chart_and_tables_show_the_seeded_usage_and_follow_the_controls(
    page: Page, console_server: ConsoleServer, seeded: Seeded, shots: Screenshots
) -> None:
    requests = RequestLog()
    requests.watch(page)
    page.goto(console_server.url(CUSTOM))
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage")
    page.wait_for_load_state("networkidle")
    assert len(requests.urls) <= 4, requests.urls  # the page, console.css|js, usage.css
    expect(page.locator("#total-cost")).to_have_text("$4.00")
    expect(page.locator("#total-requests")).to_have_text("4")
    chart = page.get_by_role("img", name=re.compile("Cost \\(USD\\) per day"))
    expect(chart.locator("rect.bar")).to_have_count(2)
    expect(page.locator(".legend li")).to_have_text(
        [re.compile("solo-model"), re.compile("shared-model")]
    )
    assert [(r[0], r[8]) for r in spend_table(page)] == [
        ("solo-model", "$2.25"),
        ("shared-model", "$1.75"),
    ]
    assert_controls_labelled(page)
    assert ALPHA_KEY not in page.content()
    shots.take(page, "usage")

    # Stack by team, by keyboard only: reach the control, choose, submit with Enter.
    group = page.get_by_label("Stack by")
    tab_to(page, group)
    page.keyboard.type("Team")
    expect(group).to_have_value("team")
    tab_to(page, page.get_by_role("button", name="Show usage"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("group=team"))
    assert [(r[0], r[8]) for r in spend_table(page)] == [("research", "$3.25"), ("ops", "$0.75")]

    page.get_by_label("Per", exact=True).select_option("hour")
    page.get_by_role("button", name="Show usage").click()
    page.wait_for_url(re.compile("bucket=hour"))
    page.get_by_text("The chart as a table").click()  # its text alternative opens
    hourly = page.get_by_role("table", name="Cost (USD) per hour")
    expect(hourly.locator("tbody tr")).to_have_count(48)
    expect(page.get_by_role("img", name=re.compile("per hour")).locator("rect.bar")).to_have_count(
        4
    )

    page.get_by_label("Range").select_option("7d")
    page.get_by_label("Per", exact=True).select_option("day")
    page.get_by_role("button", name="Show usage").click()
    page.wait_for_url(re.compile("range=7d"))
    expect(page.locator("#total-cost")).to_have_text("$7.00")

    page.get_by_role("link", name="research").click()  # drill down to one team
    expect(page.locator("#total-cost")).to_have_text("$3.00")
    expect(page.get_by_label("Team", exact=True)).to_have_value(seeded.teams["research"])


def test_the_csv_download_matches_the_table_shown(
    page: Page, console_server: ConsoleServer, seeded: Seeded
) -> None:
    page.goto(console_server.url(CUSTOM + "&group=key"))
    shown = spend_table(page)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download this table (CSV)").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    path = download.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    columns = ["requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens"]
    columns += ["reasoning_tokens", "total_tokens"]
    assert [[r["key_name"], *(f"{int(r[c]):,}" for c in columns)] for r in rows] == [
        s[:8] for s in shown
    ]
    assert [f"${r['cost_usd']}" for r in rows] == [s[8] for s in shown]
    assert [r["key_id"] for r in rows] == [seeded.keys["agent-1"], seeded.keys["agent-2"]]


def test_comparison_shows_each_providers_cost(
    page: Page, console_server: ConsoleServer, seeded: Seeded
) -> None:
    page.goto(console_server.url(CUSTOM))
    page.get_by_label("Public model").fill("shared-model")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile("compare=shared-model"))
    table = page.get_by_role("table", name=re.compile("Cost of shared-model on each provider"))
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").nth(0)).to_contain_text("Alpha AI")
    expect(table.locator("tbody tr").nth(0)).to_contain_text("$0.0026")
    expect(table.locator("tbody tr").nth(1)).to_contain_text("Beta Cloud")
    expect(table.locator("tbody tr").nth(1)).to_contain_text("$0.0052")
    expect(page.locator("#compare-actual")).to_contain_text("which cost $1.75")
    expect(page.locator("#total-cost")).to_have_text("$4.00")  # the view is kept
