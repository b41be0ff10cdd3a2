"""The providers pages in a real browser: add a provider with a form that adapts to its
type, test its connection against fake providers (each outcome in words, by keyboard),
edit it, and delete it after seeing the models it orphans."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from tests.api.conftest import ADMIN_TOKEN
from tests.console.browser import (
    ConsoleServer,
    Screenshots,
    assert_controls_labelled,
    tab_to,
)
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.live import running_server
from tollway.app import create_app, runtime_of
from tollway.domain.common import Actor
from tollway.domain.models import ModelCreate
from tollway.domain.provider_keys import ProviderKeyCreate
from tollway.domain.providers import ProviderCreate, ProviderRead
from tollway.domain.services import Services
from tollway.settings import Settings
from tollway.store.tables import Provider

ADMIN = Actor("admin")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openai") as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsoleServer, Services]]:
    """A tollway whose key tests give up after half a second (the fake's hang outlasts
    it), with its services at hand to set up providers and models."""
    data_dir = tmp_path_factory.mktemp("providers-console")
    settings = Settings(
        data_dir=data_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        providers={"test_timeout_seconds": 0.5},  # type: ignore[arg-type]
    )
    app = create_app(settings)
    with running_server(settings, app) as base_url:
        server = ConsoleServer(base_url=base_url, admin_token=ADMIN_TOKEN, data_dir=data_dir)
        yield server, runtime_of(app).services


@pytest.fixture(scope="module")
def console_server(served: tuple[ConsoleServer, Services]) -> ConsoleServer:
    return served[0]


@pytest.fixture(scope="module")
def services(served: tuple[ConsoleServer, Services]) -> Services:
    return served[1]


def secret(label: str) -> str:
    return f"sk-{label}-{uuid.uuid4().hex}"


def add_provider(services: Services, name: str, base_url: str, *keys: str) -> ProviderRead:
    body = ProviderCreate.model_validate(
        {"name": name, "type": "openai_compatible", "base_url": base_url, "api_key": keys[0]}
    )
    provider = services.providers.create(body, ADMIN)
    for n, key in enumerate(keys[1:], start=2):
        added = ProviderKeyCreate(api_key=SecretStr(key), label=f"key-{n}")
        services.provider_keys.add(provider.id, added, ADMIN)
    return provider


def test_add_a_provider_with_a_form_that_adapts_to_its_type(
    page: Page, console_server: ConsoleServer, fake: FakeProviderServer, shots: Screenshots
) -> None:
    page.goto(console_server.url("/console/providers"))
    expect(page.get_by_text("No providers yet")).to_be_visible()
    page.get_by_role("link", name="Add a provider").click()
    assert_controls_labelled(page)
    kind, base_url = page.get_by_label("Type"), page.locator("#base_url")
    kind.select_option(label="Anthropic")
    expect(page.locator("#base_url-help")).to_have_text(
        "Optional for Anthropic: leave empty for https://api.anthropic.com."
    )
    kind.select_option(label="Mock")
    expect(base_url).to_be_hidden()
    expect(page.get_by_label("API key")).to_be_hidden()
    kind.select_option(label="OpenAI-compatible")
    expect(page.get_by_text("Base URL (required)")).to_be_visible()
    page.get_by_label("Name").fill("Local vLLM")
    key = secret("first")
    fake.set_key(key, Behaviour.ok())
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Add provider").click()
    expect(page.locator("#base_url-error")).to_have_text(
        "A base URL is required for OpenAI-compatible providers."
    )
    expect(base_url).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_value("Local vLLM")
    assert key not in page.content()
    base_url.fill(fake.base_url)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Add provider").click()
    expect(page.get_by_role("status")).to_contain_text("Provider Local vLLM added")
    expect(page.get_by_role("heading", level=1)).to_have_text("Local vLLM")
    page.get_by_role("link", name="Providers", exact=True).first.click()
    row = page.get_by_role("row").filter(has_text="Local vLLM")
    expect(row).to_contain_text("OpenAI-compatible")
    expect(row).to_contain_text("Not tested")
    expect(row).to_contain_text("1 key")
    expect(row).to_contain_text("never fetched")
    assert key not in page.content()
    shots.take(page, "providers")


def test_connection_test_says_what_each_key_got(
    page: Page,
    console_server: ConsoleServer,
    services: Services,
    fake: FakeProviderServer,
    shots: Screenshots,
) -> None:
    behaviours = {
        "valid": Behaviour.ok(),
        "rejected": Behaviour.rejected(),
        "throttled": Behaviour.rate_limited("7"),
        "broken": Behaviour.server_error(500),
        "slow": Behaviour.hang(3),
    }
    keys = {label: secret(label) for label in behaviours}
    for label, behaviour in behaviours.items():
        fake.set_key(keys[label], behaviour)
    provider = add_provider(services, "Many keys", fake.base_url, *keys.values())
    page.goto(console_server.url(f"/console/providers/{provider.id}"))
    tab_to(page, page.get_by_role("button", name="Test connection"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connection test: Many keys")
    results = page.locator("tr.test-row")
    expect(results).to_have_count(5)
    page_text = page.locator("main").inner_text()
    for title in ("Valid", "Rejected key", "Rate limited", "Server error", "Timed out"):
        expect(results.filter(has_text=title)).to_have_count(1)
    expect(results.filter(has_text="Rejected key")).to_contain_text("HTTP 401")
    expect(results.filter(has_text="Server error")).to_contain_text("HTTP 500")
    expect(page.get_by_role("status").last).to_contain_text("Active")
    assert not any(value in page_text for value in keys.values())
    shots.take(page, "providers-test")


def test_dns_failures_and_blocked_addresses_are_named(
    page: Page, console_server: ConsoleServer, services: Services
) -> None:
    nowhere = add_provider(services, "Nowhere", "http://no-such-host.invalid/v1", secret("dns"))
    metadata = add_provider(services, "Metadata", "http://example.test/v1", secret("blocked"))
    with services.database.session() as session:  # a URL saved before it was refused
        row = session.get(Provider, metadata.id)
        assert row is not None
        row.base_url = "http://169.254.169.254/v1"
        session.add(row)
    for provider, title, advice in (
        (nowhere, "DNS failure", "does not resolve"),
        (metadata, "Blocked address", "refuses to send keys"),
    ):
        page.goto(console_server.url(f"/console/providers/{provider.id}"))
        page.get_by_role("button", name="Test connection").click()
        row = page.locator("tr.test-row")
        expect(row.get_by_text(title, exact=True)).to_be_visible()
        expect(row).to_contain_text(advice)


def test_edit_then_delete_after_seeing_the_orphaned_models(
    page: Page, console_server: ConsoleServer, services: Services
) -> None:
    provider = add_provider(services, "Old cloud", "http://10.1.2.3/v1", secret("old"))
    for name in ("old-chat", "old-embed"):
        data = ModelCreate(provider_id=provider.id, model_id=name, name=name)
        services.models.create(data, ADMIN, skip_catalog_check=True)
    page.goto(console_server.url(f"/console/providers/{provider.id}"))
    page.get_by_role("link", name="Edit").click()
    assert_controls_labelled(page)
    page.get_by_label("Name").fill("Retired cloud")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Provider Retired cloud saved.")
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("alert").last).to_contain_text(
        "2 models will be left without a provider"
    )
    orphans = page.get_by_role("table", name="Models this deletion orphans")
    expect(orphans).to_contain_text("old-chat")
    expect(orphans).to_contain_text("old-embed")
    page.get_by_role("button", name=re.compile("Delete Retired cloud and orphan 2 models")).click()
    expect(page.get_by_role("status")).to_contain_text(
        "Provider Retired cloud deleted with its 1 key(s). 2 model(s) are left without a provider"
    )
    expect(page.get_by_role("row").filter(has_text="Retired cloud")).to_have_count(0)
