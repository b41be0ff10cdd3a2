"""The fake providers against the real litellm SDK (1.109.1) and the openai SDK.

One server per family for the session; each test scripts models of its own
(``unique_model``), so tests share servers without seeing each other's calls.
Every test runs with outbound connections limited to loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests.fakes.provider_server import Behaviour, FakeProviderServer, stop_all
from tests.fakes_conformance.support import BAD_KEY, FAMILIES, GOOD_KEY, Servers


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
async def _one_event_loop(anyio_backend: str) -> AsyncIterator[None]:
    """Hold anyio's runner for the session, so every test shares one event loop.

    anyio closes its loop whenever no test or fixture holds it; litellm caches
    HTTP clients, and clients bound to a closed loop fail in the next test.
    """
    yield  # noqa: PT022 - the open generator is what holds the loop


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


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail, instead of reaching the internet, if anything dials a non-loopback address."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        if not isinstance(address, tuple):
            return  # unix sockets
        try:
            loopback = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            loopback = address[0] == "localhost"
        if not loopback:
            raise AssertionError(f"test tried to reach {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
