"""The browser harness itself: chromium starts, and its checks catch what they name."""

from __future__ import annotations

import struct

import pytest
from playwright.sync_api import Browser, Page

from tests.console.browser import DESKTOP, PageProblems, Screenshots, assert_controls_labelled

FORM = """<!doctype html><html lang="en"><body><form>
<label for="name">Name</label><input id="name" name="name">
<input name="nameless">
<button type="submit">Save</button></form></body></html>"""


@pytest.fixture
def blank(browser: Browser) -> Page:
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_content(FORM)
    return page


def test_an_unlabelled_control_is_named(blank: Page) -> None:
    with pytest.raises(AssertionError, match="nameless"):
        assert_controls_labelled(blank)
    blank.evaluate("document.querySelector('[name=nameless]').setAttribute('aria-label', 'x')")
    assert_controls_labelled(blank)


def test_script_errors_are_collected(blank: Page) -> None:
    problems = PageProblems()
    problems.watch(blank)
    blank.evaluate("setTimeout(() => { throw new Error('boom') }, 0)")
    blank.wait_for_timeout(200)
    assert any("boom" in message for message in problems.messages)


def test_screenshots_come_in_both_sizes(blank: Page, shots: Screenshots) -> None:
    desktop, phone = shots.take(blank, "harness")
    assert _png_width(desktop) == 1280
    assert _png_width(phone) == 390
    assert blank.viewport_size == DESKTOP


def _png_width(path: object) -> int:
    with open(str(path), "rb") as image:
        header = image.read(24)
    width: int = struct.unpack(">I", header[16:20])[0]
    return width
