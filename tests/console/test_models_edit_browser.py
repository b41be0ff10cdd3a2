"""Editing and deleting model deployments in a real browser: an edit refused next to its
fields then saved, the detail page showing the new values; a deployment with
verification results retired, one without deleted, each after its confirmation page
(the deletion with JavaScript off). Data is made over the admin API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import (
    ConsoleServer,
    Screenshots,
    assert_controls_labelled,
    tab_to,
)


@dataclass(frozen=True, slots=True)
class Deployments:
    tuned: str  # "chat" on alpha: edited
    verified: str  # "answers" on alpha: has results, so it is retired
    spare: str  # "spare" on beta: no results, so it is deleted


@pytest.fixture(scope="module")
def admin(console_server: ConsoleServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {console_server.admin_token}"}
    with httpx.Client(base_url=console_server.base_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def deployments(admin: httpx.Client) -> Deployments:
    def create(path: str, body: dict[str, object]) -> str:
        response = admin.post(path, json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def publish(provider: str, model_id: str, name: str) -> str:
        body = {"provider_id": provider, "model_id": model_id, "name": name}
        return create("/admin/v1/models?skip_catalog_check=true", body)

    alpha = create("/admin/v1/providers", {"name": "alpha", "type": "mock"})
    beta = create("/admin/v1/providers", {"name": "beta", "type": "mock"})
    verified = publish(alpha, "mock-echo", "answers")
    run = admin.post(f"/admin/v1/models/{verified}/verify")
    assert run.status_code == 200, run.text
    return Deployments(
        tuned=publish(alpha, "mock-echo", "chat"),
        verified=verified,
        spare=publish(beta, "mock-echo", "spare"),
    )


def test_an_edit_is_refused_next_to_its_fields_then_saved(
    page: Page, console_server: ConsoleServer, deployments: Deployments, shots: Screenshots
) -> None:
    page.goto(console_server.url(f"/console/models/{deployments.tuned}"))
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit chat on alpha")
    assert_controls_labelled(page)
    expect(page.get_by_label("Public name")).to_have_value("chat")
    expect(page.get_by_label("Enabled")).to_be_checked()

    page.get_by_label("Priority").fill("first")
    page.get_by_label("Weight").fill("5000")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".error-summary")).to_contain_text("Please correct the following")
    weight = page.get_by_label("Weight")
    expect(weight).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#weight-error")).to_contain_text("less than or equal to 1000")
    expect(page.locator("#priority-error")).to_contain_text("valid integer")
    expect(weight).to_have_value("5000")  # what was typed, kept
    shots.take(page, "model-edit-errors")

    page.get_by_label("Priority").fill("20")
    weight.fill("4")
    page.get_by_label("Routing strategy").select_option("weighted")
    page.get_by_label("Supports reasoning").check()
    tab_to(page, page.get_by_role("button", name="Save"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Deployment chat on alpha saved.")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("20 / 4")
    expect(facts).to_contain_text("weighted")
    expect(facts).to_contain_text("yes / yes")  # streaming / reasoning
    shots.take(page, "model-edited")


def test_a_deployment_with_results_is_retired_after_its_confirmation(
    page: Page,
    console_server: ConsoleServer,
    deployments: Deployments,
    admin: httpx.Client,
    shots: Screenshots,
) -> None:
    page.goto(console_server.url(f"/console/models/{deployments.verified}"))
    page.get_by_role("link", name="Delete…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Delete answers on alpha?")
    expect(page.locator("[data-outcome=retire]")).to_contain_text(
        "It will be retired, not deleted: it has 2 verification results"
    )
    expect(page.get_by_text("It is the only deployment of answers")).to_be_visible()
    assert_controls_labelled(page)
    shots.take(page, "model-retire-confirm")
    page.get_by_role("button", name="Retire answers on alpha").click()

    expect(page).to_have_url(console_server.url("/console/models"))
    status = page.get_by_role("status")
    expect(status).to_contain_text("Deployment answers on alpha (mock-echo) retired")
    expect(status).to_contain_text("its verification results are kept")
    expect(page.locator('tbody[data-name="answers"]')).to_have_count(0)
    kept = admin.get(f"/admin/v1/models/{deployments.verified}").json()
    assert kept["status"] == "retired"


def test_a_deployment_without_results_is_deleted_without_javascript(
    no_script_page: Page,
    console_server: ConsoleServer,
    deployments: Deployments,
    admin: httpx.Client,
    shots: Screenshots,
) -> None:
    page = no_script_page
    page.goto(console_server.url(f"/console/models/{deployments.spare}"))
    page.get_by_role("link", name="Delete…").click()

    expect(page.locator("[data-outcome=delete]")).to_contain_text(
        "It will be deleted: it has no verification results"
    )
    shots.take(page, "model-delete-confirm")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("spare on beta")
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete spare on beta").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Deployment spare on beta (mock-echo) deleted."
    )
    expect(page.locator('tbody[data-name="spare"]')).to_have_count(0)
    assert admin.get(f"/admin/v1/models/{deployments.spare}").status_code == 404
