"""Editing and deleting a model deployment in process (TestClient, SQLite, the mock
provider; a scripted lister where the catalog must refuse): the form's fields and
errors next to them, only changed fields saved and audited as the console, the
catalog's refusal of a new id, retire-or-delete as DELETE /admin/v1/models does,
unknown ids, and CSRF."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.console.conftest import page_csrf, services_of, sign_in
from tests.console.test_models import model, provider, text_of, verify
from tests.fakes.listers import CHAT, EMBED, MINI, ScriptedLister
from tollway.app import create_app
from tollway.store.enums import ModelStatus, RoutingStrategy
from tollway.store.tables import AuditEvent, Model

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def form_of(model_row: Model, **changes: str) -> dict[str, str]:
    """The edit form as a browser posts it for the row as it is, with ``changes``:
    checkboxes only when ticked."""
    form = {
        "name": model_row.name,
        "model_id": model_row.model_id,
        "description": model_row.description or "",
        "openrouter_model_id": model_row.openrouter_model_id or "",
        "priority": str(model_row.priority),
        "weight": str(model_row.weight),
        "max_input_tokens": str(model_row.max_input_tokens or ""),
        "max_output_tokens": str(model_row.max_output_tokens or ""),
        "routing_strategy": str(model_row.routing_strategy),
    }
    for flag in ("enabled", "supports_streaming", "supports_reasoning"):
        if getattr(model_row, flag):
            form[flag] = "true"
    form.update(changes)
    return {name: value for name, value in form.items() if value != "(off)"}


def row(client: TestClient, model_id: str) -> Model:
    with services_of(client).database.session() as session:
        found = session.get(Model, uuid.UUID(model_id))
        assert found is not None
        session.expunge(found)
        return found


def audit_of(client: TestClient, prefix: str) -> list[AuditEvent]:
    with services_of(client).database.session() as session:
        events = session.exec(select(AuditEvent)).all()
        return [event for event in events if event.action.startswith(prefix)]


def save(client: TestClient, model_id: str, form: dict[str, str]) -> httpx.Response:
    csrf = page_csrf(client, f"/console/models/{model_id}/edit")
    return client.post(f"/console/models/{model_id}/edit", data={**form, "csrf_token": csrf})


def followed(client: TestClient, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return client.get(answer.headers["location"]).text


# -- edit ----------------------------------------------------------------------------------


def test_the_edit_form_shows_the_deployment_as_it_is(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "chat", priority=4, weight=7, max_input_tokens=99)

    detail = signed_in.get(f"/console/models/{echo}")
    assert f'href="/console/models/{echo}/edit"' in detail.text
    assert f'href="/console/models/{echo}/delete"' in detail.text
    page = signed_in.get(f"/console/models/{echo}/edit")

    assert page.status_code == 200
    assert "Edit chat on alpha" in text_of(page.text)
    assert re.search(r'id="name" name="name" type="text" value="chat"', page.text)
    assert re.search(r'id="priority" name="priority" type="text" value="4"', page.text)
    assert re.search(r'id="weight" name="weight" type="text" value="7"', page.text)
    assert re.search(r'id="max_input_tokens" [^>]*value="99"', page.text)
    assert re.search(r'id="enabled" name="enabled" type="checkbox" value="true" checked', page.text)
    assert not re.search(r'id="supports_reasoning" [^>]*checked', page.text)
    assert '<option value="priority" selected>' in page.text
    for field in ("name", "model_id", "priority", "weight", "routing_strategy", "enabled"):
        assert f'<label for="{field}">' in page.text


def test_a_saved_edit_changes_only_what_changed_audited_as_the_console(
    signed_in: TestClient,
) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "chat", max_output_tokens=512)
    form = form_of(
        row(signed_in, echo),
        name="chat-2",
        priority="12",
        weight="3",
        routing_strategy="weighted",
        enabled="(off)",
        supports_reasoning="true",
        max_output_tokens="",
    )

    page = followed(signed_in, save(signed_in, echo, form))

    assert "Deployment chat-2 on alpha saved." in text_of(page)
    saved = row(signed_in, echo)
    assert (saved.name, saved.priority, saved.weight) == ("chat-2", 12, 3)
    assert saved.routing_strategy is RoutingStrategy.WEIGHTED
    assert (saved.enabled, saved.supports_reasoning) == (False, True)
    assert saved.max_output_tokens is None  # a blank clears a limit
    assert saved.model_id == "mock-echo"
    [event] = audit_of(signed_in, "model.update")
    assert event.actor == "console"
    assert event.details["fields"] == sorted(
        [
            "enabled",
            "max_output_tokens",
            "name",
            "priority",
            "routing_strategy",
            "supports_reasoning",
            "weight",
        ]
    )


def test_bad_input_is_answered_next_to_each_field(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "chat")
    before = row(signed_in, echo)
    form = form_of(
        before, name="", priority="high", weight="5000", max_input_tokens="-3", description="kept"
    )

    answer = save(signed_in, echo, form)

    assert answer.status_code == 422
    for field in ("name", "priority", "weight", "max_input_tokens"):
        assert re.search(rf'id="{field}" [^>]*aria-invalid="true"', answer.text), field
        assert f'id="{field}-error"' in answer.text
    assert "less than or equal to 1000" in answer.text
    assert re.search(r'id="priority" name="priority" type="text" value="high"', answer.text)
    assert "kept</textarea>" in answer.text  # what was posted, shown again
    assert 'role="alert"' in answer.text
    assert row(signed_in, echo).updated_at == before.updated_at
    assert audit_of(signed_in, "model.update") == []

    strategy = save(signed_in, echo, form_of(before, routing_strategy="fastest"))
    assert strategy.status_code == 422
    assert 'id="routing_strategy-error"' in strategy.text
    for odd in ({"enabled": "maybe"}, {"description": "x" * 10_000}):
        refused = save(signed_in, echo, form_of(before, **odd))
        assert refused.status_code == 422, refused.text  # the error page, never a 500
        assert "<h1>" in refused.text
    assert row(signed_in, echo).updated_at == before.updated_at


def test_a_retired_deployment_cannot_change(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "chat")
    verify(signed_in, echo)
    assert signed_in.delete(f"/admin/v1/models/{echo}", headers=ADMIN).status_code == 200

    detail = signed_in.get(f"/console/models/{echo}")
    assert f"/console/models/{echo}/edit" not in detail.text
    csrf = page_csrf(signed_in, f"/console/models/{echo}")  # its edit page redirects
    form = {**form_of(row(signed_in, echo), priority="9"), "csrf_token": csrf}
    answer = signed_in.post(f"/console/models/{echo}/edit", data=form)

    assert answer.status_code == 409
    assert "is retired" in text_of(answer.text)
    assert row(signed_in, echo).priority == 0

    # Its edit page, opened by its address, sends the operator back with the reason.
    opened = signed_in.get(f"/console/models/{echo}/edit")
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/console/models/{echo}"
    flash = text_of(followed(signed_in, opened))
    assert "is retired: it is kept with its verification results and cannot be edited" in flash


@pytest.fixture
def catalog_client(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Iterator[TestClient]:
    """A console whose providers' catalog is a scripted lister's."""
    lister = ScriptedLister()
    lister.serve(CHAT, MINI, EMBED)
    settings = make_settings(tmp_path / "data", migrated_sqlite(tmp_path / "tollway.db"))
    app = create_app(settings, listers=lambda _type: lister)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        assert sign_in(client).status_code == 303
        yield client


def test_the_catalogs_refusal_of_a_new_id_shows_next_to_it(catalog_client: TestClient) -> None:
    body = {
        "name": "Acme",
        "type": "openai",
        "api_key": "sk-test-0000000000abcd",
        "base_url": "http://127.0.0.1:9/v1",
    }
    acme = catalog_client.post("/admin/v1/providers", json=body, headers=ADMIN).json()["id"]
    created = catalog_client.post(
        "/admin/v1/models",
        json={"provider_id": acme, "model_id": "gpt-4o", "name": "chat"},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    echo = created.json()["id"]

    refused = save(
        catalog_client, echo, form_of(row(catalog_client, echo), model_id="gpt-4o-minii")
    )

    assert refused.status_code == 422
    error = re.search(r'id="model_id-error">([^<]*)<', refused.text)
    assert error, refused.text
    message = html.unescape(error[1])
    assert "(3 models) does not list 'gpt-4o-minii'. Closest listed: gpt-4o-mini" in message
    assert "To save it anyway, tick \"Don't check a new model id" in message
    assert "skip_catalog_check=true" in html.unescape(refused.text)  # the summary: all of it
    assert row(catalog_client, echo).model_id == "gpt-4o"

    skipped = form_of(row(catalog_client, echo), model_id="gpt-5", skip_catalog_check="true")
    followed(catalog_client, save(catalog_client, echo, skipped))
    assert row(catalog_client, echo).model_id == "gpt-5"
    [event] = audit_of(catalog_client, "model.update")
    assert (event.actor, event.details["catalog_check"]) == ("console", "skipped")


# -- delete --------------------------------------------------------------------------------


def test_a_deployment_without_results_is_deleted_after_the_confirmation(
    signed_in: TestClient,
) -> None:
    alpha, beta = provider(signed_in, "alpha"), provider(signed_in, "beta")
    echo = model(signed_in, alpha, "mock-echo", "chat")
    model(signed_in, beta, "echo-2", "chat")

    confirm = signed_in.get(f"/console/models/{echo}/delete")

    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "Delete chat on alpha?" in words
    assert "It will be deleted: it has no verification results" in words
    assert "1 other deployment of chat keeps serving it: beta ( echo-2 )" in words
    assert 'name="strict" value="true"' in confirm.text
    assert row(signed_in, echo)  # nothing happens on a GET

    answer = signed_in.post(
        f"/console/models/{echo}/delete",
        data={"csrf_token": page_csrf(signed_in), "strict": "true"},
    )

    assert answer.headers["location"] == "/console/models"
    assert "Deployment chat on alpha (mock-echo) deleted." in text_of(followed(signed_in, answer))
    assert signed_in.get(f"/admin/v1/models/{echo}", headers=ADMIN).status_code == 404
    [event] = audit_of(signed_in, "model.delete")
    assert event.actor == "console"


def test_a_deployment_with_results_is_retired_and_kept(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "chat")
    verify(signed_in, echo)

    words = text_of(signed_in.get(f"/console/models/{echo}/delete").text)
    assert "It will be retired, not deleted: it has 2 verification results" in words
    assert "It is the only deployment of chat" in words
    answer = signed_in.post(
        f"/console/models/{echo}/delete", data={"csrf_token": page_csrf(signed_in)}
    )

    flash = text_of(followed(signed_in, answer))
    assert "Deployment chat on alpha (mock-echo) retired" in flash
    assert "verification results are kept" in flash
    assert row(signed_in, echo).status is ModelStatus.RETIRED
    [event] = audit_of(signed_in, "model.retired")
    assert event.actor == "console"
    again = text_of(signed_in.get(f"/console/models/{echo}/delete").text)
    assert "It is already retired" in again


def test_results_recorded_after_the_page_refuse_the_deletion_it_promised(
    signed_in: TestClient,
) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "chat")
    csrf = page_csrf(signed_in, f"/console/models/{echo}/delete")  # said "deleted"
    verify(signed_in, echo)  # a scheduled run, say

    answer = signed_in.post(
        f"/console/models/{echo}/delete", data={"csrf_token": csrf, "strict": "true"}
    )

    assert answer.status_code == 409
    words = text_of(answer.text)
    assert "has 2 verification result(s)" in words
    assert "It will be retired, not deleted" in words  # the page as it is now
    assert row(signed_in, echo).status is not ModelStatus.RETIRED


# -- unknown ids and CSRF ------------------------------------------------------------------


@pytest.mark.parametrize("action", ["edit", "delete"])
def test_unknown_and_malformed_ids(signed_in: TestClient, action: str) -> None:
    csrf = page_csrf(signed_in)
    missing = f"/console/models/{uuid.uuid4()}/{action}"
    for answer in (signed_in.get(missing), signed_in.post(missing, data={"csrf_token": csrf})):
        assert answer.status_code == 404, answer.text
        assert "<h1>" in answer.text
        assert "not found" in answer.text
    malformed = signed_in.get(f"/console/models/not-a-uuid/{action}")
    assert malformed.status_code == 422
    assert "<h1>" in malformed.text


def test_edit_and_delete_need_the_csrf_token(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "chat")
    form = form_of(row(signed_in, echo), priority="7")

    edited = signed_in.post(f"/console/models/{echo}/edit", data=form)
    deleted = signed_in.post(f"/console/models/{echo}/delete", data={"csrf_token": "forged"})

    assert (edited.status_code, deleted.status_code) == (403, 403)
    assert row(signed_in, echo).priority == 0
    assert audit_of(signed_in, "model.") == audit_of(signed_in, "model.create")
