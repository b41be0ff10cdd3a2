"""Fixtures for the console's tests.

In-process (TestClient over a real app on SQLite): ``client`` (anonymous),
``signed_in``, and helpers ``sign_in``, ``csrf_of``, ``page_csrf``, ``services_of``.
In a browser (see ``tests/console/browser.py``): ``console_server``, ``page``
(signed in), ``no_script_page`` (signed in, JavaScript off), ``anonymous_page``,
``shots``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from pydantic import SecretStr

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.console.browser import (
    DESKTOP,
    STEP_TIMEOUT_MS,
    ConsoleServer,
    PageProblems,
    Screenshots,
    chromium_executable,
    launch,
)
from tests.console.browser import sign_in as browser_sign_in
from tests.live import running_server
from tollway.app import create_app, runtime_of
from tollway.domain.services import Services
from tollway.settings import Settings

# Every page in the navigation, by its path under /console.
NAV_PATHS = [
    "/console/",
    "/console/providers",
    "/console/models",
    "/console/teams",
    "/console/limits",
    "/console/prices",
    "/console/usage",
    "/console/audit",
]
# Every page a signed-in operator can open, the navigation's and the others.
PAGE_PATHS = [*NAV_PATHS, "/console/providers/new"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Settings:
    return make_settings(tmp_path / "data", migrated_sqlite(tmp_path / "tollway.db"))


def console_client(settings: Settings, **kwargs: Any) -> TestClient:
    return TestClient(
        create_app(settings), raise_server_exceptions=False, follow_redirects=False, **kwargs
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with console_client(settings) as test_client:
        yield test_client


@pytest.fixture
def signed_in(client: TestClient) -> TestClient:
    response = sign_in(client)
    assert response.status_code == 303, response.text
    return client


def services_of(client: TestClient) -> Services:
    return runtime_of(client.app).services  # type: ignore[arg-type]


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token field on the page"
    return match[1]


def sign_in(
    client: TestClient, token: str = ADMIN_TOKEN, next_path: str = "", prefix: str = ""
) -> httpx.Response:
    """Open the sign-in form, then post ``token`` with the form's CSRF token."""
    form = client.get(f"{prefix}/console/login")
    assert form.status_code == 200, form.text
    data = {"token": token, "csrf_token": csrf_of(form.text), "next": next_path}
    return client.post(f"{prefix}/console/login", data=data)


def page_csrf(client: TestClient, path: str = "/console/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


# -- in a browser ----------------------------------------------------------------------


# Per module, not per session: while Playwright's sync API is open it keeps an asyncio
# loop running in this thread, and the async tests a worker runs after a browser module
# then fail ("cannot be called from a running event loop").
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    chromium_executable()  # skip (or fail under CI) before starting Playwright's driver
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = launch(playwright_driver.chromium)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    configured = os.environ.get("TOLLWAY_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return Screenshots(folder)


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """A real tollway on SQLite for one test module; tests in it share its data."""
    data_dir = tmp_path_factory.mktemp("console-data")
    settings = Settings(data_dir=data_dir, admin_token=SecretStr(ADMIN_TOKEN))
    with running_server(settings) as base_url:
        yield ConsoleServer(base_url=base_url, admin_token=ADMIN_TOKEN, data_dir=data_dir)


@pytest.fixture
def anonymous_page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context, not signed in; fails the test on any page error."""
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    context.set_default_timeout(STEP_TIMEOUT_MS)
    # The layout names an empty icon; should chromium still ask for /favicon.ico, its
    # 404 would be a console error that is no page's doing.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    yield page
    context.close()
    assert not problems.messages, "\n".join(problems.messages)


@pytest.fixture
def page(anonymous_page: Page, console_server: ConsoleServer) -> Page:
    """A fresh browser context signed in to ``console_server``."""
    browser_sign_in(anonymous_page, console_server)
    return anonymous_page


@pytest.fixture
def no_script_page(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    """A fresh browser context with JavaScript off, signed in to ``console_server``:
    for flows that must work without ``console.js`` (confirmations, forms)."""
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)  # type: ignore[arg-type]
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    browser_sign_in(page, console_server)
    yield page
    context.close()
