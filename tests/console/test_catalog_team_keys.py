"""The catalog page's team-key catalogs in process: a provider's team-owned key lists
its own catalog (``key_id``, as the admin API's); the page chooses it by label, team
and fingerprint, keeps the choice through filters, paging, the refresh's polling and
the publish forms, shows that catalog's age and last error, publishes from it as the
admin API does (checked against every catalog of the provider), and names an id that
is no team key of the provider instead of failing."""

from __future__ import annotations

import html
import re
import threading
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import csrf_of
from tests.console.test_catalog import (  # noqa: F401  (fixtures)
    ADMIN,
    _publish_form,
    _region_when_done,
    client,
    lister,
    provider,
    refreshed,
    text_of,
)
from tests.fakes.listers import CHAT, EMBED, MINI, ScriptedLister, model
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.catalog import Capability, Listing

TEAM_SECRET = "sk-team-000000000000wxyz"
OWN = model("ft:gpt-4o:research:2025", Capability.STREAMING, display_name="Research tune")
SHOWN_AS = "byok — team research (…wxyz)"


def admin(http: TestClient, path: str, body: dict[str, Any], status: int = 201) -> Any:
    answer = http.post(path, json=body, headers=ADMIN)
    assert answer.status_code == status, answer.text
    return answer.json()


def team_key(
    http: TestClient, provider_id: str, secret: str = TEAM_SECRET, team_name: str = "research"
) -> str:
    team = admin(http, "/admin/v1/teams", {"name": team_name})
    body = {"api_key": secret, "label": "byok", "team_id": team["id"]}
    return str(admin(http, f"/admin/v1/providers/{provider_id}/keys", body)["id"])


@pytest.fixture
def key(client: TestClient, provider: str, lister: ScriptedLister) -> str:  # noqa: F811
    """A team key whose catalog lists the shared models but one, and one of its own."""
    key_id = team_key(client, provider)
    lister.serve(CHAT, MINI, EMBED)
    lister.by_key[TEAM_SECRET] = Listing(KeyCheckOutcome.VALID, (CHAT, OWN))
    refreshed(client, provider)
    return key_id


def test_the_scope_control_names_team_keys_and_shows_the_chosen_catalog(
    client: TestClient,  # noqa: F811
    provider: str,  # noqa: F811
    key: str,
) -> None:
    url = f"/console/providers/{provider}/catalog"
    shared = client.get(url)
    assert shared.status_code == 200, shared.text
    assert re.search(r'<option value="" selected>\s*Shared keys\s*</option>', shared.text)
    assert f'<option value="{key}">{SHOWN_AS}</option>' in html.unescape(shared.text)
    assert "Catalog of shared keys" in text_of(shared.text)
    assert "Models listed 3" in text_of(shared.text)
    assert "ft:gpt-4o:research:2025" not in shared.text
    own = client.get(url, params={"key_id": key})
    assert own.status_code == 200, own.text
    text = html.unescape(text_of(own.text))
    assert f"Catalog of team key {SHOWN_AS}" in text
    assert "Fetched less than a minute ago" in text
    assert "Models listed 2" in text
    assert "ft:gpt-4o:research:2025 Research tune" in text
    assert "text-embedding-3-small" not in text
    assert "Publishing checks each id against every cached catalog of this provider" in text
    assert f'<option value="{key}" selected>' in own.text
    for secret in (TEAM_SECRET, "sk-test-0000000000abcd"):
        assert secret not in shared.text + own.text


def test_the_choice_is_kept_through_filters_paging_and_forms(
    client: TestClient,  # noqa: F811
    provider: str,  # noqa: F811
    lister: ScriptedLister,  # noqa: F811
    key: str,
) -> None:
    extra = tuple(model(f"extra-{n:03}", Capability.TOOLS) for n in range(60))
    lister.by_key[TEAM_SECRET] = Listing(KeyCheckOutcome.VALID, (CHAT, OWN, *extra))
    refreshed(client, provider)
    url = f"/console/providers/{provider}/catalog"
    page = client.get(url, params={"key_id": key, "capability": "tools"})
    text = text_of(page.text)
    assert "Models 1 to 50 of 61" in text  # gpt-4o and the extras: the team key's catalog
    assert f"?key_id={key}&amp;capability=tools&amp;page=2" in page.text  # the pager
    assert f'href="{url}?key_id={key}">Clear filters' in page.text
    hidden = f'<input type="hidden" name="key_id" value="{key}">'
    assert page.text.count(hidden) == 3  # refresh, publish the selection, publish by id
    second = client.get(url, params={"key_id": key, "capability": "tools", "page": 2})
    assert "Models 51 to 61 of 61" in text_of(second.text)


def test_the_refresh_follows_the_chosen_catalog_and_shows_its_own_error(
    client: TestClient,  # noqa: F811
    provider: str,  # noqa: F811
    lister: ScriptedLister,  # noqa: F811
    key: str,
) -> None:
    url = f"/console/providers/{provider}/catalog"
    lister.by_key[TEAM_SECRET] = Listing(KeyCheckOutcome.REJECTED, message="the key was revoked")
    lister.gate = threading.Event()
    lister.entered.clear()
    token = csrf_of(client.get(url).text)
    started = client.post(f"{url}/refresh", data={"csrf_token": token, "key_id": key})
    assert started.status_code == 303
    assert started.headers["location"] == f"{url}?key_id={key}"
    assert lister.entered.wait(10)
    page = client.get(started.headers["location"])
    assert f'data-poll="{url}/region?key_id={key}"' in page.text
    lister.gate.set()
    region = _region_when_done(client, f"{url}/region?key_id={key}")
    assert "ft:gpt-4o:research:2025" in region  # the cached catalog stays
    own = text_of(client.get(url, params={"key_id": key}).text)
    assert "The last refresh failed (rejected): the key was revoked" in own
    shared = text_of(client.get(url).text)
    assert "The last refresh failed" not in shared  # the shared keys listed fine


def test_publishing_from_a_team_keys_catalog_checks_every_catalog(
    client: TestClient,  # noqa: F811
    provider: str,  # noqa: F811
    key: str,
) -> None:
    url = f"/console/providers/{provider}/catalog"
    page = client.get(url, params={"key_id": key})
    form = _publish_form(page.text, {"ft:gpt-4o:research:2025": "research-tune"})
    form["key_id"] = key
    answer = client.post(f"{url}/publish", data=form)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{url}?key_id={key}"
    shown = text_of(client.get(answer.headers["location"]).text)
    assert "Published 1 model: ft:gpt-4o:research:2025 as research-tune." in shown
    models = client.get(f"/admin/v1/models?provider_id={provider}", headers=ADMIN).json()
    assert [(m["model_id"], m["name"]) for m in models] == [
        ("ft:gpt-4o:research:2025", "research-tune")
    ]
    # By id, from the team key's page: an id only the shared catalog lists passes too
    # (the check is the admin API's, over every catalog), and the page stays on the key.
    typed = {"csrf_token": csrf_of(page.text), "model_id": "gpt-4o-mini", "key_id": key}
    by_id = client.post(f"{url}/publish-id", data=typed)
    assert by_id.status_code == 303, by_id.text
    assert by_id.headers["location"] == f"{url}?key_id={key}"
    refused = client.post(f"{url}/publish-id", data={**typed, "model_id": "gpt-4o-mini-typo"})
    assert refused.status_code == 422
    assert f'<option value="{key}" selected>' in refused.text  # still the team key's page


@pytest.mark.parametrize("kind", ["random", "malformed", "shared", "foreign"])
def test_an_id_that_is_no_team_key_of_the_provider_is_named(
    client: TestClient,  # noqa: F811
    provider: str,  # noqa: F811
    key: str,
    kind: str,
) -> None:
    other = admin(
        client,
        "/admin/v1/providers",
        {
            "name": "Other",
            "type": "openai",
            "api_key": "sk-other-000000000000",
            "base_url": "http://127.0.0.1:9/v1",
        },
    )
    foreign = team_key(client, other["id"], "sk-team-foreign-0000zzzz", "elsewhere")
    shared_key = client.get(f"/admin/v1/providers/{provider}/keys", headers=ADMIN).json()
    wrong = {
        "random": str(uuid.uuid4()),
        "malformed": "not-a-key",
        "shared": next(k["id"] for k in shared_key if k["team_id"] is None),
        "foreign": foreign,
    }[kind]
    url = f"/console/providers/{provider}/catalog"
    page = client.get(url, params={"key_id": wrong, "page": 2})
    assert page.status_code == 404
    text = text_of(page.text)
    assert "This provider has no team key with that id: choose a catalog from the list." in text
    assert 'aria-invalid="true"' in page.text
    assert "Catalog of shared keys" in text  # the shared catalog instead, said so
    assert "Models listed 3" in text
    assert "sk-team-foreign" not in page.text
    region = client.get(f"{url}/region", params={"key_id": wrong})
    assert region.status_code == 404
    assert "no team key with that id" in region.text
