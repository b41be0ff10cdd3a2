"""Fixtures for the console's browser tests (see ``tests/console/browser.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from pydantic import SecretStr

from tests.console.browser import (
    ADMIN_TOKEN,
    DESKTOP,
    STEP_TIMEOUT_MS,
    ConsoleServer,
    PageProblems,
    Screenshots,
    chromium_executable,
    launch,
    sign_in,
)
from tests.live import running_server
from tollway.settings import Settings


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    chromium_executable()  # skip (or fail under CI) before starting Playwright's driver
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
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
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    yield page
    context.close()
    assert not problems.messages, "\n".join(problems.messages)


@pytest.fixture
def page(anonymous_page: Page, console_server: ConsoleServer) -> Page:
    """A fresh browser context signed in to ``console_server``."""
    sign_in(anonymous_page, console_server)
    return anonymous_page
