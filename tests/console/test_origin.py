"""An unsafe console request sent from a page on another origin (its Origin header,
or lacking one its Referer) is a 403 page, whatever its tokens: the sign-in form,
sign-out and every page's forms. Same-origin requests, and requests naming no page,
go on to the CSRF check as before."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.api.conftest import ADMIN_TOKEN
from tests.console.conftest import csrf_of, page_csrf, services_of
from tollway.store.tables import AuditEvent, ConsoleSession

# TestClient's requests go to http://testserver.
SAME = "http://testserver"
REFUSED_TEXT = "This form was sent from another site"


def _post_sign_in(client: TestClient, headers: dict[str, str]) -> httpx.Response:
    client.cookies.clear()  # signed out: the form, not a redirect home
    form = client.get("/console/login")
    data = {"token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text), "next": ""}
    return client.post("/console/login", data=data, headers=headers)


def _count(client: TestClient, table: type[AuditEvent] | type[ConsoleSession]) -> int:
    with services_of(client).database.session() as session:
        return len(session.exec(select(table)).all())


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "http://testserver:8080"},  # another port
        {"origin": "https://testserver"},  # another scheme
        {"origin": "null"},  # a sandboxed page, or one that hides where it is
        {"origin": "not a url"},
        {"origin": "http://[::1"},  # unreadable
        {"referer": "https://evil.example/console/login"},
        {"origin": "https://evil.example", "referer": f"{SAME}/console/login"},  # Origin wins
    ],
)
def test_a_sign_in_from_another_site_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    answer = _post_sign_in(client, headers)
    assert answer.status_code == 403
    text = answer.text
    assert REFUSED_TEXT in text
    assert "<title>Forbidden" in text
    assert ADMIN_TOKEN not in text
    assert _count(client, ConsoleSession) == 0
    assert _count(client, AuditEvent) == 0  # not even a failed sign-in: never looked at


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": SAME},
        {"origin": "HTTP://TestServer:80"},  # the same origin, spelled otherwise
        {"referer": f"{SAME}/console/login?next=%2Fconsole%2F"},
        {},  # neither: the CSRF token still guards it
    ],
)
def test_a_sign_in_from_the_console_itself_goes_on(
    client: TestClient, headers: dict[str, str]
) -> None:
    answer = _post_sign_in(client, headers)
    assert answer.status_code == 303


def test_behind_a_proxy_the_forwarded_host_and_scheme_are_the_console_s_own(
    client: TestClient,
) -> None:
    """A proxy that rewrites Host (nginx's plain proxy_pass) says where the browser
    was in X-Forwarded-Host and -Proto; a proxy that keeps Host needs nothing."""
    forwarded = {"x-forwarded-host": "tollway.example", "x-forwarded-proto": "https"}
    refused = _post_sign_in(client, {"origin": "https://evil.example", **forwarded})
    assert refused.status_code == 403
    accepted = _post_sign_in(client, {"origin": "https://tollway.example", **forwarded})
    assert accepted.status_code == 303
    # TLS ended at the proxy, which uvicorn was not told to trust: the scheme it
    # forwarded still counts, for this comparison only.
    plain = _post_sign_in(client, {"origin": "https://testserver", "x-forwarded-proto": "https"})
    assert plain.status_code == 303


def test_every_unsafe_console_request_is_checked(signed_in: TestClient) -> None:
    token = page_csrf(signed_in, "/console/teams")
    evil = {"origin": "https://evil.example"}
    create = signed_in.post(
        "/console/teams", data={"csrf_token": token, "name": "from-evil"}, headers=evil
    )
    assert create.status_code == 403
    assert REFUSED_TEXT in create.text
    assert services_of(signed_in).teams.list() == []
    out = signed_in.post("/console/logout", data={"csrf_token": token}, headers=evil)
    assert out.status_code == 403
    assert _count(signed_in, ConsoleSession) == 1  # still signed in
    # The same forms from the console itself work.
    ok = signed_in.post("/console/logout", data={"csrf_token": token}, headers={"origin": SAME})
    assert ok.status_code == 303


def test_safe_methods_are_not_checked(signed_in: TestClient) -> None:
    # A link from another site to a console page is fine: GETs change nothing.
    page = signed_in.get("/console/teams", headers={"origin": "https://evil.example"})
    assert page.status_code == 200
