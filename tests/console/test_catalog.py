"""The catalog page in process (TestClient, SQLite, a scripted lister behind every
provider): the table, filters and paging, the background refresh and its fragment,
publishing a selection and an id typed by hand, and the refusals."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.console.conftest import csrf_of, sign_in
from tests.fakes.listers import CHAT, EMBED, MINI, ScriptedLister, model
from tollway.app import create_app
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.catalog import Capability

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def lister() -> ScriptedLister:
    return ScriptedLister()


@pytest.fixture
def client(
    tmp_path: Path, migrated_sqlite: Callable[[Path], str], lister: ScriptedLister
) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path / "data",
        migrated_sqlite(tmp_path / "tollway.db"),
        catalog={"failure_backoff_seconds": 0},
    )
    app = create_app(settings, listers=lambda _type: lister)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        assert sign_in(test_client).status_code == 303
        yield test_client


@pytest.fixture
def provider(client: TestClient) -> str:
    body = {
        "name": "Acme",
        "type": "openai",
        "api_key": "sk-test-0000000000abcd",
        "base_url": "http://127.0.0.1:9/v1",
    }
    answer = client.post("/admin/v1/providers", json=body, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def refreshed(client: TestClient, provider: str) -> None:
    answer = client.post(f"/admin/v1/providers/{provider}/catalog:refresh", headers=ADMIN)
    assert answer.status_code == 200, answer.text


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_table_shows_each_model_with_its_limits_prices_and_source(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    lister.serve(CHAT, MINI, EMBED)
    refreshed(client, provider)
    page = client.get(f"/console/providers/{provider}/catalog")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Model catalog of Acme" in text
    assert "gpt-4o GPT-4o 128,000 16,384" in text
    assert "$2.50 / $10.00" in text  # USD per token, shown per million
    assert "streaming tools vision" in text
    assert "text-embedding-3-small" in text
    assert "Fetched less than a minute ago" in text
    assert "Models listed 3" in text
    assert "data-poll=" not in page.text  # nothing is refreshing
    assert "sk-test-0000000000abcd" not in page.text


def test_filter_search_and_paging_use_the_query(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    extra = (model(f"extra-{n:03}", Capability.TOOLS) for n in range(120))
    lister.serve(CHAT, MINI, EMBED, *extra)  # LiteLLM's map gives gpt-4o-mini tools
    refreshed(client, provider)
    url = f"/console/providers/{provider}/catalog"
    only = text_of(client.get(url, params={"capability": "embeddings"}).text)
    assert "text-embedding-3-small" in only
    assert "gpt-4o" not in only
    found = text_of(client.get(url, params={"q": "MINI"}).text)
    assert "gpt-4o-mini" in found
    assert "Matching the filters 1" in found
    assert "extra-000" not in found
    first = client.get(url, params={"capability": "tools"})
    assert "Models 1 to 50 of 122" in text_of(first.text)
    assert "page=2&amp;" not in first.text  # page last in the query
    assert "?capability=tools&amp;page=2" in first.text
    third = text_of(client.get(url, params={"capability": "tools", "page": 3}).text)
    assert "Models 101 to 122 of 122" in third
    assert "Page 3 of 3" in third
    bad = client.get(url, params={"capability": "teleportation"})
    assert bad.status_code == 200  # the wrong filter is named and left out
    assert "Choose a capability from the list." in bad.text
    assert "Models 1 to 50 of 123" in text_of(bad.text)


def test_an_unknown_provider_is_a_404_page(client: TestClient) -> None:
    page = client.get(f"/console/providers/{uuid.uuid4()}/catalog")
    assert page.status_code == 404
    assert "<h1>" in page.text


def test_the_refresh_runs_in_the_background_and_the_region_follows_it(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    lister.serve(CHAT)
    refreshed(client, provider)
    lister.serve(CHAT, MINI)
    lister.gate = threading.Event()  # the provider is slow: the refresh waits here
    lister.entered.clear()
    url = f"/console/providers/{provider}/catalog"
    token = csrf_of(client.get(url).text)
    started = client.post(f"{url}/refresh", data={"csrf_token": token, "q": "gpt"})
    assert started.status_code == 303
    assert started.headers["location"] == f"{url}?q=gpt"
    assert lister.entered.wait(10)
    page = client.get(started.headers["location"])
    assert "Refreshing the catalog from the provider" in page.text
    assert f'data-poll="{url}/region?q=gpt"' in page.text
    assert "<fieldset disabled>" in page.text  # no publishing from a table being replaced
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page.text
    again = client.post(f"{url}/refresh", data={"csrf_token": token})
    assert again.status_code == 303  # a second click joins the running one
    assert "A refresh is running." in client.get(url).text
    assert "data-poll-done" not in client.get(f"{url}/region?q=gpt").text
    lister.gate.set()
    region = _region_when_done(client, f"{url}/region?q=gpt")
    assert "gpt-4o-mini" in region
    assert "<html" not in region  # a fragment, not a page
    assert lister.calls == 2


def test_a_failed_refresh_keeps_the_cached_table_and_shows_the_error(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    lister.serve(CHAT, MINI)
    refreshed(client, provider)
    lister.fail(KeyCheckOutcome.PROVIDER_ERROR, "the provider answered 503")
    url = f"/console/providers/{provider}/catalog"
    token = csrf_of(client.get(url).text)
    assert client.post(f"{url}/refresh", data={"csrf_token": token}).status_code == 303
    _region_when_done(client, f"{url}/region")
    text = text_of(client.get(url).text)
    assert "The last refresh failed (provider error): the provider answered 503" in text
    assert "The cached catalog from" in text
    assert "gpt-4o-mini" in text


def test_a_refresh_that_cannot_start_says_why(client: TestClient, provider: str) -> None:
    url = f"/console/providers/{provider}/catalog"
    keys = client.get(f"/admin/v1/providers/{provider}/keys", headers=ADMIN).json()
    for key in keys:
        answer = client.post(
            f"/admin/v1/providers/{provider}/keys/{key['id']}/disable", headers=ADMIN
        )
        assert answer.status_code == 200, answer.text
    token = csrf_of(client.get(url).text)
    answer = client.post(f"{url}/refresh", data={"csrf_token": token}, follow_redirects=True)
    assert "Cannot refresh: the provider has no enabled key" in answer.text


def test_publishing_the_selection_names_each_model_and_lists_it(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    lister.serve(CHAT, MINI, EMBED)
    refreshed(client, provider)
    url = f"/console/providers/{provider}/catalog"
    form = _publish_form(client.get(url).text, {"gpt-4o": "", "gpt-4o-mini": "fast"})
    answer = client.post(f"{url}/publish", data=form)
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"])
    assert "Published 2 models: gpt-4o, gpt-4o-mini as fast." in page.text
    models = client.get(f"/admin/v1/models?provider_id={provider}", headers=ADMIN).json()
    assert sorted((m["model_id"], m["name"]) for m in models) == [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "fast"),
    ]
    text = text_of(page.text)
    assert "Published here 2" in text
    assert re.search(r"gpt-4o-mini GPT-4o mini .* fast", text)
    audit = client.get("/admin/v1/audit?limit=10", headers=ADMIN).json()["items"]
    assert [e["actor"] for e in audit if e["action"] == "model.create"] == ["console", "console"]


def test_a_selection_the_catalog_partly_refuses_publishes_the_rest(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    lister.serve(CHAT, MINI)
    refreshed(client, provider)
    url = f"/console/providers/{provider}/catalog"
    form = _publish_form(client.get(url).text, {"gpt-4o": ""})
    form["selected"] = ["gpt-4o", "gpt-4o-minj"]  # an id the catalog dropped since
    answer = client.post(f"{url}/publish", data=form, follow_redirects=True)
    assert "Published 1 model: gpt-4o." in answer.text
    assert "Refused 1 model: gpt-4o-minj: the provider&#39;s catalog does not list it" in (
        answer.text
    )
    assert "(closest: gpt-4o-mini" in answer.text


def test_a_bad_public_name_or_no_selection_answers_the_form_again(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    lister.serve(CHAT, MINI)
    refreshed(client, provider)
    url = f"/console/providers/{provider}/catalog"
    html = client.get(url).text
    nothing = client.post(f"{url}/publish", data=_publish_form(html, {}))
    assert nothing.status_code == 422
    assert "Select at least one model to publish." in nothing.text
    bad = client.post(f"{url}/publish", data=_publish_form(html, {"gpt-4o": "two\tparts"}))
    assert bad.status_code == 422
    assert 'aria-invalid="true" aria-describedby="name-1-error"' in bad.text
    assert 'value="gpt-4o" checked' in bad.text  # the selection is kept
    assert client.get(f"/admin/v1/models?provider_id={provider}", headers=ADMIN).json() == []


def test_an_unknown_id_typed_by_hand_offers_the_closest_ids(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    lister.serve(CHAT, MINI, EMBED)
    refreshed(client, provider)
    url = f"/console/providers/{provider}/catalog"
    token = csrf_of(client.get(url).text)
    typed = {"csrf_token": token, "model_id": "gpt4o-mini", "name": "small"}
    answer = client.post(f"{url}/publish-id", data=typed)
    assert answer.status_code == 422
    assert "&#39;gpt4o-mini&#39; is not in the catalog" in answer.text
    assert 'form="by-id-choice" name="model_id" value="gpt-4o-mini"' in answer.text
    assert 'value="small"' in answer.text  # the typed public name travels with a choice
    chosen = client.post(
        f"{url}/publish-id", data={"csrf_token": token, "model_id": "gpt-4o-mini", "name": "small"}
    )
    assert chosen.status_code == 303
    assert "Published 1 model: gpt-4o-mini as small." in client.get(url).text
    empty = client.post(f"{url}/publish-id", data={"csrf_token": token, "model_id": " "})
    assert empty.status_code == 422
    assert 'id="model_id-error"' in empty.text


def test_posts_need_the_csrf_token_and_pages_a_session(
    client: TestClient, provider: str, lister: ScriptedLister
) -> None:
    url = f"/console/providers/{provider}/catalog"
    for action in ("refresh", "publish", "publish-id"):
        assert client.post(f"{url}/{action}", data={"model_id": "x"}).status_code == 403
    assert lister.calls == 0  # no refresh started
    client.cookies.clear()
    assert client.get(url).status_code == 303


def _publish_form(html: str, chosen: dict[str, str]) -> dict[str, Any]:
    """The publish form as a browser sends it: every row's id and name, the chosen
    rows ticked (their name replaced when given)."""
    region = html.split('class="catalog-publish"', 1)[1]
    ids = re.findall(r'name="row_id" value="([^"]+)"', region)
    names = [chosen.get(i) or i for i in ids]
    return {
        "csrf_token": csrf_of(html),
        "selected": list(chosen),
        "row_id": ids,
        "row_name": names,
    }


def _region_when_done(client: TestClient, url: str) -> str:
    deadline = time.monotonic() + 10
    while "data-poll-done" not in (region := client.get(url).text):
        assert time.monotonic() < deadline, "the refresh never finished"
        time.sleep(0.02)  # polls like the page's script; not a fixed wait
    return region
