"""The Models pages in a real browser: the list with its deployments and badges; a
verification run started by keyboard whose results arrive on the run's page and turn
the model verified; a failing upstream whose error the operator reads; the history,
newest run first. Data is made over the admin API, like an operator's script would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import (
    ConsoleServer,
    RequestLog,
    Screenshots,
    assert_controls_labelled,
    tab_to,
)
from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour

FLAKY = "flaky-model"
# Long enough that the run's page shows the run under way before the answer comes.
FLAKY_DELAY_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Models:
    echo: str  # the mock's, published as "chat" on "alpha" (top priority)
    echo_beta: str  # "chat" again, on "beta"
    flaky: str  # on "upstream", a fake whose completions fail slowly


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openai") as server:
        yield server


@pytest.fixture(scope="module")
def models(console_server: ConsoleServer, fake: FakeProviderServer) -> Iterator[Models]:
    headers = {"Authorization": f"Bearer {console_server.admin_token}"}
    with httpx.Client(base_url=console_server.base_url, headers=headers, timeout=30) as admin:

        def create(path: str, body: dict[str, object]) -> str:
            response = admin.post(path, json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        def publish(provider: str, model_id: str, name: str, **fields: object) -> str:
            body = {"provider_id": provider, "model_id": model_id, "name": name, **fields}
            return create("/admin/v1/models?skip_catalog_check=true", body)

        alpha = create("/admin/v1/providers", {"name": "alpha", "type": "mock"})
        beta = create("/admin/v1/providers", {"name": "beta", "type": "mock"})
        fake.set_key("sk-upstream-test", Behaviour.ok())
        upstream = create(
            "/admin/v1/providers",
            {
                "name": "upstream",
                "type": "openai_compatible",
                "api_key": "sk-upstream-test",
                "base_url": fake.base_url,
            },
        )
        fake.script_model(
            FLAKY,
            ModelBehaviour.slow_first_byte(FLAKY_DELAY_SECONDS)
            | ModelBehaviour.bad_request("this model is scripted to fail"),
        )
        yield Models(
            echo=publish(alpha, "mock-echo", "chat", priority=10, routing_strategy="weighted"),
            echo_beta=publish(beta, "echo-on-beta", "chat", priority=1),
            flaky=publish(upstream, FLAKY, "flaky"),
        )


def test_the_list_shows_each_public_name_with_its_deployments_and_badges(
    page: Page, console_server: ConsoleServer, models: Models, shots: Screenshots
) -> None:
    requests = RequestLog()
    requests.watch(page)

    page.goto(console_server.url("/console/models"))

    expect(page.get_by_role("heading", level=1)).to_have_text("Models")
    expect(page.get_by_text("2 public names, 3 deployments.")).to_be_visible()
    chat = page.locator('tbody[data-name="chat"]')
    expect(chat.get_by_role("rowheader")).to_contain_text("routing: weighted")
    rows = chat.locator("tr:not(.group-head)")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("alpha")
    expect(rows.nth(0)).to_contain_text("mock-echo")
    expect(rows.nth(1)).to_contain_text("beta")
    expect(rows.nth(1).locator(".badge")).to_have_text("unverified")
    flaky = page.locator('tbody[data-name="flaky"]')
    expect(flaky).to_contain_text("upstream")
    expect(flaky).to_contain_text("never")
    assert_controls_labelled(page)
    assert len(requests.urls) <= 4, requests.urls  # the document, 2 stylesheets, the script
    shots.take(page, "models")

    page.get_by_label("Name, model id or provider").fill("beta")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1 public name, 2 deployments matching.")).to_be_visible()
    page.get_by_role("link", name="echo-on-beta").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("chat on beta")


def test_a_verification_started_by_keyboard_verifies_the_model_and_joins_the_history(
    page: Page, console_server: ConsoleServer, models: Models, shots: Screenshots
) -> None:
    page.goto(console_server.url(f"/console/models/{models.echo}"))
    expect(page.locator(".facts .badge").first).to_have_text("unverified")
    assert_controls_labelled(page)

    suite = page.get_by_label("Suite")
    tab_to(page, suite)
    page.keyboard.type("Full")
    expect(suite).to_have_value("full")
    tab_to(page, page.get_by_role("button", name="Run verification"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Verifying chat")
    expect(page.get_by_text("full verification passed.")).to_be_visible()
    outcome = page.locator(".run-outcome .badge")
    expect(outcome).to_have_text(["unverified", "verified"])
    results = page.locator("table.results tbody tr")
    expect(results).to_have_count(3)
    for row, test in zip(results.all(), ("reachable", "completion", "streaming"), strict=True):
        expect(row.get_by_role("rowheader")).to_have_text(test)
        expect(row.locator(".badge")).to_have_text("passed")

    page.get_by_role("link", name="Back to chat").click()
    expect(page.locator(".facts .badge").first).to_have_text("verified")
    page.get_by_label("Suite").select_option("basic")
    page.get_by_role("button", name="Run verification").click()
    expect(page.get_by_text("basic verification passed.")).to_be_visible()
    page.get_by_role("link", name="Back to chat").click()

    runs = page.locator("li.run")
    expect(runs).to_have_count(2)  # newest first: the basic run, then the full one
    expect(runs.nth(0).locator("tbody tr")).to_have_count(2)
    expect(runs.nth(1).locator("tbody tr")).to_have_count(3)
    expect(runs.nth(1)).to_contain_text("streaming")
    shots.take(page, "model-detail")


def test_a_failing_verification_shows_its_results_arriving_and_the_error(
    page: Page, console_server: ConsoleServer, models: Models, shots: Screenshots
) -> None:
    page.goto(console_server.url(f"/console/models/{models.flaky}"))
    page.get_by_role("button", name="Run verification").click()

    # Under way: the free reachability test is in, the completion is still out.
    expect(page.get_by_text(re.compile(r"Running the basic suite… 1 test done"))).to_be_visible()
    expect(page.locator('tr[data-test="reachable"] .badge')).to_have_text("passed")
    expect(page.locator('tr[data-test="completion"]')).to_have_count(0)

    # Then the failure arrives without a reload.
    expect(page.get_by_text("basic verification failed.")).to_be_visible(timeout=30_000)
    completion = page.locator('tr[data-test="completion"]')
    expect(completion.locator(".badge")).to_have_text("failed")
    expect(completion.locator(".result-error")).to_contain_text("scripted to fail")
    expect(page.locator(".run-outcome .badge")).to_have_text(["unverified", "unverified"])
    shots.take(page, "model-run")

    page.get_by_role("link", name="Back to flaky").click()
    expect(page.locator("li.run")).to_have_count(1)
    expect(page.locator("li.run .result-error")).to_contain_text("scripted to fail")
