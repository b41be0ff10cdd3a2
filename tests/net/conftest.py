"""A fake provider and a redirect target on 127.0.0.1 for the outbound guard's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, stop_all

KEY = "sk-net-test-0123456789"
REDIRECTING_KEY = "sk-net-redirect-0123456789"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeProviderServer, FakeProviderServer]]:
    """(upstream, redirect target): the upstream redirects ``REDIRECTING_KEY`` to the target."""
    target = FakeProviderServer("openai", keys={KEY: Behaviour.ok()})
    upstream = FakeProviderServer("openai", keys={KEY: Behaviour.ok()})
    try:
        target.start()
        upstream.start()
        upstream.set_key(REDIRECTING_KEY, Behaviour.redirect(target.base_url + "/models", 307))
        yield upstream, target
    finally:
        stop_all([upstream, target])


@pytest.fixture
def upstream(servers: tuple[FakeProviderServer, FakeProviderServer]) -> FakeProviderServer:
    servers[0].clear_requests()
    return servers[0]


@pytest.fixture
def target(servers: tuple[FakeProviderServer, FakeProviderServer]) -> FakeProviderServer:
    servers[1].clear_requests()
    return servers[1]
