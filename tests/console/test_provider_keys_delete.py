"""Deleting a provider key through its confirmation page, in process: the page names the
key by label and fingerprint (never the secret) and what uses it (its owner, the
provider's models, a limit on it, the keys left); its POST deletes, audited as the
console; no script is needed; unknown keys and a missing CSRF token are refused."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from tests.console.conftest import page_csrf, services_of
from tests.console.test_models import text_of
from tests.console.test_provider_keys import FIRST_KEY, flash_after, keys_path, provider
from tollway.domain.common import Actor
from tollway.domain.limits import LimitsCreate
from tollway.domain.models import ModelCreate
from tollway.domain.provider_keys import ProviderKeyCreate
from tollway.domain.providers import ProviderRead
from tollway.domain.teams import TeamCreate
from tollway.store.enums import LimitScope

ADMIN = Actor("admin")
TEAM_KEY = "sk-team-key-0f1e2d3c4b5a6978"


def publish(client: TestClient, found: ProviderRead, *names: str) -> None:
    for name in names:
        data = ModelCreate(provider_id=found.id, model_id=name, name=name)
        services_of(client).models.create(data, ADMIN, skip_catalog_check=True)


def confirm_path(found: ProviderRead, key_id: uuid.UUID) -> str:
    return f"{keys_path(found)}/{key_id}/delete"


def test_the_keys_page_links_to_the_confirmation_instead_of_a_script_prompt(
    signed_in: TestClient,
) -> None:
    found = provider(signed_in)
    key = found.keys[0]
    page = signed_in.get(keys_path(found)).text
    link = re.search(rf'<a [^>]*href="{confirm_path(found, key.id)}"[^>]*>([^<]*)</a>', page)
    assert link, page
    assert link[1] == "Delete…"
    assert 'aria-label="Delete key default"' in page
    assert "and its secret? This cannot be undone." not in page  # no data-confirm prompt
    assert "data-confirm=" in page  # disabling still asks first, in the script


def test_the_confirmation_names_the_key_and_what_uses_it(signed_in: TestClient) -> None:
    found = provider(signed_in)
    shared = found.keys[0]
    services = services_of(signed_in)
    team = services.teams.create(TeamCreate(name="Research"), ADMIN)
    byok = services.provider_keys.add(
        found.id,
        ProviderKeyCreate.model_validate(
            {"api_key": TEAM_KEY, "label": "byok", "team_id": team.id}
        ),
        ADMIN,
    )
    publish(signed_in, found, "gpt-4o", "gpt-4o-mini")
    limit = LimitsCreate(scope=LimitScope.PROVIDER_KEY, scope_id=shared.id, requests_per_minute=5)
    services.limits.create(limit, ADMIN)

    page = signed_in.get(confirm_path(found, shared.id))

    assert page.status_code == 200
    words = text_of(page.text)
    assert "Delete key default?" in words
    assert f"default, fingerprint {shared.fingerprint}" in words
    assert "It is shared: requests of every team without a key of its own on Keyed" in words
    assert "It serves Keyed's 2 deployments: gpt-4o , gpt-4o-mini ." in words
    assert "A limit is set on this key; it will apply to nothing" in words
    assert f"1 other key of Keyed remains: byok ( {byok.fingerprint} , team Research)" in words
    assert "only key" not in words
    assert FIRST_KEY not in page.text
    assert TEAM_KEY not in page.text
    team_page = text_of(signed_in.get(confirm_path(found, byok.id)).text)
    assert "Only requests of team Research use it" in team_page
    assert "No limit is set on this key." in team_page

    form = re.search(r'<form class="form" method="post" action="([^"]+)"', page.text)
    assert form
    assert form[1] == f"{keys_path(found)}/{shared.id}/delete"
    answer = signed_in.post(form[1], data={"csrf_token": page_csrf(signed_in)})
    flash = text_of(flash_after(signed_in, answer))
    assert f"Key default ({shared.fingerprint}) deleted, its secret too." in flash
    assert [key.label for key in services.provider_keys.list(found.id)] == ["byok"]
    [event] = [
        e
        for e in services.audit.list(limit=50, offset=0).items
        if e.action == "provider_key.delete"
    ]
    assert event.actor == "console"


def test_the_providers_only_key_is_flagged(signed_in: TestClient) -> None:
    found = provider(signed_in)
    publish(signed_in, found, "gpt-4o")
    words = text_of(signed_in.get(confirm_path(found, found.keys[0].id)).text)
    assert (
        "It is Keyed's only key. Its 1 deployment cannot be served through Keyed "
        "until you add another key." in words
    )


def test_unknown_keys_and_a_missing_token_are_refused(signed_in: TestClient) -> None:
    first, second = provider(signed_in), provider(signed_in)
    for key_id in (uuid.uuid4(), second.keys[0].id):
        answer = signed_in.get(confirm_path(first, key_id))
        assert answer.status_code == 404
        assert "not found" in answer.text
    assert signed_in.get(f"{keys_path(first)}/not-a-uuid/delete").status_code == 422
    forged = signed_in.post(confirm_path(first, first.keys[0].id), data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert len(services_of(signed_in).provider_keys.list(first.id)) == 1
