"""The fake providers against the real litellm SDK (1.109.1) and the openai SDK.

One server per family for the session; each test scripts models of its own
(``unique_model``), so tests share servers without seeing each other's calls.
Every test runs with outbound connections limited to loopback.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, stop_all
from tests.fakes_conformance.support import BAD_KEY, FAMILIES, GOOD_KEY, Servers
from tollway.engine.litellm_clients import install
from tollway.engine.litellm_env import load_litellm


@pytest.fixture(scope="session", autouse=True)
async def _one_event_loop(anyio_backend: str) -> AsyncIterator[None]:
    """Hold anyio's runner for the session, so every test shares one event loop.

    anyio closes its loop whenever no test or fixture holds it; litellm caches
    HTTP clients, and clients bound to a closed loop fail in the next test.
    """
    yield  # noqa: PT022 - the open generator is what holds the loop


@pytest.fixture(scope="session", autouse=True)
def _tollways_litellm_clients() -> None:
    """LiteLLM's HTTP clients as tollway runs them, before the first direct call.

    In a tollway process the engine wires LiteLLM's clients (no redirects, guarded
    addresses) before LiteLLM makes any call. LiteLLM keeps some handlers from its first
    calls beyond the client cache tollway replaces (seen with Anthropic streams): built
    unwired here, they served a later module's engine in the same worker, and followed
    the redirects tests/engine/test_outbound.py makes it refuse.
    """
    install(load_litellm())


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    keys = {GOOD_KEY: Behaviour.ok(), BAD_KEY: Behaviour.rejected()}
    running = {family: FakeProviderServer(family, keys=keys) for family in FAMILIES}
    try:
        for server in running.values():
            server.start()
        yield running
    finally:
        stop_all(running.values())


@pytest.fixture
def unique_model() -> Callable[[str], str]:
    def make(label: str = "model") -> str:
        return f"{label}-{uuid.uuid4().hex[:12]}"

    return make
