"""Sign-in with the admin token, the session it opens, sign-out, expiry, rate limit."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.api.conftest import ADMIN_TOKEN
from tests.console.conftest import (
    NAV_PATHS,
    console_client,
    csrf_of,
    page_csrf,
    services_of,
    sign_in,
)
from tollway.settings import Settings
from tollway.store.repositories import console_sessions
from tollway.store.tables import ConsoleSession, utcnow


def _sessions(client: TestClient) -> list[ConsoleSession]:
    with services_of(client).database.session() as session:
        return list(session.exec(select(ConsoleSession)).all())


def test_sign_in_opens_a_session_and_lands_on_home(client: TestClient) -> None:
    response = sign_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    home = client.get("/console/")
    assert home.status_code == 200
    assert "Sign out" in home.text
    [row] = _sessions(client)
    cookie = client.cookies["tollway_console"]
    assert row.id_digest == hashlib.sha256(cookie.encode()).hexdigest()  # not the id


def test_sign_out_deletes_the_session_and_the_cookie_stops_working(client: TestClient) -> None:
    sign_in(client)
    cookie = client.cookies["tollway_console"]
    response = client.post("/console/logout", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?signed_out=1"
    assert _sessions(client) == []
    assert "You are signed out." in client.get(response.headers["location"]).text
    client.cookies.set("tollway_console", cookie, path="/console")
    assert client.get("/console/").status_code == 303


def test_a_wrong_token_is_refused_with_a_message_next_to_the_field(client: TestClient) -> None:
    response = sign_in(client, token="twadmin-wrong")
    assert response.status_code == 422
    assert 'id="token-error"' in response.text
    assert "not a valid admin token" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "twadmin-wrong" not in response.text
    assert "tollway_console=" not in response.headers.get("set-cookie", "").replace(
        "tollway_console_sign_in=", ""
    )
    assert _sessions(client) == []


def test_failed_attempts_are_rate_limited_per_address(settings: Settings) -> None:
    with console_client(settings) as client:
        for _ in range(settings.console.sign_in_attempts_per_minute):
            assert sign_in(client, token="twadmin-guess").status_code == 422
        refused = sign_in(client)  # even the right token, until the minute has passed
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in refused.text
        assert _sessions(client) == []


def test_an_expired_session_signs_out(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    with services.database.session() as session:
        for row in session.exec(select(ConsoleSession)).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
    response = signed_in.get("/console/providers")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fproviders"
    assert _sessions(signed_in) == []


def test_an_unknown_session_cookie_is_not_signed_in(client: TestClient) -> None:
    client.cookies.set("tollway_console", "forged", path="/console")
    assert client.get("/console/").status_code == 303


@pytest.mark.parametrize("path", NAV_PATHS)
def test_every_page_redirects_to_sign_in_then_back(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/login?next={quote(path, safe='')}"
    back = sign_in(client, next_path=path)
    assert back.headers["location"] == path


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/console/",
        "//evil.example/console/",
        "/\\evil.example",
        "/admin/v1/providers",
        "/console/../admin/v1/providers",
        "/console/%2E%2e/admin/v1/providers",
        "/console/providers/..",
        "javascript:alert(1)",
        "/consolex",
        "/console/\r\nx",
    ],
)
def test_next_must_be_a_console_path(client: TestClient, next_path: str) -> None:
    form = client.get("/console/login", params={"next": next_path})
    assert f'value="{next_path}"' not in form.text
    response = sign_in(client, next_path=next_path)
    assert response.headers["location"] == "/console/"


def test_the_sign_in_form_of_a_signed_in_operator_goes_on(signed_in: TestClient) -> None:
    response = signed_in.get("/console/login", params={"next": "/console/usage"})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/usage"


def test_a_deleted_row_is_gone_for_every_replica(signed_in: TestClient) -> None:
    services = services_of(signed_in)
    [row] = _sessions(signed_in)
    with services.database.session() as session:
        console_sessions.delete_one(session, row.id_digest)
    assert signed_in.get("/console/").status_code == 303


def test_signing_in_again_replaces_the_session(signed_in: TestClient) -> None:
    first = signed_in.cookies["tollway_console"]
    signed_in.cookies.delete("tollway_console")
    form = signed_in.get("/console/login")  # from another tab, say
    signed_in.cookies.set("tollway_console", first, path="/console")
    data = {"token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text)}
    answer = signed_in.post("/console/login", data=data)
    assert answer.status_code == 303
    assert f"tollway_console={first}" not in answer.headers["set-cookie"]
    [row] = _sessions(signed_in)
    assert row.id_digest != hashlib.sha256(first.encode()).hexdigest()
