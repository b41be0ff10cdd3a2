"""Driving the console in a real browser: Playwright's Python API over Debian's chromium.

Playwright's own browser download cannot work here, so the tests launch the system's
``chromium`` (the Makefile installs Debian's package where it can). Without it the
browser tests skip, and fail under ``CI=true``.

What every browser test gets from ``tests/console/conftest.py``:

- ``console_server``: a real tollway (uvicorn in a thread, SQLite) per test module,
  with a known admin token; ``console_server.url("/console/…")`` builds addresses.
- ``page``: a fresh browser context signed in to that server at 1280x800. It fails the
  test on any JavaScript error or console error (a Content-Security-Policy violation is
  one), so a page that works only with inline script cannot pass.
- ``shots``: ``shots.take(page, "providers")`` saves the page at 1280x800 and 390x844
  under the session's screenshot folder (``TOLLWAY_SCREENSHOT_DIR`` or a temporary one).

Helpers below check what an operator relies on: every control labelled
(``assert_controls_labelled``), a page's request count (``RequestLog``), reaching a
control by keyboard (``tab_to``), no sideways scroll at phone width
(``assert_fits_phone``).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Chromium refuses its sandbox as root (CI runs as root); the pages are our own.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
# Chromium logs every load answered 4xx as a console error. A form sent back with its
# errors (422), a refused change (409) and a throttled sign-in (429) are answered so on
# purpose, and the tests assert what the page then shows; any other failed load (a
# missing stylesheet's 404) stays an error.
ANSWERED_ON_PURPOSE = re.compile(
    r"Failed to load resource: the server responded with a status of (409|422|429)\b"
)
# How long one browser step may wait for the page (ms); generous on two busy cores.
STEP_TIMEOUT_MS = 15_000


def chromium_executable() -> str:
    """The system's chromium, or skip (fail under CI=true) saying how to get it."""
    path = os.environ.get("TOLLWAY_TEST_CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    reason = (
        "Debian's chromium is not installed: `apt-get install chromium` (make test does, as root)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass(frozen=True, slots=True)
class ConsoleServer:
    base_url: str
    admin_token: str
    data_dir: Path

    def url(self, path: str) -> str:
        return self.base_url + path


# Not slotted: Playwright keeps a mapping on the bound methods' instances.
@dataclass
class PageProblems:
    """JavaScript errors and console errors a page raised while a test drove it."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not ANSWERED_ON_PURPOSE.match(message.text):
            self.messages.append(f"console error: {message.text}")


@dataclass
class RequestLog:
    """The requests a page fires (the document, its assets, its fetches)."""

    urls: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        self.urls.append(request.url)

    def clear(self) -> None:
        self.urls.clear()


@dataclass(frozen=True, slots=True)
class Screenshots:
    folder: Path

    def take(self, page: Page, name: str) -> list[Path]:
        """The page as it is now at 1280x800 and at 390x844; the viewport is restored.
        At phone width it must not scroll sideways (``assert_fits_phone``): every page
        and state a browser test photographs is checked for it."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            raise ValueError(f"screenshot name {name!r}: use lowercase letters, digits, - and _")
        original = page.viewport_size or DESKTOP
        paths = []
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            path = self.folder / f"{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(path)
            if size is PHONE:
                assert_fits_phone(page)
        page.set_viewport_size(original)
        return paths


def sign_in(page: Page, server: ConsoleServer, token: str | None = None) -> None:
    """Sign in through the form, as an operator does."""
    page.goto(server.url("/console/login"))
    page.get_by_label(re.compile("admin token", re.IGNORECASE)).fill(token or server.admin_token)
    page.get_by_role("button", name=re.compile("sign in", re.IGNORECASE)).click()
    page.wait_for_load_state()


def launch(playwright_chromium: object) -> Browser:
    """``playwright.chromium.launch`` with the system's chromium."""
    browser: Browser = playwright_chromium.launch(  # type: ignore[attr-defined]
        executable_path=chromium_executable(), args=LAUNCH_ARGS, headless=True
    )
    return browser


def assert_controls_labelled(page: Page) -> None:
    """Every visible form control has an accessible name (a label, aria-label or
    aria-labelledby), so a screen reader can say what it is."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
            .filter(el => {
              if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
              if (el.labels && el.labels.length) return false;
              if (el.tagName === 'BUTTON' || ['submit', 'button'].includes(el.type))
                return !(el.textContent.trim() || el.value || el.title);
              return true;
            })
            .map(el => el.outerHTML.slice(0, 120))"""
    )
    assert not unlabelled, f"controls without an accessible name: {unlabelled}"


def tab_to(page: Page, target: Locator, max_presses: int = 60) -> None:
    """Press Tab until ``target`` has focus (keyboard navigation reaches it), and check
    that the focused control shows a visible focus indicator."""
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            outline = target.evaluate(
                "el => { const s = getComputedStyle(el);"
                " return s.outlineStyle !== 'none' && s.outlineWidth !== '0px'"
                " || s.boxShadow !== 'none'; }"
            )
            assert outline, "the focused control shows no focus indicator"
            return
    raise AssertionError(f"{target} is not reachable with Tab in {max_presses} presses")


# What sticks out past the viewport's right edge outside any scrolled box, or positioned
# (an absolute box escapes a scroller that is not its containing block): the culprits
# named when a page scrolls sideways at phone width.
_WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth)
  .filter(el => {
    if (['absolute', 'fixed'].includes(getComputedStyle(el).position)) return true;
    for (let up = el.parentElement; up; up = up.parentElement)
      if (getComputedStyle(up).overflowX !== 'visible') return false;
    return true;
  })
  .slice(0, 5).map(el => el.outerHTML.slice(0, 120))"""


def assert_fits_phone(page: Page) -> None:
    """At 390x844 the page does not scroll sideways (a table may, inside its wrapper)."""
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        culprits = page.evaluate(_WIDER_THAN_VIEWPORT)
        raise AssertionError(f"{page.url} is {width} px wide at 390 px: {culprits}")
