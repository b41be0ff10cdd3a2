"""Every adapter against a real HTTP fake of its provider, with a real httpx.Client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer, Family, family_for
from tests.fakes.providers.wire import credential_encodings
from tollway.errors import ValidationError
from tollway.providers.base import KeyCheck, KeyCheckOutcome, ProviderAdapter
from tollway.providers.families import (
    FAMILIES,
    adapter_for,
    default_base_url,
    effective_base_url,
)
from tollway.providers.http_check import MAX_DETAIL_CHARS, sanitize_detail
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

HTTP_TYPES = [t for t, family in FAMILIES.items() if not family.answers_locally]

# Written out independently of the registry on purpose: this is the contract.
EXPECTED_DEFAULT_URLS = {
    ProviderType.OPENAI: "https://api.openai.com/v1/models",
    ProviderType.GROQ: "https://api.groq.com/openai/v1/models",
    ProviderType.TOGETHER_AI: "https://api.together.xyz/v1/models",
    ProviderType.MISTRAL: "https://api.mistral.ai/v1/models",
    ProviderType.OPENROUTER: "https://openrouter.ai/api/v1/key",
    ProviderType.ANTHROPIC: "https://api.anthropic.com/v1/models",
    ProviderType.GEMINI: "https://generativelanguage.googleapis.com/v1beta/models",
    ProviderType.COHERE: "https://api.cohere.com/v1/models",
}

Scripted = Callable[[Behaviour], tuple[KeyCheck, str]]


@pytest.fixture(params=HTTP_TYPES, ids=str)
def provider_type(request: pytest.FixtureRequest) -> ProviderType:
    result: ProviderType = request.param
    return result


@pytest.fixture
def server(
    provider_type: ProviderType, fake_servers: dict[Family, FakeProviderServer]
) -> FakeProviderServer:
    return fake_servers[family_for(provider_type)]


@pytest.fixture
def scripted(
    provider_type: ProviderType,
    server: FakeProviderServer,
    client: httpx.Client,
    unique_key: Callable[[str], str],
) -> Scripted:
    """Check a fresh key the server treats as ``behaviour``; returns the check and the key."""

    def run(behaviour: Behaviour) -> tuple[KeyCheck, str]:
        key = unique_key(behaviour.kind)
        server.set_key(key, behaviour)
        check = adapter_for(provider_type).check_key(client, server.base_url, SecretValue(key))
        assert key not in check.message
        return check, key

    return run


def test_valid_key(scripted: Scripted, server: FakeProviderServer) -> None:
    check, key = scripted(Behaviour.ok())
    assert check.outcome is KeyCheckOutcome.VALID
    assert check.status_code == 200
    assert check.latency_ms is not None
    assert check.latency_ms > 0
    assert len(server.requests_with_key(key)) == 1


def test_rejected_key(scripted: Scripted, provider_type: ProviderType) -> None:
    check, _ = scripted(Behaviour.rejected())
    assert check.outcome is KeyCheckOutcome.REJECTED
    assert check.outcome.key_is_bad
    assert check.status_code == (400 if provider_type is ProviderType.GEMINI else 401)
    assert "rejected the key" in check.message


def test_plain_401_is_rejected(scripted: Scripted) -> None:
    check, _ = scripted(Behaviour.error(401))
    assert check.outcome is KeyCheckOutcome.REJECTED
    assert "(401)" in check.message


def test_unknown_key_is_rejected(
    provider_type: ProviderType, server: FakeProviderServer, client: httpx.Client
) -> None:
    check = adapter_for(provider_type).check_key(
        client, server.base_url, SecretValue("sk-never-configured-0000")
    )
    assert check.outcome is KeyCheckOutcome.REJECTED


def test_forbidden(scripted: Scripted) -> None:
    check, _ = scripted(Behaviour.forbidden())
    assert check.outcome is KeyCheckOutcome.FORBIDDEN
    assert check.status_code == 403
    assert "permissions" in check.message


def test_rate_limited_mentions_retry_after(scripted: Scripted) -> None:
    check, _ = scripted(Behaviour.rate_limited(retry_after="7"))
    assert check.outcome is KeyCheckOutcome.RATE_LIMITED
    assert not check.outcome.key_is_bad
    assert "retry after 7 s" in check.message


def test_rate_limited_without_retry_after(scripted: Scripted) -> None:
    check, _ = scripted(Behaviour.rate_limited())
    assert check.outcome is KeyCheckOutcome.RATE_LIMITED
    assert "try again later" in check.message


@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors(scripted: Scripted, status: int) -> None:
    check, _ = scripted(Behaviour.server_error(status))
    assert check.outcome is KeyCheckOutcome.PROVIDER_ERROR
    assert check.status_code == status


def test_other_status_is_unexpected(scripted: Scripted) -> None:
    check, _ = scripted(Behaviour.error(404))
    assert check.outcome is KeyCheckOutcome.UNEXPECTED_STATUS
    assert "check the base URL" in check.message


def test_slow_answer_within_timeout_is_valid(scripted: Scripted) -> None:
    check, _ = scripted(Behaviour.slow(0.12))
    assert check.outcome is KeyCheckOutcome.VALID
    assert check.latency_ms is not None
    assert check.latency_ms >= 100


def test_hang_is_timeout(
    provider_type: ProviderType,
    server: FakeProviderServer,
    short_client: httpx.Client,
    unique_key: Callable[[str], str],
) -> None:
    key = unique_key("hang")
    server.set_key(key, Behaviour.hang())
    check = adapter_for(provider_type).check_key(short_client, server.base_url, SecretValue(key))
    assert check.outcome is KeyCheckOutcome.TIMEOUT
    assert check.latency_ms is not None
    assert 250 <= check.latency_ms < 2000
    assert "0.3 s" in check.message


def test_dns_error(provider_type: ProviderType, client: httpx.Client) -> None:
    check = adapter_for(provider_type).check_key(
        client, "http://no-such-provider.invalid/v1", SecretValue("sk-whatever-123")
    )
    assert check.outcome is KeyCheckOutcome.DNS_ERROR
    assert check.message == "could not resolve host no-such-provider.invalid: check the base URL"


def test_connection_refused(provider_type: ProviderType, client: httpx.Client) -> None:
    port = free_port()
    check = adapter_for(provider_type).check_key(
        client, f"http://127.0.0.1:{port}", SecretValue("sk-whatever-123")
    )
    assert check.outcome is KeyCheckOutcome.CONNECTION_ERROR
    assert f"127.0.0.1:{port} refused" in check.message


def test_sends_the_family_auth_header(scripted: Scripted, server: FakeProviderServer) -> None:
    check, key = scripted(Behaviour.ok())
    assert check.outcome is KeyCheckOutcome.VALID
    (request,) = server.requests_with_key(key)
    assert request.method == "GET"
    assert key not in request.query  # never in the URL: URLs end up in logs
    family = server.family
    if family in ("openai", "openrouter", "cohere"):
        assert request.header("authorization") == f"Bearer {key}"
    else:
        assert request.header("authorization") is None
    if family == "anthropic":
        assert request.header("x-api-key") == key
        assert request.header("anthropic-version") == "2023-06-01"
    if family == "gemini":
        assert request.header("x-goog-api-key") == key


def test_paths_per_family(scripted: Scripted, server: FakeProviderServer) -> None:
    _, key = scripted(Behaviour.ok())
    (request,) = server.requests_with_key(key)
    expected = {
        "openai": "/v1/models",
        "openrouter": "/v1/key",
        "anthropic": "/v1/models",
        "gemini": "/v1beta/models",
        "cohere": "/v1/models",
    }
    assert request.path == expected[server.family]


def test_trailing_slash_in_base_url(
    provider_type: ProviderType,
    server: FakeProviderServer,
    client: httpx.Client,
    unique_key: Callable[[str], str],
) -> None:
    key = unique_key("slash")
    server.set_key(key, Behaviour.ok())
    check = adapter_for(provider_type).check_key(client, server.base_url + "/", SecretValue(key))
    assert check.outcome is KeyCheckOutcome.VALID
    (request,) = server.requests_with_key(key)
    assert "//" not in request.path


@pytest.mark.parametrize("provider_type", list(EXPECTED_DEFAULT_URLS), ids=str)
def test_default_base_url_used_when_none(provider_type: ProviderType) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        check = adapter_for(provider_type).check_key(http, None, SecretValue("sk-default-1"))
    assert check.outcome is KeyCheckOutcome.VALID
    assert [str(r.url) for r in seen] == [EXPECTED_DEFAULT_URLS[provider_type]]


def test_registry_defaults_match_adapters() -> None:
    for provider_type in ProviderType:
        adapter: ProviderAdapter = adapter_for(provider_type)
        assert adapter.provider_type is provider_type
        assert adapter.default_base_url == default_base_url(provider_type)
    assert default_base_url(ProviderType.OPENAI_COMPATIBLE) is None
    assert default_base_url(ProviderType.MOCK) is None


def test_effective_base_url() -> None:
    assert effective_base_url(ProviderType.OPENAI, None) == "https://api.openai.com/v1"
    assert effective_base_url(ProviderType.OPENAI, "") == "https://api.openai.com/v1"
    assert effective_base_url(ProviderType.OPENAI, "http://x:8000/v1/") == "http://x:8000/v1"
    assert effective_base_url(ProviderType.OPENAI_COMPATIBLE, None) is None
    assert effective_base_url(ProviderType.MOCK, None) is None


def test_openai_compatible_needs_a_base_url() -> None:
    with (
        httpx.Client(transport=httpx.MockTransport(_no_network)) as http,
        pytest.raises(ValidationError, match="need a base_url"),
    ):
        adapter_for(ProviderType.OPENAI_COMPATIBLE).check_key(http, None, SecretValue("k"))


def test_mock_needs_no_network() -> None:
    with httpx.Client(transport=httpx.MockTransport(_no_network)) as http:
        check = adapter_for(ProviderType.MOCK).check_key(http, None, SecretValue("anything"))
    assert check.outcome is KeyCheckOutcome.VALID


def test_redirects_are_not_followed() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/"})

    with httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True) as http:
        check = adapter_for(ProviderType.OPENAI).check_key(http, None, SecretValue("sk-r-1"))
    assert check.outcome is KeyCheckOutcome.UNEXPECTED_STATUS
    assert "redirected" in check.message
    assert len(calls) == 1


@pytest.mark.parametrize("key", ["", "sk-line\nbreak", "sk-trailing-space ", "sk-ünïcode"])
def test_unsendable_key_is_rejected_without_a_request(key: str) -> None:
    with httpx.Client(transport=httpx.MockTransport(_no_network)) as http:
        check = adapter_for(ProviderType.OPENAI).check_key(http, None, SecretValue(key))
    assert check.outcome is KeyCheckOutcome.REJECTED
    assert check.status_code is None
    if key:
        assert key not in check.message


def test_html_error_pages_are_not_quoted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, html="<html><body>nginx bad gateway</body></html>")

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        check = adapter_for(ProviderType.MISTRAL).check_key(http, None, SecretValue("sk-h-1"))
    assert check.outcome is KeyCheckOutcome.PROVIDER_ERROR
    assert "nginx" not in check.message
    assert "<" not in check.message


def test_gemini_400_without_bad_key_reason_is_unexpected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": 400, "message": "bad request", "status": "INVALID_ARGUMENT"}}
        return httpx.Response(400, json=body)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        check = adapter_for(ProviderType.GEMINI).check_key(http, None, SecretValue("AIza-x-1"))
    assert check.outcome is KeyCheckOutcome.UNEXPECTED_STATUS


# -- the canary: a key must never surface in a message ------------------------------


CANARY = "sk-canary-Zq7TTq3kV0xB9mW2pL5nR8sD1fG4hJ6k"


def _echoing_handler(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """A hostile or careless provider that quotes the key everywhere it can."""

    def handler(request: httpx.Request) -> httpx.Response:
        text = f"key {CANARY} is bad; again:{CANARY}; masked {CANARY[:6]}****{CANARY[-4:]}"
        body = {"error": {"message": text, "type": CANARY, "code": CANARY}}
        return httpx.Response(
            status, content=json.dumps(body), headers={"retry-after": f"{CANARY}"}
        )

    return handler


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
@pytest.mark.parametrize("provider_type", HTTP_TYPES, ids=str)
def test_canary_key_never_in_message(provider_type: ProviderType, status: int) -> None:
    with httpx.Client(transport=httpx.MockTransport(_echoing_handler(status))) as http:
        check = adapter_for(provider_type).check_key(
            http, "https://provider.example/v1", SecretValue(CANARY)
        )
    assert CANARY not in check.message
    assert CANARY[8:20] not in check.message
    assert "[redacted]" in check.message


def test_canary_through_every_live_outcome(
    provider_type: ProviderType, server: FakeProviderServer, client: httpx.Client
) -> None:
    behaviours = [
        Behaviour.ok(),
        Behaviour.rejected(),
        Behaviour.forbidden(),
        Behaviour.rate_limited("3"),
        Behaviour.server_error(),
        Behaviour.error(418, message=f"teapot for {CANARY}"),
    ]
    adapter = adapter_for(provider_type)
    for behaviour in behaviours:
        server.set_key(CANARY, behaviour)
        check = adapter.check_key(client, server.base_url, SecretValue(CANARY))
        assert CANARY not in check.message, behaviour
    server.set_key(CANARY, Behaviour.rejected())


@pytest.mark.parametrize("provider_type", [ProviderType.OPENAI, ProviderType.GROQ], ids=str)
def test_openai_masked_key_is_redacted(
    fake_servers: dict[Family, FakeProviderServer],
    provider_type: ProviderType,
    client: httpx.Client,
) -> None:
    # OpenAI's 401 quotes the key masked, "sk-pro*********6789": still too much to keep.
    check = adapter_for(provider_type).check_key(
        client, fake_servers["openai"].base_url, SecretValue("sk-proj-abcdef0123456789")
    )
    assert check.outcome is KeyCheckOutcome.REJECTED
    assert "Incorrect API key provided: [redacted]" in check.message
    assert "6789" not in check.message


def test_sanitize_detail_caps_length_and_strips_control_characters() -> None:
    text = "line one\nline\ttwo\x00 " + "word " * 200
    cleaned = sanitize_detail(text, SecretValue("k"))
    assert cleaned is not None
    assert len(cleaned) <= MAX_DETAIL_CHARS
    assert "\n" not in cleaned
    assert "\x00" not in cleaned
    assert cleaned.startswith("line one line two")


def test_pieces_of_the_key_are_redacted() -> None:
    key = SecretValue("QwErTy12uIoP34aSdF")  # no known prefix, too short for the generic rule
    text = "key QwErTy12uIoP… (ends in ...IoP34aSdF) is unknown; see QwErTy12"
    cleaned = sanitize_detail(text, key)
    assert cleaned is not None
    assert "QwErTy12" not in cleaned
    assert "P34aSdF" not in cleaned
    assert cleaned.startswith("key [redacted]")


def test_sanitize_is_fast_on_hostile_input() -> None:
    started = time.perf_counter()
    sanitize_detail("a-" * 8000 + "1", SecretValue("sk-some-key-12345678"))
    sanitize_detail("x" * 16000, SecretValue("y" * 40))
    assert time.perf_counter() - started < 0.5


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


def test_every_encoded_form_of_the_key_is_redacted() -> None:
    key = 'sk-check/key+0123456789=abc"def'
    echoed = " ".join(["you sent:", key, *credential_encodings(key)])
    cleaned = sanitize_detail(echoed, SecretValue(key), limit=4000)
    assert cleaned is not None
    assert cleaned.startswith("you sent: [redacted]")
    for form in [key, *credential_encodings(key)]:
        assert form[6:-6] not in cleaned, form


def test_only_the_key_is_redacted() -> None:
    text = "model sk-ant-claude-x-20250101 not found (request req_0123456789abcdefABCDEF0123)"
    assert sanitize_detail(text, SecretValue("sk-unrelated-key-QwErTyUiOpAsDf")) == text
