"""The providers pages in-process: the list, the create form's per-type validation, edit,
delete with its orphans named, a connection test, and errors as readable pages."""

from __future__ import annotations

import re
import threading
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.console.conftest import page_csrf, services_of
from tollway.domain.common import Actor
from tollway.domain.models import ModelCreate
from tollway.domain.providers import ProviderCreate, ProviderRead

ADMIN = Actor("admin")


def add_provider(client: TestClient, **fields: object) -> ProviderRead:
    body = ProviderCreate.model_validate({"name": "Mocky", "type": "mock", **fields})
    return services_of(client).providers.create(body, ADMIN)


def add_model(client: TestClient, provider: ProviderRead, name: str) -> None:
    data = ModelCreate(provider_id=provider.id, model_id=name, name=name)
    services_of(client).models.create(data, ADMIN, skip_catalog_check=True)


def post_form(client: TestClient, path: str, data: dict[str, str], page: str = "") -> object:
    token = page_csrf(client, page or "/console/providers/new")
    return client.post(path, data={"csrf_token": token, **data})


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match[1]


def test_the_list_shows_status_keys_models_and_catalog_age(signed_in: TestClient) -> None:
    empty = signed_in.get("/console/providers")
    assert "No providers yet" in empty.text
    provider = add_provider(signed_in, type="openai", api_key="sk-list-1234567890", name="Open")
    add_model(signed_in, provider, "gpt-x")
    html = signed_in.get("/console/providers").text
    assert "Open" in html
    assert "OpenAI" in html
    assert "Not tested" in html
    assert "1 key<" in html
    assert "never fetched" in html
    assert "sk-list-1234567890" not in html


def summary_statements(client: TestClient) -> int:
    """How many SQL statements the list's read (``providers.summaries``) runs, counted
    in this thread only (the runtime's background work uses the same engine)."""
    services = services_of(client)
    here = threading.get_ident()
    seen: list[str] = []

    def count(*args: object) -> None:
        if threading.get_ident() == here:
            seen.append(str(args[2]))

    event.listen(services.database.engine, "before_cursor_execute", count)
    try:
        services.providers.summaries()
    finally:
        event.remove(services.database.engine, "before_cursor_execute", count)
    return len(seen)


def test_the_list_costs_the_same_queries_for_two_providers_or_twenty(
    signed_in: TestClient,
) -> None:
    for n in range(2):
        add_model(signed_in, add_provider(signed_in, name=f"p{n}", api_key=f"k-{n}"), f"m{n}")
    few = summary_statements(signed_in)
    for n in range(2, 20):
        add_model(signed_in, add_provider(signed_in, name=f"p{n}", api_key=f"k-{n}"), f"m{n}")
    assert summary_statements(signed_in) == few
    assert few <= 5
    html = signed_in.get("/console/providers").text
    assert html.count("1 key<") == 20


def test_create_needs_a_base_url_for_openai_compatible_only(signed_in: TestClient) -> None:
    answer = post_form(
        signed_in,
        "/console/providers",
        {"name": "Local", "type": "openai_compatible", "api_key": "sk-secret-abcdef"},
    )
    assert answer.status_code == 422  # type: ignore[attr-defined]
    html = answer.text  # type: ignore[attr-defined]
    assert "base URL is required for OpenAI-compatible" in field_error(html, "base_url")
    assert "sk-secret-abcdef" not in html  # the key is never echoed back
    assert 'value="Local"' in html
    created = post_form(
        signed_in,
        "/console/providers",
        {"name": "Claude", "type": "anthropic", "api_key": "sk-ant-abcdef", "base_url": ""},
    )
    assert created.status_code == 303  # type: ignore[attr-defined]
    detail = signed_in.get(created.headers["location"])  # type: ignore[attr-defined]
    assert "Provider Claude added" in detail.text
    assert "https://api.anthropic.com" in detail.text
    assert "(the default)" in detail.text


def test_every_error_shows_at_once_next_to_its_field(signed_in: TestClient) -> None:
    answer = post_form(
        signed_in,
        "/console/providers",
        {"name": "", "type": "openai_compatible", "website": "not a url"},
    )
    html = answer.text  # type: ignore[attr-defined]
    assert answer.status_code == 422  # type: ignore[attr-defined]
    for field in ("name", "base_url", "api_key", "website"):
        assert field_error(html, field)
    assert 'role="alert"' in html


def test_an_unsafe_base_url_is_refused_next_to_its_field(signed_in: TestClient) -> None:
    answer = post_form(
        signed_in,
        "/console/providers",
        {
            "name": "Meta",
            "type": "openai_compatible",
            "api_key": "k",
            "base_url": "http://169.254.169.254/v1",
        },
    )
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert "metadata" in field_error(answer.text, "base_url")  # type: ignore[attr-defined]


def test_create_is_audited_as_the_console(signed_in: TestClient) -> None:
    post_form(signed_in, "/console/providers", {"name": "Audited", "type": "mock"})
    events = services_of(signed_in).audit.list(limit=10, offset=0, action="provider.create")
    assert [event.actor for event in events.items] == ["console"]


def test_edit_changes_only_what_changed_and_keeps_type_rules(signed_in: TestClient) -> None:
    provider = add_provider(
        signed_in, type="openai_compatible", base_url="http://10.0.0.5:8000/v1", api_key="k1"
    )
    path = f"/console/providers/{provider.id}/edit"
    form = signed_in.get(path)
    assert 'value="http://10.0.0.5:8000/v1"' in form.text
    cleared = post_form(signed_in, path, {"name": "Mocky", "base_url": ""}, page=path)
    assert cleared.status_code == 422  # type: ignore[attr-defined]
    assert "base URL is required" in field_error(cleared.text, "base_url")  # type: ignore[attr-defined]
    saved = post_form(
        signed_in, path, {"name": "Renamed", "base_url": "http://10.0.0.6:8000/v1"}, page=path
    )
    assert saved.status_code == 303  # type: ignore[attr-defined]
    stored = services_of(signed_in).providers.get(provider.id)
    assert (stored.name, stored.base_url) == ("Renamed", "http://10.0.0.6:8000/v1")


def test_delete_names_the_models_it_orphans_first(signed_in: TestClient) -> None:
    provider = add_provider(signed_in, name="Doomed")
    services = services_of(signed_in)
    for name in ("alpha-model", "beta-model"):
        add_model(signed_in, provider, name)
    confirm = signed_in.get(f"/console/providers/{provider.id}/delete")
    assert "2 models will be left without a provider" in confirm.text
    assert "alpha-model" in confirm.text
    assert "beta-model" in confirm.text
    path = f"/console/providers/{provider.id}/delete"
    answer = post_form(signed_in, path, {}, page=path)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    listing = signed_in.get(answer.headers["location"])  # type: ignore[attr-defined]
    assert "Provider Doomed deleted" in listing.text
    assert "2 model(s) are left without a provider" in listing.text
    assert all(m.status == "invalid" for m in services.models.list())


def test_test_connection_reports_each_key(signed_in: TestClient) -> None:
    provider = add_provider(signed_in)
    path = f"/console/providers/{provider.id}"
    answer = post_form(signed_in, f"{path}/test", {}, page=path)
    assert answer.status_code == 200  # type: ignore[attr-defined]
    assert "Valid" in answer.text
    assert "Provider status" in answer.text  # type: ignore[attr-defined]
    assert services_of(signed_in).providers.get(provider.id).status == "active"


def test_unknown_or_malformed_ids_are_readable_pages(signed_in: TestClient) -> None:
    missing = signed_in.get(f"/console/providers/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "not found" in missing.text
    assert "<html" in missing.text
    malformed = signed_in.get("/console/providers/not-a-uuid/edit")
    assert malformed.status_code == 422
    assert "<html" in malformed.text


def test_posts_need_the_csrf_token(signed_in: TestClient) -> None:
    provider = add_provider(signed_in)
    refused = signed_in.post(f"/console/providers/{provider.id}/delete", data={})
    assert refused.status_code == 403
    assert services_of(signed_in).providers.get(provider.id)


def test_signed_out_visitors_go_to_sign_in(client: TestClient) -> None:
    answer = client.get("/console/providers/new")
    assert answer.status_code == 303
    assert "/console/login" in answer.headers["location"]
