"""The catalog page in a real browser against a real tollway whose providers are
fake OpenAI-compatible servers listing scripted models: view, filter and search;
a refresh's progress and its error state; publishing two selected models; an
unknown id typed by hand (keyboard only) answered with the closest matches; a team
key's own catalog chosen, searched and published from; many long model ids at
phone width."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from pydantic import SecretStr

from tests.api.conftest import ADMIN_TOKEN
from tests.console.browser import (
    ConsoleServer,
    RequestLog,
    Screenshots,
    assert_controls_labelled,
    assert_fits_phone,
    tab_to,
)
from tests.fakes.providers import Behaviour, FakeProviderServer, ListingScript
from tests.live import running_server
from tollway.settings import Settings

MODELS = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "o3-mini")


def listed(*ids: str) -> tuple[dict[str, Any], ...]:
    return tuple({"id": i, "object": "model", "created": 1, "owned_by": "fake"} for i in ids)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openai") as server:
        yield server


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """The shared fixture's server, with failed refreshes not backed off (each test's
    refresh reaches the fake)."""
    data_dir = tmp_path_factory.mktemp("catalog-console")
    settings = Settings(
        data_dir=data_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        catalog={"failure_backoff_seconds": 0},
    )
    with running_server(settings) as base_url:
        yield ConsoleServer(base_url=base_url, admin_token=ADMIN_TOKEN, data_dir=data_dir)


class Provider:
    """A provider of the console's tollway behind its own key on the fake."""

    def __init__(self, server: ConsoleServer, fake: FakeProviderServer, name: str) -> None:
        self.server, self.fake = server, fake
        self.key = f"sk-browser-{uuid.uuid4().hex}"
        fake.set_key(self.key, Behaviour.ok())
        fake.script_listing(self.key, ListingScript(entries=listed(*MODELS)))
        body = {"name": name, "type": "openai", "api_key": self.key, "base_url": fake.base_url}
        self.id = self.admin("POST", "/admin/v1/providers", json=body)["id"]
        self.admin("POST", f"/admin/v1/providers/{self.id}/catalog:refresh")

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        answer = httpx.request(method, self.server.url(path), headers=headers, **kwargs)
        assert answer.is_success, answer.text
        return answer.json()

    @property
    def catalog_url(self) -> str:
        return self.server.url(f"/console/providers/{self.id}/catalog")


def rows(page: Page) -> list[str]:
    return page.locator("table tbody th[scope=row] code").all_inner_texts()


def fact(page: Page, term: str) -> Locator:
    """The value of one of the catalog's facts (Fetched, Models listed…)."""
    return page.locator(".catalog-facts div").filter(has_text=term).locator("dd")


def test_view_filter_and_search(
    page: Page, console_server: ConsoleServer, fake: FakeProviderServer, shots: Screenshots
) -> None:
    provider = Provider(console_server, fake, "view")
    log = RequestLog()
    log.watch(page)
    page.goto(provider.catalog_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Model catalog of view")
    assert sorted(rows(page)) == sorted(MODELS)
    row = page.get_by_role("row", name=re.compile(r"^Select gpt-4o gpt-4o "))
    expect(row).to_contain_text("128,000")  # LiteLLM's map fills what the list lacks
    expect(row).to_contain_text("$2.50 / $10.00")
    expect(row).to_contain_text("litellm")
    expect(fact(page, "Fetched")).to_have_text("less than a minute ago")
    assert len(log.urls) <= 4, log.urls  # document, css, js, the page's css
    assert_controls_labelled(page)
    shots.take(page, "catalog")

    page.get_by_label("Capability").select_option("embeddings")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table caption")).to_have_text("Models 1 to 1 of 1")
    assert rows(page) == ["text-embedding-3-small"]
    assert "capability=embeddings" in page.url

    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Search id or name").fill("MINI")
    page.get_by_label("Search id or name").press("Enter")
    expect(fact(page, "Matching the filters")).to_have_text("2")
    assert sorted(rows(page)) == ["gpt-4o-mini", "o3-mini"]


def test_refresh_shows_progress_then_the_table_then_an_error(
    page: Page, console_server: ConsoleServer, fake: FakeProviderServer
) -> None:
    provider = Provider(console_server, fake, "refresh")
    page.goto(provider.catalog_url)
    assert "gpt-4.1" not in rows(page)
    slow = ListingScript(entries=listed(*MODELS, "gpt-4.1"), delay=1.5)
    fake.script_listing(provider.key, slow)
    page.get_by_role("button", name="Refresh from the provider").click()
    progress = page.locator(".catalog-progress")
    expect(progress).to_contain_text("Refreshing the catalog from the provider")
    expect(page.get_by_role("button", name="Publish selected")).to_be_disabled()
    expect(progress).to_have_count(0)  # the fragment said it is done
    expect(page.get_by_role("row", name=re.compile(r"Select gpt-4\.1 "))).to_have_count(1)
    expect(page.get_by_role("button", name="Publish selected")).to_be_enabled()

    fake.script_listing(provider.key, ListingScript(status=503, delay=1.0))  # provider down
    page.get_by_role("button", name="Refresh from the provider").click()
    expect(progress).to_be_visible()
    alert = page.locator(".catalog-state [role=alert]")
    expect(alert).to_contain_text("The last refresh failed")
    expect(alert).to_contain_text("The cached catalog from")
    expect(progress).to_have_count(0)
    assert "gpt-4.1" in rows(page)  # the cached table stays
    assert provider.key not in page.content()


def test_publish_two_selected_models(
    page: Page, console_server: ConsoleServer, fake: FakeProviderServer
) -> None:
    provider = Provider(console_server, fake, "publish")
    page.goto(provider.catalog_url)
    page.get_by_label("Select gpt-4o-mini").check()
    page.get_by_label("Select o3-mini").check()
    name = page.get_by_label("Public name for o3-mini")
    expect(name).to_have_value("o3-mini")  # the default: the model id
    name.fill("reasoner")
    expect(page.get_by_label("Public name for gpt-4o", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Publish selected").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Published 2 models: gpt-4o-mini, o3-mini as reasoner."
    )
    published = page.get_by_role("row", name=re.compile(r"Select o3-mini "))
    expect(published.locator("td").nth(6)).to_have_text("reasoner")
    expect(fact(page, "Published here")).to_have_text("2")
    models = provider.admin("GET", f"/admin/v1/models?provider_id={provider.id}")
    assert sorted(m["name"] for m in models) == ["gpt-4o-mini", "reasoner"]


def test_an_unknown_id_by_keyboard_offers_the_closest_matches(
    page: Page, console_server: ConsoleServer, fake: FakeProviderServer
) -> None:
    provider = Provider(console_server, fake, "by-id")
    page.goto(provider.catalog_url)
    field = page.get_by_label("Model id")
    tab_to(page, field)
    page.keyboard.type("gpt4o-mini")
    tab_to(page, page.get_by_label("Public name", exact=True))
    page.keyboard.type("small")
    page.keyboard.press("Enter")
    expect(page.locator("#model_id-error")).to_contain_text("'gpt4o-mini' is not in the catalog")
    choice = page.get_by_role("button", name="gpt-4o-mini", exact=True)
    expect(choice).to_be_visible()
    assert_controls_labelled(page)
    tab_to(page, choice)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Published 1 model: gpt-4o-mini as small.")
    models = provider.admin("GET", f"/admin/v1/models?provider_id={provider.id}")
    assert [(m["model_id"], m["name"]) for m in models] == [("gpt-4o-mini", "small")]


def test_many_long_model_ids_fit_a_phone(
    page: Page, console_server: ConsoleServer, fake: FakeProviderServer, shots: Screenshots
) -> None:
    provider = Provider(console_server, fake, "long-ids")
    long_ids = [
        f"accounts/acme/models/a-very-long-model-identifier-{n:03}-preview" for n in range(60)
    ]
    fake.script_listing(provider.key, ListingScript(entries=listed(*long_ids)))
    provider.admin("POST", f"/admin/v1/providers/{provider.id}/catalog:refresh")
    page.goto(provider.catalog_url)
    expect(page.locator("table caption")).to_have_text("Models 1 to 50 of 60")
    assert_fits_phone(page)
    wrapper = page.locator(".catalog-publish .table-wrap")
    assert wrapper.evaluate("el => el.scrollWidth > el.clientWidth")  # the table scrolls
    shots.take(page, "catalog-long-ids")


def test_a_team_keys_catalog_is_chosen_searched_and_published_from(
    page: Page, console_server: ConsoleServer, fake: FakeProviderServer, shots: Screenshots
) -> None:
    provider = Provider(console_server, fake, "team-keys")
    team = provider.admin(
        "POST", "/admin/v1/teams", json={"name": f"research-{uuid.uuid4().hex[:6]}"}
    )
    secret = f"sk-team-{uuid.uuid4().hex}"
    fake.set_key(secret, Behaviour.ok())
    fake.script_listing(secret, ListingScript(entries=listed("gpt-4o", "ft:gpt-4o:research:01")))
    body = {"api_key": secret, "label": "byok", "team_id": team["id"]}
    key = provider.admin("POST", f"/admin/v1/providers/{provider.id}/keys", json=body)
    provider.admin("POST", f"/admin/v1/providers/{provider.id}/catalog:refresh")
    shown_as = f"byok — team {team['name']} (…{secret[-4:]})"

    page.goto(provider.catalog_url)
    expect(fact(page, "Catalog of")).to_have_text("shared keys")
    page.get_by_label("Catalog", exact=True).select_option(label=shown_as)
    page.get_by_role("button", name="Filter").click()
    expect(fact(page, "Catalog of")).to_have_text(f"team key {shown_as}")
    assert f"key_id={key['id']}" in page.url
    assert sorted(rows(page)) == ["ft:gpt-4o:research:01", "gpt-4o"]
    expect(fact(page, "Fetched")).to_have_text("less than a minute ago")
    expect(page.locator(".catalog-scope-note")).to_contain_text(
        "Publishing checks each id against every cached catalog of this provider"
    )
    assert_controls_labelled(page)
    shots.take(page, "catalog-team-key")

    page.get_by_label("Search id or name").fill("research")
    page.get_by_label("Search id or name").press("Enter")
    assert rows(page) == ["ft:gpt-4o:research:01"]
    page.get_by_label("Select ft:gpt-4o:research:01").check()
    page.get_by_label("Public name for ft:gpt-4o:research:01").fill("research-tune")
    page.get_by_role("button", name="Publish selected").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Published 1 model: ft:gpt-4o:research:01 as research-tune."
    )
    expect(fact(page, "Catalog of")).to_have_text(f"team key {shown_as}")  # still the key's
    expect(page.get_by_label("Catalog", exact=True)).to_have_value(key["id"])
    models = provider.admin("GET", f"/admin/v1/models?provider_id={provider.id}")
    assert [(m["model_id"], m["name"]) for m in models] == [
        ("ft:gpt-4o:research:01", "research-tune")
    ]
    assert secret not in page.content()
    assert_fits_phone(page)
