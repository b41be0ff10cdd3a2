"""CSRF on every unsafe request, the security headers on every answer, the cookies."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import make_settings
from tests.console.conftest import PAGE_PATHS, console_client, page_csrf, sign_in
from tollway.console.security import CONTENT_SECURITY_POLICY
from tollway.settings import Settings

INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _has_security_headers(response: object, *, page: bool = True) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        assert headers.get(name) == value, (name, headers)
    if page:
        assert headers.get("cache-control") == "no-store"


def test_the_policy_is_strict() -> None:
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY  # no 'unsafe-inline'
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[TestClient]:
    """One signed-in client over one app for the page checks, which only read: an
    app's build and start costs seconds on the loaded 2-core machine, a page not."""
    folder = tmp_path_factory.mktemp("security-pages")
    shutil.copyfile(sqlite_template, folder / "tollway.db")
    with console_client(
        make_settings(folder / "data", f"sqlite:///{folder / 'tollway.db'}")
    ) as client:
        assert sign_in(client).status_code == 303
        yield client


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_every_page_has_the_security_headers_and_no_inline_code(
    reader: TestClient, path: str
) -> None:
    response = reader.get(path)
    assert response.status_code == 200, response.text
    _has_security_headers(response)
    html = response.text
    assert "style=" not in html
    assert "<script>" not in html
    assert "<style" not in html
    assert not INLINE_HANDLER.search(html)  # no onclick= and friends
    assert '<html lang="en">' in html
    assert '<main id="main"' in html
    assert 'href="#main"' in html


def test_anonymous_answers_errors_and_static_files_have_them_too(client: TestClient) -> None:
    _has_security_headers(client.get("/console/"))  # the redirect
    _has_security_headers(client.get("/console/login"))
    missing = client.get("/console/no-such-page")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    _has_security_headers(missing)
    for asset in ("console.css", "console.js"):
        static = client.get(f"/console/static/{asset}")
        assert static.status_code == 200
        _has_security_headers(static, page=False)
        assert static.headers.get("cache-control") != "no-store"


def test_an_unsafe_request_without_the_csrf_token_is_refused(signed_in: TestClient) -> None:
    for data in ({}, {"csrf_token": "forged"}):
        response = signed_in.post("/console/logout", data=data)
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
        assert "Reload the page" in response.text
        _has_security_headers(response)
    assert signed_in.get("/console/").status_code == 200  # still signed in


def test_the_csrf_token_may_come_in_a_header(signed_in: TestClient) -> None:
    token = page_csrf(signed_in)
    response = signed_in.post("/console/logout", headers={"x-csrf-token": token})
    assert response.status_code == 303


def test_sign_in_needs_the_form_token_of_its_own_cookie(client: TestClient) -> None:
    client.get("/console/login")
    response = client.post("/console/login", data={"token": "x", "csrf_token": "forged"})
    assert response.status_code == 403
    client.cookies.clear()
    response = client.post("/console/login", data={"token": "x", "csrf_token": ""})
    assert response.status_code == 403


def test_the_session_cookie_is_http_only_strict_and_scoped(client: TestClient) -> None:
    cookie = sign_in(client).headers["set-cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/console" in attributes
    assert "max-age=28800" in attributes
    assert "secure" not in attributes  # plain HTTP here


def test_the_session_cookie_is_secure_over_https(settings: Settings) -> None:
    with console_client(settings, base_url="https://testserver") as client:
        response = sign_in(client)
        assert response.status_code == 303
        attributes = {p.strip().lower() for p in response.headers["set-cookie"].split(";")}
        assert "secure" in attributes
        assert client.get("/console/").status_code == 200
