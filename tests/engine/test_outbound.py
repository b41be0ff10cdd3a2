"""No engine follows a redirect or dials a refused address, whatever the provider family.

The redirect target is a fake of its own on 127.0.0.1 that records every request:
it must see none. Names resolve through ``StaticResolver`` (no real DNS), so the
only way a call can succeed with a ``*.test`` host is through tollway's guard.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tests.engine.conftest import API_BASE_SUFFIX, GOOD_KEY, Fakes, chat_body, run, target
from tests.fakes.providers import Behaviour, FakeProviderServer, Family, ModelBehaviour
from tests.fakes.resolver import StaticResolver
from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineError,
    EngineMisconfigured,
    UpstreamError,
)
from tollway.engine.embedded import EmbeddedEngine
from tollway.engine.openrouter import OpenRouterEngine
from tollway.engine.remote import RemoteEngine
from tollway.net.guard import OutboundPolicy
from tollway.secrets.base import SecretValue

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.usefixtures("one_event_loop"),
]

TARGET_BODY = "INTERNAL-ONLY-BODY"
DNS = {
    "provider.test": ["127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "private.test": ["10.20.30.40"],
    "rebind.test": ["93.184.216.34", "169.254.169.254"],
}
# (fake family, LiteLLM prefix, endpoint, stream): every route LiteLLM 1.109.1 takes,
# through the openai SDK (openai/, text-completion, OpenAI-style embeddings) or its own
# HTTP handler (the rest, Cohere chat and Gemini embeddings included: LiteLLM drops a
# per-call client there).
ROUTES = [
    ("openai", "openai/", Endpoint.CHAT, False),
    ("openai", "openai/", Endpoint.CHAT, True),
    ("openai", "openai/", Endpoint.COMPLETIONS, False),
    ("openai", "openai/", Endpoint.EMBEDDINGS, False),
    ("anthropic", "anthropic/", Endpoint.CHAT, False),
    ("anthropic", "anthropic/", Endpoint.CHAT, True),
    ("gemini", "gemini/", Endpoint.CHAT, False),
    ("gemini", "gemini/", Endpoint.EMBEDDINGS, False),
    ("cohere", "cohere_chat/", Endpoint.CHAT, False),
    ("cohere", "cohere_chat/", Endpoint.CHAT, True),
    ("cohere", "cohere/", Endpoint.EMBEDDINGS, False),
    ("openrouter", "openrouter/fake/", Endpoint.CHAT, False),
    ("openai", "groq/", Endpoint.CHAT, False),
    ("openai", "mistral/", Endpoint.CHAT, True),
    ("openai", "mistral/", Endpoint.EMBEDDINGS, False),
    ("openai", "together_ai/", Endpoint.CHAT, False),
]


@pytest.fixture(scope="module")
def redirect_target() -> Iterator[FakeProviderServer]:
    server = FakeProviderServer("openai", keys={GOOD_KEY: Behaviour.ok()})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def permissive() -> EmbeddedEngine:
    return EmbeddedEngine(outbound=OutboundPolicy(allow_private=True, resolver=StaticResolver(DNS)))


@pytest.fixture(scope="module")
def strict() -> EmbeddedEngine:
    return EmbeddedEngine(
        outbound=OutboundPolicy(allow_private=False, resolver=StaticResolver(DNS))
    )


@pytest.fixture
async def openrouter() -> AsyncIterator[OpenRouterEngine]:
    engine = OpenRouterEngine(
        outbound=OutboundPolicy(allow_private=True, resolver=StaticResolver(DNS))
    )
    yield engine
    await engine.aclose()


def _body(endpoint: Endpoint) -> dict[str, object]:
    if endpoint is Endpoint.EMBEDDINGS:
        return {"input": ["one two"]}
    if endpoint is Endpoint.COMPLETIONS:
        return {"prompt": "one two"}
    return chat_body()


def _scripted_name(prefix: str, model: str) -> str:
    # OpenRouter's fake sees the id after LiteLLM's "openrouter/" prefix.
    return f"fake/{model}" if prefix.startswith("openrouter/") else model


def _base(fakes: Fakes, family: Family, host: str | None = None) -> str:
    origin = fakes[family].origin
    if host is not None:
        origin = origin.replace("127.0.0.1", host)
    return origin + API_BASE_SUFFIX[family]


async def _failure(engine: EmbeddedEngine | OpenRouterEngine, call: EngineCall) -> EngineError:
    with pytest.raises(EngineError) as caught:
        await run(engine, call)
    return caught.value


def _assert_redirect_error(error: EngineError) -> None:
    assert isinstance(error, UpstreamError)
    assert (error.status, error.code, error.retryable) == (502, "upstream_redirect", True)
    assert TARGET_BODY not in error.message
    assert "127.0.0.1" not in error.message


@pytest.mark.parametrize(("family", "prefix", "endpoint", "stream"), ROUTES)
@pytest.mark.parametrize("status", [302, 307])
async def test_embedded_engine_never_follows_a_redirect(
    permissive: EmbeddedEngine,
    fakes: Fakes,
    redirect_target: FakeProviderServer,
    unique_model: Callable[[str], str],
    family: Family,
    prefix: str,
    endpoint: Endpoint,
    stream: bool,
    status: int,
) -> None:
    model = unique_model("redirect")
    location = f"{redirect_target.base_url}/chat/completions?leak={TARGET_BODY}"
    fakes[family].script_model(
        _scripted_name(prefix, model), ModelBehaviour.redirect(location, status)
    )
    call = EngineCall(
        endpoint, _body(endpoint), target(prefix + model, _base(fakes, family)), stream=stream
    )
    _assert_redirect_error(await _failure(permissive, call))
    assert len(fakes[family].requests_for_model(_scripted_name(prefix, model))) == 1
    assert redirect_target.requests == []


@pytest.mark.parametrize(("family", "prefix", "endpoint", "stream"), ROUTES)
async def test_embedded_engine_dials_names_through_the_guard(
    permissive: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    family: Family,
    prefix: str,
    endpoint: Endpoint,
    stream: bool,
) -> None:
    """``provider.test`` exists only in the test's resolver: success proves the route
    resolved (and so vetted) through tollway's guard, not through LiteLLM's own client."""
    model = unique_model("named")
    call = EngineCall(
        endpoint,
        _body(endpoint),
        target(prefix + model, _base(fakes, family, "provider.test")),
        stream=stream,
    )
    await run(permissive, call)
    assert fakes[family].requests_for_model(_scripted_name(prefix, model))


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("provider.test", "a loopback address"),
        ("private.test", "a private network address"),
        ("metadata.test", "a cloud metadata address"),
        ("rebind.test", "a cloud metadata address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("127.0.0.1", "a loopback address"),
    ],
)
@pytest.mark.parametrize(("family", "prefix"), [("openai", "openai/"), ("anthropic", "anthropic/")])
async def test_embedded_engine_refuses_private_and_metadata_addresses(
    strict: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    host: str,
    reason: str,
    family: Family,
    prefix: str,
) -> None:
    model = unique_model("refused")
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(prefix + model, _base(fakes, family, host))
    )
    error = await _failure(strict, call)
    assert isinstance(error, UpstreamError)
    assert (error.status, error.code, error.retryable) == (502, "upstream_address_refused", True)
    assert error.message == f"tollway refused to connect to the provider: its address is {reason}"
    assert fakes[family].requests_for_model(model) == []


async def test_metadata_is_refused_even_when_private_addresses_are_allowed(
    permissive: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("meta")
    base = _base(fakes, "anthropic", "metadata.test")
    error = await _failure(
        permissive, EngineCall(Endpoint.CHAT, chat_body(), target(f"anthropic/{model}", base))
    )
    assert isinstance(error, UpstreamError)
    assert error.code == "upstream_address_refused"


@pytest.mark.parametrize("stream", [False, True])
async def test_openrouter_fallback_never_follows_a_redirect(
    openrouter: OpenRouterEngine,
    fakes: Fakes,
    redirect_target: FakeProviderServer,
    unique_model: Callable[[str], str],
    stream: bool,
) -> None:
    model = "vendor/" + unique_model("redirect")
    location = f"{redirect_target.base_url}/chat/completions"
    fakes["openrouter"].script_model(model, ModelBehaviour.redirect(location, 307))
    base = fakes["openrouter"].origin + "/api/v1"
    call = EngineCall(Endpoint.CHAT, chat_body(), target(model, base), stream=stream)
    _assert_redirect_error(await _failure(openrouter, call))
    assert redirect_target.requests == []


async def test_openrouter_fallback_refuses_metadata_names(
    openrouter: OpenRouterEngine, fakes: Fakes
) -> None:
    base = fakes["openrouter"].origin.replace("127.0.0.1", "metadata.test") + "/api/v1"
    call = EngineCall(Endpoint.CHAT, chat_body(), target("vendor/model", base))
    error = await _failure(openrouter, call)
    assert isinstance(error, UpstreamError)
    assert error.code == "upstream_address_refused"
    assert "OpenRouter" in error.message


async def test_remote_engine_does_not_follow_the_proxys_redirect(
    fakes: Fakes, redirect_target: FakeProviderServer, unique_model: Callable[[str], str]
) -> None:
    """The LiteLLM proxy is the operator's own service; a redirect from it is a setup
    error (wrong URL), reported as such and never followed."""
    proxy = fakes["openai"]  # stands in for the proxy: same paths, master key as bearer
    model = "openai/" + unique_model("proxied")
    proxy.script_model(model, ModelBehaviour.redirect(redirect_target.base_url, 302))
    engine = RemoteEngine(proxy.origin, SecretValue(GOOD_KEY))
    try:
        call = EngineCall(Endpoint.CHAT, chat_body(), target(model, "http://upstream.test/v1"))
        error = await _failure(engine, call)
    finally:
        await engine.aclose()
    assert isinstance(error, EngineMisconfigured)
    assert "redirect" in error.message
    assert redirect_target.requests == []


@pytest.mark.parametrize(
    ("family", "prefix"),
    [("anthropic", "anthropic/"), ("gemini", "gemini/"), ("cohere", "cohere_chat/")],
)
async def test_rewired_litellm_handlers_keep_the_call_timeout(
    permissive: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    family: Family,
    prefix: str,
) -> None:
    """LiteLLM builds a handler per timeout; routing it through the guard keeps that timeout."""
    model = unique_model("hang")
    fakes[family].script_model(model, ModelBehaviour.hang())
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(prefix + model, _base(fakes, family), timeout=0.5)
    )
    error = await _failure(permissive, call)
    assert isinstance(error, UpstreamError)
    assert (error.status, error.code) == (504, "timeout")
