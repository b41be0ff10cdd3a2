"""One fake server per provider family for the whole session.

Tests script behaviour by key value, so they share servers safely: each test
uses keys of its own (``unique_key``) and counts requests by key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.fakes.providers import FakeProviderServer, Family, stop_all

FAMILIES: tuple[Family, ...] = ("openai", "openrouter", "anthropic", "gemini", "cohere")


@pytest.fixture(scope="session")
def fake_servers() -> Iterator[dict[Family, FakeProviderServer]]:
    servers = {family: FakeProviderServer(family) for family in FAMILIES}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        stop_all(servers.values())


@pytest.fixture
def unique_key() -> Callable[[str], str]:
    """Key values no other test uses, shaped like real keys so sanitizing is exercised."""

    def make(label: str = "key") -> str:
        return f"sk-test-{label}-{uuid.uuid4().hex}"

    return make


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    """A shared client: building one costs ~35 ms (TLS context), too much per test."""
    with httpx.Client(timeout=2.0) as http:
        yield http


@pytest.fixture(scope="session")
def short_client() -> Iterator[httpx.Client]:
    """A client whose 0.3 s timeout turns a hanging provider into a quick TIMEOUT."""
    with httpx.Client(timeout=0.3) as http:
        yield http
