"""The provider keys page in-process: add (shared or team-owned), rotate, disable, enable,
delete, validation next to the field, and never a secret in any page."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi.testclient import TestClient

from tests.console.conftest import page_csrf, services_of
from tollway.domain.common import Actor
from tollway.domain.providers import ProviderCreate, ProviderRead
from tollway.domain.teams import TeamCreate

ADMIN = Actor("admin")
FIRST_KEY = "sk-first-0123456789abcdef"


def provider(client: TestClient) -> ProviderRead:
    body = ProviderCreate(name="Keyed", type="openai", api_key=FIRST_KEY)  # type: ignore[arg-type]
    return services_of(client).providers.create(body, ADMIN)


def keys_path(found: ProviderRead) -> str:
    return f"/console/providers/{found.id}/keys"


def post(
    client: TestClient, path: str, page: str, data: dict[str, str] | None = None
) -> httpx.Response:
    return client.post(path, data={"csrf_token": page_csrf(client, page), **(data or {})})


def flash_after(client: TestClient, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return client.get(answer.headers["location"]).text


def test_keys_show_fingerprints_and_mark_team_owned_ones(signed_in: TestClient) -> None:
    found = provider(signed_in)
    team = services_of(signed_in).teams.create(TeamCreate(name="Research"), ADMIN)
    secret = "sk-team-key-fedcba9876543210"
    page = keys_path(found)
    added = post(
        signed_in, page, page, {"api_key": secret, "label": "byok", "team_id": str(team.id)}
    )
    html = flash_after(signed_in, added)
    keys = services_of(signed_in).provider_keys.list(found.id)
    assert {key.label for key in keys} == {"default", "byok"}
    for key in keys:
        assert key.fingerprint in html
    assert "Team: Research" in html
    assert "Shared" in html
    assert "Key byok added for team Research" in html
    assert secret not in html
    assert FIRST_KEY not in html


def test_an_empty_key_is_an_error_next_to_the_field(signed_in: TestClient) -> None:
    found = provider(signed_in)
    answer = post(signed_in, keys_path(found), keys_path(found), {"label": "x"})
    assert answer.status_code == 422
    assert re.search(r'id="api_key-error">Paste the provider&#39;s API key', answer.text)
    unknown_team = post(
        signed_in,
        keys_path(found),
        keys_path(found),
        {"api_key": "sk-whatever-123", "team_id": str(uuid.uuid4())},
    )
    assert unknown_team.status_code == 404
    assert "not found" in unknown_team.text
    assert "sk-whatever-123" not in unknown_team.text


def test_rotate_disable_enable_delete(signed_in: TestClient) -> None:
    found = provider(signed_in)
    key = found.keys[0]
    base = f"{keys_path(found)}/{key.id}"
    form = signed_in.get(f"{base}/rotate")
    assert key.fingerprint in form.text
    refused = post(signed_in, f"{base}/rotate", f"{base}/rotate", {"api_key": ""})
    assert refused.status_code == 422
    new_secret = "sk-rotated-0011223344556677"
    html = flash_after(
        signed_in, post(signed_in, f"{base}/rotate", f"{base}/rotate", {"api_key": new_secret})
    )
    rotated = services_of(signed_in).provider_keys.list(found.id)[0]
    assert rotated.fingerprint != key.fingerprint
    assert f"fingerprint {key.fingerprint} is now {rotated.fingerprint}" in html
    assert new_secret not in html
    html = flash_after(signed_in, post(signed_in, f"{base}/disable", keys_path(found)))
    assert "disabled" in html
    assert ">Enable<" in html
    again = post(signed_in, f"{base}/disable", keys_path(found))
    assert again.status_code == 303  # disabling twice is harmless
    html = flash_after(signed_in, post(signed_in, f"{base}/enable", keys_path(found)))
    assert "enabled" in html
    conflict = post(signed_in, f"{base}/enable", keys_path(found))
    assert conflict.status_code == 409
    assert "is not disabled" in conflict.text
    html = flash_after(signed_in, post(signed_in, f"{base}/delete", keys_path(found)))
    assert "deleted" in html
    assert services_of(signed_in).provider_keys.list(found.id) == []
    actions = [
        event.actor
        for event in services_of(signed_in).audit.list(limit=50, offset=0).items
        if event.action.startswith("provider_key.")
    ]
    assert actions
    assert set(actions) == {"console", "admin"}


def test_a_key_of_another_provider_is_not_found(signed_in: TestClient) -> None:
    first, second = provider(signed_in), provider(signed_in)
    path = f"{keys_path(first)}/{second.keys[0].id}/rotate"
    assert signed_in.get(path).status_code == 404
    assert (
        post(
            signed_in, f"{keys_path(first)}/{second.keys[0].id}/delete", keys_path(first)
        ).status_code
        == 404
    )
    assert len(services_of(signed_in).provider_keys.list(second.id)) == 1
