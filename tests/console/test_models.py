"""The Models pages in process (TestClient, SQLite, the mock provider): the listing's
groups and badges, filters and paging, a model's details, verification runs through
the same service as /admin/v1 (audited as the console), their errors and history."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from tests.api.conftest import ADMIN_TOKEN
from tests.console.conftest import page_csrf, services_of
from tollway.console.pages.models_view import NAMES_PER_PAGE
from tollway.store.enums import ModelStatus
from tollway.store.tables import AuditEvent, Model

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def provider(client: TestClient, name: str) -> str:
    response = client.post(
        "/admin/v1/providers", json={"name": name, "type": "mock"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def model(client: TestClient, provider_id: str, model_id: str, name: str, **fields: Any) -> str:
    body = {"provider_id": provider_id, "model_id": model_id, "name": name, **fields}
    response = client.post(
        "/admin/v1/models", params={"skip_catalog_check": "true"}, json=body, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def change_row(client: TestClient, model_id: str, **values: Any) -> None:
    with services_of(client).database.session() as session:
        row = session.get(Model, uuid.UUID(model_id))
        assert row is not None
        for field, value in values.items():
            setattr(row, field, value)
        session.add(row)


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def verify(client: TestClient, model_id: str, suite: str = "basic") -> str:
    """Run a verification from the detail page's form; the run's page (which, under
    TestClient, the run has finished by: the background task ends before the answer)."""
    csrf = page_csrf(client, f"/console/models/{model_id}")
    started = client.post(
        f"/console/models/{model_id}/verify", data={"suite": suite, "csrf_token": csrf}
    )
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert re.fullmatch(rf"/console/models/{model_id}/runs/[0-9a-f-]{{36}}", location)
    page = client.get(location)
    assert page.status_code == 200, page.text
    return page.text


def test_the_list_groups_deployments_under_their_public_name(signed_in: TestClient) -> None:
    alpha, beta = provider(signed_in, "alpha"), provider(signed_in, "beta")
    top = model(signed_in, alpha, "mock-echo", "chat", priority=5, routing_strategy="weighted")
    model(signed_in, beta, "echo-2", "chat", priority=1, routing_strategy="cheapest")
    lone = model(signed_in, beta, "mock-embedding", "embed")
    change_row(signed_in, top, status=ModelStatus.VERIFIED)
    change_row(signed_in, lone, missing_from_catalog=True, status=ModelStatus.INVALID)

    page = signed_in.get("/console/models")

    assert page.status_code == 200
    words = text_of(page.text)
    assert "2 public names, 3 deployments." in words
    chat = page.text[page.text.index('data-name="chat"') : page.text.index('data-name="embed"')]
    # The top-priority row's strategy is the name's (as the routing table has it).
    assert "routing: weighted" in chat
    assert "cheapest" not in chat
    assert text_of(chat).index("alpha") < text_of(chat).index("beta")
    assert '<span class="badge badge-verified">verified</span>' in chat
    assert '<span class="badge badge-unverified">unverified</span>' in chat
    embed = page.text[page.text.index('data-name="embed"') :]
    assert '<span class="badge badge-invalid">invalid</span>' in embed
    assert "missing from catalog" in embed
    assert f'href="/console/models/{lone}"' in embed


def test_an_unknown_status_renders_with_the_generic_badge() -> None:
    from tollway.console.pages.models_view import badge_class

    assert badge_class("retired") == "badge badge-retired"
    assert badge_class("quarantined") == "badge badge-other"


def test_filters_and_pages_of_names(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    items = [{"model_id": f"m{n:03}", "name": f"name-{n:03}"} for n in range(NAMES_PER_PAGE + 5)]
    published = signed_in.post(
        f"/admin/v1/providers/{alpha}/models:publish",
        params={"skip_catalog_check": "true"},
        json={"models": items},
        headers=ADMIN,
    )
    assert published.status_code == 201, published.text
    change_row(signed_in, published.json()[3]["id"], status=ModelStatus.VERIFIED)

    first = text_of(signed_in.get("/console/models").text)
    assert "name-000" in first
    assert f"name-{NAMES_PER_PAGE - 1:03}" in first
    assert f"name-{NAMES_PER_PAGE:03}" not in first
    assert "Page 1 of 2" in first
    second = signed_in.get("/console/models", params={"page": 2})
    assert f"name-{NAMES_PER_PAGE:03}" in second.text
    assert 'rel="prev"' in second.text

    found = text_of(signed_in.get("/console/models", params={"q": "M012"}).text)
    assert "1 public name, 1 deployment matching." in found
    assert "name-012" in found
    verified = text_of(signed_in.get("/console/models", params={"status": "verified"}).text)
    assert "name-003" in verified
    assert "1 public name" in verified
    none = signed_in.get("/console/models", params={"q": "nothing-like-it"})
    assert "No model matches." in none.text
    assert signed_in.get("/console/models", params={"page": 0}).status_code == 422


def test_the_detail_page_shows_the_model_and_its_siblings(signed_in: TestClient) -> None:
    alpha, beta = provider(signed_in, "alpha"), provider(signed_in, "beta")
    first = model(signed_in, alpha, "mock-echo", "chat", description="An echo", weight=3)
    other = model(signed_in, beta, "echo-2", "chat")

    page = signed_in.get(f"/console/models/{first}")

    assert page.status_code == 200
    words = text_of(page.text)
    assert "chat on alpha" in words
    assert "Routing strategy priority" in words
    assert "An echo" in words
    assert "No verification has run yet." in words
    assert f'href="/console/models/{other}"' in page.text
    assert 'name="csrf_token"' in page.text
    assert '<label for="suite">Suite</label>' in page.text


def test_unknown_or_malformed_ids_are_error_pages(signed_in: TestClient) -> None:
    missing = signed_in.get(f"/console/models/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "<html" in missing.text
    assert signed_in.get("/console/models/not-a-uuid").status_code == 422
    run = signed_in.get(f"/console/models/{uuid.uuid4()}/runs/{uuid.uuid4()}")
    assert run.status_code == 404


def test_a_basic_run_verifies_the_model_audited_as_the_console(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "echo")

    page = verify(signed_in, echo)

    words = text_of(page)
    assert "basic verification passed." in words
    assert "Status: unverified → verified" in words
    assert re.search(r"reachable passed .* completion passed", words)
    assert "data-poll=" not in page  # finished: nothing left to poll
    detail = text_of(signed_in.get(f"/console/models/{echo}").text)
    assert "Status verified" in detail
    with services_of(signed_in).database.session() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "model.verify")).all()
    assert [(e.actor, e.details["suite"], e.details["passed"]) for e in events] == [
        ("console", "basic", True)
    ]


def test_a_run_without_a_usable_deployment_shows_why(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    off = model(signed_in, alpha, "mock-echo", "off", enabled=False)

    words = text_of(verify(signed_in, off))

    assert "basic verification failed." in words
    assert "reachable failed" in words
    assert "no usable deployment: the model is disabled or has no usable key" in words


def test_an_invalid_model_is_not_verified_and_says_so(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    broken = model(signed_in, alpha, "mock-echo", "broken")
    change_row(signed_in, broken, status=ModelStatus.INVALID, status_reason="provider missing")

    page = verify(signed_in, broken)

    assert 'role="alert"' in page
    assert "there is nothing to verify" in text_of(page)


def test_the_form_refuses_an_unknown_suite_and_a_missing_csrf_token(
    signed_in: TestClient,
) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "echo")
    csrf = page_csrf(signed_in, f"/console/models/{echo}")

    wrong = signed_in.post(
        f"/console/models/{echo}/verify", data={"suite": "everything", "csrf_token": csrf}
    )
    assert wrong.status_code == 422
    assert 'aria-invalid="true"' in wrong.text
    assert "Choose basic or full." in wrong.text
    forged = signed_in.post(f"/console/models/{echo}/verify", data={"suite": "basic"})
    assert forged.status_code == 403
    gone = signed_in.post(
        f"/console/models/{uuid.uuid4()}/verify", data={"suite": "basic", "csrf_token": csrf}
    )
    assert gone.status_code == 404
    assert services_of(signed_in).models.get(uuid.UUID(echo)).last_verification is None


def test_the_history_lists_runs_newest_first_in_whole_pages(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "echo", enabled=False)
    verify(signed_in, echo)  # fails: not routable while disabled
    enabled = signed_in.patch(f"/admin/v1/models/{echo}", json={"enabled": True}, headers=ADMIN)
    assert enabled.status_code == 200, enabled.text
    verify(signed_in, echo)

    page = signed_in.get(f"/console/models/{echo}").text

    runs = re.findall(r'data-run="([0-9a-f-]+)"', page)
    assert len(runs) == 2
    history = text_of(page[page.index("Verification history") :])
    assert history.index("passed") < history.index("failed")  # the passed run is newer
    for _ in range(30):  # two results a run: the history spans pages
        verify(signed_in, echo)
    first = signed_in.get(f"/console/models/{echo}").text
    older = re.search(r'href="([^"]+\?offset=(\d+))" rel="next"', first)
    assert older is not None
    assert int(older[2]) % 2 == 0  # no run cut in two
    second = signed_in.get(older[1].replace("&amp;", "&")).text
    shown = re.findall(r'data-run="([0-9a-f-]+)"', first) + re.findall(
        r'data-run="([0-9a-f-]+)"', second
    )
    assert len(shown) == len(set(shown))


def test_a_run_unknown_here_says_so_and_stops_polling(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "echo")

    fragment = signed_in.get(f"/console/models/{echo}/runs/{uuid.uuid4()}/progress")

    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "data-poll-done" in fragment.text
    assert "No result of this run is recorded yet" in fragment.text


def test_a_recorded_run_reads_from_the_database_when_not_live(signed_in: TestClient) -> None:
    alpha = provider(signed_in, "alpha")
    echo = model(signed_in, alpha, "mock-echo", "echo")
    run = signed_in.post(f"/admin/v1/models/{echo}/verify", headers=ADMIN).json()

    page = signed_in.get(f"/console/models/{echo}/runs/{run['run_id']}")

    words = text_of(page.text)
    assert "This run is recorded." in words
    assert "The model's status now: verified" in words
    assert re.search(r"reachable passed .* completion passed", words)


def test_signed_out_visitors_go_to_sign_in(client: TestClient) -> None:
    for path in ("/console/models", f"/console/models/{uuid.uuid4()}"):
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")
