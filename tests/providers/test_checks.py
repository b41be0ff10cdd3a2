"""check_keys: many keys at once, in order, behind the base-URL guard."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, Family
from tests.fakes.resolver import StaticResolver
from tollway.errors import ValidationError
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.checks import check_keys, vet_base_url
from tollway.providers.families import adapter_for
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

OPENAI = adapter_for(ProviderType.OPENAI)


@pytest.fixture
def server(fake_servers: dict[Family, FakeProviderServer]) -> FakeProviderServer:
    return fake_servers["openai"]


def _script(
    server: FakeProviderServer, make: Callable[[str], str], behaviours: list[Behaviour]
) -> list[tuple[int, SecretValue]]:
    keys = []
    for index, behaviour in enumerate(behaviours):
        key = make(f"{behaviour.kind}{index}")
        server.set_key(key, behaviour)
        keys.append((index, SecretValue(key)))
    return keys


def test_results_follow_input_order(
    server: FakeProviderServer, unique_key: Callable[[str], str]
) -> None:
    behaviours = [
        Behaviour.ok(),
        Behaviour.rejected(),
        Behaviour.slow(0.15),
        Behaviour.forbidden(),
        Behaviour.rate_limited("1"),
        Behaviour.server_error(),
        Behaviour.ok(),
    ]
    keys = _script(server, unique_key, behaviours)
    results = check_keys(
        OPENAI, server.base_url, keys, timeout=2.0, concurrency=4, allow_private=True
    )
    assert [ident for ident, _ in results] == list(range(len(behaviours)))
    assert [check.outcome for _, check in results] == [
        KeyCheckOutcome.VALID,
        KeyCheckOutcome.REJECTED,
        KeyCheckOutcome.VALID,
        KeyCheckOutcome.FORBIDDEN,
        KeyCheckOutcome.RATE_LIMITED,
        KeyCheckOutcome.PROVIDER_ERROR,
        KeyCheckOutcome.VALID,
    ]
    for _, key in keys:
        assert len(server.requests_with_key(key.reveal())) == 1


def test_keys_are_checked_concurrently(
    server: FakeProviderServer, unique_key: Callable[[str], str]
) -> None:
    keys = _script(server, unique_key, [Behaviour.slow(0.4)] * 4)
    started = time.perf_counter()
    results = check_keys(
        OPENAI, server.base_url, keys, timeout=2.0, concurrency=4, allow_private=True
    )
    elapsed = time.perf_counter() - started
    assert all(check.outcome is KeyCheckOutcome.VALID for _, check in results)
    assert elapsed < 1.2  # one after another would take 1.6 s


def test_a_hanging_key_does_not_hold_up_the_others(
    server: FakeProviderServer, unique_key: Callable[[str], str]
) -> None:
    behaviours = [Behaviour.ok(), Behaviour.hang(), Behaviour.ok(), Behaviour.rejected()]
    keys = _script(server, unique_key, behaviours)
    started = time.perf_counter()
    results = check_keys(
        OPENAI, server.base_url, keys, timeout=0.3, concurrency=4, allow_private=True
    )
    elapsed = time.perf_counter() - started
    outcomes = [check.outcome for _, check in results]
    assert outcomes == [
        KeyCheckOutcome.VALID,
        KeyCheckOutcome.TIMEOUT,
        KeyCheckOutcome.VALID,
        KeyCheckOutcome.REJECTED,
    ]
    assert elapsed < 1.0


def test_concurrency_is_bounded(
    server: FakeProviderServer, unique_key: Callable[[str], str]
) -> None:
    keys = _script(server, unique_key, [Behaviour.slow(0.1)] * 6)
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    adapter = OPENAI

    class Counting:
        provider_type = adapter.provider_type
        default_base_url = adapter.default_base_url

        def check_key(self, client: httpx.Client, base_url: str | None, key: SecretValue) -> Any:
            nonlocal in_flight, peak
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            try:
                return adapter.check_key(client, base_url, key)
            finally:
                with lock:
                    in_flight -= 1

    results = check_keys(
        Counting(), server.base_url, keys, timeout=2.0, concurrency=2, allow_private=True
    )
    assert len(results) == 6
    assert peak == 2


def test_no_keys_no_work() -> None:
    assert check_keys(OPENAI, None, [], timeout=1.0, concurrency=4, allow_private=False) == []


def test_loopback_refused_unless_allowed(
    server: FakeProviderServer, unique_key: Callable[[str], str]
) -> None:
    keys = _script(server, unique_key, [Behaviour.ok(), Behaviour.ok()])
    results = check_keys(
        OPENAI, server.base_url, keys, timeout=1.0, concurrency=2, allow_private=False
    )
    assert [check.outcome for _, check in results] == [KeyCheckOutcome.BLOCKED_ADDRESS] * 2
    assert "loopback" in results[0][1].message
    for _, key in keys:
        assert server.requests_with_key(key.reveal()) == []


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/v1",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://[fd00:ec2::254]/v1",
        "http://0.0.0.0:8000/v1",
    ],
)
def test_metadata_and_unspecified_are_always_blocked(base_url: str) -> None:
    with httpx.Client(transport=httpx.MockTransport(_no_network)) as http:
        results = check_keys(
            OPENAI,
            base_url,
            [("a", SecretValue("sk-1"))],
            timeout=1.0,
            concurrency=1,
            allow_private=True,
            client=http,
        )
    assert results[0][1].outcome is KeyCheckOutcome.BLOCKED_ADDRESS


def test_name_resolving_to_metadata_is_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with httpx.Client(transport=httpx.MockTransport(_no_network)) as http:
        results = check_keys(
            OPENAI,
            "https://innocent.example.com/v1",
            [("a", SecretValue("sk-1"))],
            timeout=1.0,
            concurrency=1,
            allow_private=True,
            client=http,
        )
    check = results[0][1]
    assert check.outcome is KeyCheckOutcome.BLOCKED_ADDRESS
    assert "169.254.169.254" in check.message


def test_unresolvable_host_is_a_dns_error() -> None:
    with httpx.Client(transport=httpx.MockTransport(_no_network)) as http:
        results = check_keys(
            OPENAI,
            "https://api.nothing-here.invalid/v1",
            [("a", SecretValue("sk-1")), ("b", SecretValue("sk-2"))],
            timeout=1.0,
            concurrency=2,
            allow_private=False,
            client=http,
        )
    assert [check.outcome for _, check in results] == [KeyCheckOutcome.DNS_ERROR] * 2
    assert "api.nothing-here.invalid" in results[0][1].message


def test_callers_client_is_used_and_left_open() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"data": []})

    # 127.0.0.1 keeps the address check off the network.
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        results = check_keys(
            OPENAI,
            "http://127.0.0.1:9/v1//",
            [("a", SecretValue("sk-1"))],
            timeout=1.0,
            concurrency=1,
            allow_private=True,
            client=http,
        )
        assert not http.is_closed
    assert results[0][1].outcome is KeyCheckOutcome.VALID
    assert seen == ["http://127.0.0.1:9/v1/models"]


def test_mock_provider_needs_no_base_url() -> None:
    results = check_keys(
        adapter_for(ProviderType.MOCK),
        None,
        [("a", SecretValue("x"))],
        timeout=1.0,
        concurrency=1,
        allow_private=False,
    )
    assert results[0][1].outcome is KeyCheckOutcome.VALID


def test_openai_compatible_without_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError):
        check_keys(
            adapter_for(ProviderType.OPENAI_COMPATIBLE),
            None,
            [("a", SecretValue("x"))],
            timeout=1.0,
            concurrency=1,
            allow_private=True,
        )


def test_vet_base_url_normalizes() -> None:
    assert vet_base_url("HTTP://127.0.0.1:8000/v1/", allow_private=True) == (
        "http://127.0.0.1:8000/v1"
    )


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


# -- connect-time checks and redirects (the default client) -----------------------------


def _origin_port(server: FakeProviderServer) -> int:
    return int(server.origin.rsplit(":", 1)[1])


def test_a_name_rebinding_to_loopback_after_the_check_is_refused_at_connect(
    server: FakeProviderServer, unique_key: Callable[[str], str]
) -> None:
    """The batch's DNS check sees a public address; the connection would go to loopback."""
    keys = _script(server, unique_key, [Behaviour.ok()])
    resolver = StaticResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    base = f"http://rebind.test:{_origin_port(server)}/v1"
    results = check_keys(
        OPENAI, base, keys, timeout=1.0, concurrency=1, allow_private=False, resolver=resolver
    )
    check = results[0][1]
    assert check.outcome is KeyCheckOutcome.BLOCKED_ADDRESS
    assert "127.0.0.1" in check.message
    assert resolver.lookups == ["rebind.test", "rebind.test"]
    assert server.requests_with_key(keys[0][1].reveal()) == []


@pytest.mark.parametrize(
    ("answer", "allow_private", "reason"),
    [
        (["169.254.169.254"], True, "metadata"),
        (["10.9.8.7"], False, "private"),
        (["127.0.0.1"], False, "loopback"),
    ],
)
def test_names_resolving_to_refused_addresses_are_blocked(
    answer: list[str], allow_private: bool, reason: str
) -> None:
    resolver = StaticResolver({"provider.test": answer})
    results = check_keys(
        OPENAI,
        "http://provider.test:8000/v1",
        [("a", SecretValue("sk-1"))],
        timeout=1.0,
        concurrency=1,
        allow_private=allow_private,
        resolver=resolver,
    )
    assert results[0][1].outcome is KeyCheckOutcome.BLOCKED_ADDRESS
    assert reason in results[0][1].message


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirecting_provider_is_reported_and_its_target_never_called(
    fake_servers: dict[Family, FakeProviderServer],
    unique_key: Callable[[str], str],
    status: int,
) -> None:
    upstream, target = fake_servers["openai"], fake_servers["openrouter"]
    before = len(target.requests)
    [(ident, key)] = _script(
        upstream, unique_key, [Behaviour.redirect(target.origin + "/api/v1/key", status)]
    )
    results = check_keys(
        OPENAI, upstream.base_url, [(ident, key)], timeout=1.0, concurrency=1, allow_private=True
    )
    check = results[0][1]
    assert check.outcome is KeyCheckOutcome.UNEXPECTED_STATUS
    assert check.status_code == status
    assert "redirected" in check.message
    assert len(upstream.requests_with_key(key.reveal())) == 1
    assert len(target.requests) == before
