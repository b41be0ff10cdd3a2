"""The embedded engine: the real litellm SDK against the fake providers."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.engine.conftest import (
    API_BASE_SUFFIX,
    BAD_KEY,
    GOOD_KEY,
    DisconnectProbe,
    Fakes,
    chat_body,
    run,
    target,
)
from tests.fakes.providers import Family, ModelBehaviour, count_tokens
from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineMisconfigured,
    EngineStream,
    Route,
    StreamInterrupted,
    UpstreamError,
)
from tollway.engine.embedded import EmbeddedEngine

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.usefixtures("one_event_loop"),
]

ECHO = "hello there big world"
RESERVED = (
    "api_base",
    "api_key",
    "mock_response",
    "metadata",
    "input_cost_per_token",
    "num_retries",
)


@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    return EmbeddedEngine()


def openai_base(fakes: Fakes) -> str:
    return fakes["openai"].origin + "/v1"


async def collect(stream: EngineStream) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


def text_of(chunks: list[dict[str, Any]]) -> str:
    parts = []
    for chunk in chunks:
        for choice in chunk.get("choices", []):
            parts.append((choice.get("delta") or {}).get("content") or choice.get("text") or "")
    return "".join(parts)


# -- success paths ---------------------------------------------------------------------


async def test_chat_returns_an_openai_body_and_usage(engine: EmbeddedEngine, fakes: Fakes) -> None:
    call = EngineCall(Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", openai_base(fakes)))
    result = await engine.call(call)
    assert engine.route is Route.LITELLM
    assert result.body["object"] == "chat.completion"
    message = result.body["choices"][0]["message"]
    assert (message["role"], message["content"]) == ("assistant", ECHO)
    assert "provider_specific_fields" not in result.body["choices"][0]
    assert result.usage is not None
    assert result.usage.prompt_tokens == count_tokens(ECHO)
    assert result.usage.completion_tokens == count_tokens(ECHO)
    # Passed through: no LiteLLM price; tollway's price table bills it (the routing
    # builder already resolved LiteLLM's bundled prices into the deployment's).
    assert result.cost_usd is None


async def test_unpriced_model_reports_no_cost_rather_than_zero(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(f"openai/{unique_model('free')}", openai_base(fakes))
    )
    result = await engine.call(call)
    assert result.usage is not None
    assert result.cost_usd is None


def reserved_body() -> dict[str, Any]:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    return chat_body(
        model="client-chosen",
        temperature=0.3,
        n=1,
        stop=["\n\n"],
        user="agent-7",
        tools=tools,
        response_format={"type": "json_object"},
        seed=11,
        foo_param={"nested": True},  # unknown to LiteLLM: still forwarded
        api_base="http://evil.example/v1",
        api_key="sk-client-supplied-key",
        mock_response="not from the provider",
        metadata={"a": 1},
        input_cost_per_token=0,
        litellm_logging_obj="x",
        num_retries=5,
    )


async def test_passed_through_body_reaches_the_upstream_as_sent_and_steers_nothing(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    # On the pass-through LiteLLM reads no body key: every client key but the
    # engine's own (model, stream) reaches the upstream, and none of them redirects
    # the call, swaps the key or answers in the provider's place.
    model = unique_model("pass")
    body = reserved_body()
    tgt = target(f"openai/{model}", openai_base(fakes))
    result = await engine.call(EngineCall(Endpoint.CHAT, body, tgt))
    assert result.body["choices"][0]["message"]["content"] == ECHO  # the provider answered
    [request] = fakes["openai"].requests_for_model(model)
    assert request.key == GOOD_KEY
    assert request.body == {**body, "model": model}


async def test_translated_body_passes_through_but_reserved_keys_do_not(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("translated")
    body = reserved_body()
    tgt = target(f"anthropic/{model}", fakes["anthropic"].origin)
    result = await engine.call(EngineCall(Endpoint.CHAT, body, tgt))
    assert result.body["choices"][0]["message"]["content"] == ECHO  # the provider answered
    [request] = fakes["anthropic"].requests_for_model(model)
    assert request.key == GOOD_KEY
    assert request.body["temperature"] == body["temperature"]
    # LiteLLM writes Anthropic's own metadata from `user`; the client's never goes.
    assert request.body.pop("metadata") == {"user_id": "agent-7"}
    for name in RESERVED:
        assert name not in request.body, name


async def test_stream_yields_chunks_and_always_a_usage_chunk(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("stream")
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(f"openai/{model}", openai_base(fakes)), stream=True
    )
    chunks = await collect(await engine.open_stream(call))
    assert text_of(chunks) == ECHO
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    usage = chunks[-1]["usage"]
    assert usage["prompt_tokens"] == count_tokens(ECHO)
    assert usage["completion_tokens"] == count_tokens(ECHO)
    [request] = fakes["openai"].requests_for_model(model)
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


async def test_completions_use_the_legacy_endpoint(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("instruct")
    tgt = target(f"openai/{model}", openai_base(fakes))
    result = await engine.call(
        EngineCall(Endpoint.COMPLETIONS, {"prompt": "say hi", "max_tokens": 5}, tgt)
    )
    assert result.body["object"] == "text_completion"
    assert result.body["choices"][0]["text"] == "say hi"
    chunks = await collect(
        await engine.open_stream(
            EngineCall(Endpoint.COMPLETIONS, {"prompt": "say hi"}, tgt, stream=True)
        )
    )
    assert text_of(chunks) == "say hi"
    assert chunks[-1]["usage"]["completion_tokens"] == 2
    assert {r.path for r in fakes["openai"].requests_for_model(model)} == {"/v1/completions"}


async def test_embeddings(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("embed")
    call = EngineCall(
        Endpoint.EMBEDDINGS,
        {"input": ["one two", "three"]},
        target(f"openai/{model}", openai_base(fakes)),
    )
    result = await engine.call(call)
    assert result.body["object"] == "list"
    assert [item["index"] for item in result.body["data"]] == [0, 1]
    assert result.usage is not None
    assert result.usage.prompt_tokens == 3
    assert result.usage.completion_tokens == 0


@pytest.mark.parametrize(
    ("family", "prefix"),
    [
        ("anthropic", "anthropic/"),
        ("gemini", "gemini/"),
        ("cohere", "cohere_chat/"),
        ("openrouter", "openrouter/fake/"),
        ("openai", "groq/"),
        ("openai", "mistral/"),
        ("openai", "together_ai/"),
    ],
)
async def test_litellm_translates_each_family(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    family: Family,
    prefix: str,
) -> None:
    base = fakes[family].origin + API_BASE_SUFFIX[family]
    tgt = target(prefix + unique_model(family), base)
    result = await engine.call(EngineCall(Endpoint.CHAT, chat_body(), tgt))
    assert result.body["choices"][0]["message"]["content"] == ECHO
    assert result.usage is not None
    assert result.usage.total_tokens > 0
    chunks = await collect(
        await engine.open_stream(EngineCall(Endpoint.CHAT, chat_body(), tgt, stream=True))
    )
    assert text_of(chunks) == ECHO
    assert chunks[-1].get("usage", {}).get("completion_tokens") == count_tokens(ECHO)


@pytest.mark.parametrize(("family", "prefix"), [("gemini", "gemini/"), ("cohere", "cohere/")])
async def test_embeddings_for_each_family(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    family: Family,
    prefix: str,
) -> None:
    base = fakes[family].origin + API_BASE_SUFFIX[family]
    tgt = target(prefix + unique_model(family), base)
    result = await engine.call(EngineCall(Endpoint.EMBEDDINGS, {"input": ["a b", "c"]}, tgt))
    assert len(result.body["data"]) == 2
    assert result.usage is not None
    assert result.usage.prompt_tokens > 0


# -- the mock provider -----------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"the mock provider dialled {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.mark.usefixtures("no_network")
async def test_mock_target_echoes_with_realistic_usage_and_no_network(
    engine: EmbeddedEngine,
) -> None:
    tgt = target("openai/mock-echo", None, key=None, mock=True)
    body = chat_body("The quick brown fox jumps over the lazy dog")
    result = await engine.call(EngineCall(Endpoint.CHAT, body, tgt))
    assert (
        result.body["choices"][0]["message"]["content"]
        == "The quick brown fox jumps over the lazy dog"
    )
    assert result.usage is not None
    assert result.usage.prompt_tokens == 3 + 11 + 3  # framing + ceil(43 chars / 4) + priming
    assert result.usage.completion_tokens == 11
    assert result.cost_usd is None
    chunks = await collect(
        await engine.open_stream(EngineCall(Endpoint.CHAT, body, tgt, stream=True))
    )
    assert text_of(chunks) == "The quick brown fox jumps over the lazy dog"
    assert chunks[-1]["usage"] == {"prompt_tokens": 17, "completion_tokens": 11, "total_tokens": 28}
    text = await engine.call(EngineCall(Endpoint.COMPLETIONS, {"prompt": "say hi"}, tgt))
    assert text.body["choices"][0]["text"] == "say hi"
    vectors = await engine.call(EngineCall(Endpoint.EMBEDDINGS, {"input": ["a", "bb", "a"]}, tgt))
    data = vectors.body["data"]
    assert len(data) == 3
    assert data[0]["embedding"] == data[2]["embedding"] != data[1]["embedding"]


# -- failures ----------------------------------------------------------------------------


async def failure(engine: EmbeddedEngine, call: EngineCall) -> Exception:
    with pytest.raises(Exception) as info:  # noqa: PT011  (callers assert the type)
        await run(engine, call)
    return info.value


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("behaviour", "status", "retryable"),
    [
        (ModelBehaviour.rate_limited("7"), 429, True),
        (ModelBehaviour.server_error(500), 500, True),
        (ModelBehaviour.server_error(503), 503, True),
        (ModelBehaviour.bad_request("Invalid 'temperature': must be <= 2."), 400, False),
    ],
)
async def test_provider_errors_are_classified(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    behaviour: ModelBehaviour,
    status: int,
    retryable: bool,
    stream: bool,
) -> None:
    model = unique_model("err")
    fakes["openai"].script_model(model, behaviour)
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(f"openai/{model}", openai_base(fakes)), stream=stream
    )
    error = await failure(engine, call)
    assert isinstance(error, UpstreamError)
    assert (error.status, error.retryable, error.key_rejected) == (status, retryable, False)
    assert len(fakes["openai"].requests_for_model(model)) == 1  # never retried
    if status == 429:
        assert error.retry_after == 7.0
    if status == 400:
        assert error.message == "Invalid 'temperature': must be <= 2."


async def test_rejected_key_is_key_rejected_and_never_echoed(
    engine: EmbeddedEngine, fakes: Fakes
) -> None:
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", openai_base(fakes), key=BAD_KEY)
    )
    error = await failure(engine, call)
    assert isinstance(error, UpstreamError)
    assert (error.status, error.key_rejected, error.retryable) == (401, True, False)
    assert BAD_KEY not in str(error)
    assert BAD_KEY[-10:] not in str(error)


@pytest.mark.parametrize("stream", [False, True])
async def test_hanging_provider_times_out_as_retryable(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str], stream: bool
) -> None:
    model = unique_model("hang")
    fakes["openai"].script_model(model, ModelBehaviour.hang())
    call = EngineCall(
        Endpoint.CHAT,
        chat_body(),
        target(f"openai/{model}", openai_base(fakes), timeout=0.5),
        stream=stream,
    )
    started = time.monotonic()
    error = await failure(engine, call)
    assert time.monotonic() - started < 3.0
    assert isinstance(error, UpstreamError)
    assert (error.status, error.retryable, error.code) == (504, True, "timeout")


async def test_unreachable_provider_is_a_retryable_502(engine: EmbeddedEngine) -> None:
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", "http://127.0.0.1:9/v1")
    )
    error = await failure(engine, call)
    assert isinstance(error, UpstreamError)
    assert (error.status, error.retryable, error.code) == (502, True, "upstream_unreachable")


@pytest.mark.parametrize(
    ("model", "key", "base"),
    [
        ("no-such-provider/model", GOOD_KEY, "http://127.0.0.1:9"),
        ("anthropic/claude-x", None, None),  # no key anywhere: LiteLLM's "Missing ... API Key"
    ],
)
async def test_misconfiguration_is_not_the_providers_fault(
    engine: EmbeddedEngine, model: str, key: str | None, base: str | None
) -> None:
    error = await failure(
        engine, EngineCall(Endpoint.CHAT, chat_body(), target(model, base, key=key))
    )
    assert isinstance(error, EngineMisconfigured)


async def test_failures_before_the_first_chunk_raise_from_open_stream(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("late")
    fakes["openai"].script_model(model, ModelBehaviour.slow_first_byte(0.4))
    tgt = target(f"openai/{model}", openai_base(fakes))
    started = time.monotonic()
    stream = await engine.open_stream(EngineCall(Endpoint.CHAT, chat_body(), tgt, stream=True))
    assert time.monotonic() - started >= 0.35  # open_stream waited for the first chunk
    first_ready = time.monotonic()
    chunks = await collect(stream)
    assert time.monotonic() - first_ready < 0.3
    assert text_of(chunks) == ECHO


async def test_reset_mid_stream_interrupts_after_the_first_chunks(
    engine: EmbeddedEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("cut")
    fakes["openai"].script_model(model, ModelBehaviour.reset_after(2))
    tgt = target(f"openai/{model}", openai_base(fakes))
    stream = await engine.open_stream(EngineCall(Endpoint.CHAT, chat_body(), tgt, stream=True))
    received: list[dict[str, Any]] = []

    async def read() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(StreamInterrupted):
        await read()
    assert text_of(received).split() == ["hello", "there"]


async def test_aclose_cancels_the_upstream_call(
    engine: EmbeddedEngine, disconnect_probe: DisconnectProbe
) -> None:
    tgt = target("openai/probe", disconnect_probe.base_url)
    stream = await engine.open_stream(EngineCall(Endpoint.CHAT, chat_body(), tgt, stream=True))
    iterator = aiter(stream)
    await anext(iterator)
    await anext(iterator)
    await stream.aclose()
    assert await disconnect_probe.saw_disconnect(), "the upstream never saw the client leave"


async def test_keys_never_reach_logs_or_errors(
    engine: EmbeddedEngine,
    fakes: Fakes,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    base = openai_base(fakes)
    await engine.call(EngineCall(Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", base)))
    for key in (BAD_KEY, GOOD_KEY):
        model = "openai/gpt-4o-mini" if key == BAD_KEY else "openai/x"
        tgt = target(model, base if key == BAD_KEY else "http://127.0.0.1:9/v1", key=key)
        error = await failure(engine, EngineCall(Endpoint.CHAT, chat_body(), tgt))
        assert key not in repr(error)
        assert key not in str(error.__cause__)  # raised "from None": no chained original
    out, err = capfd.readouterr()
    for key in (GOOD_KEY, BAD_KEY):
        assert key not in out
        assert key not in err
        assert key not in caplog.text


async def test_engine_aclose_is_safe_and_calls_still_work_after(
    engine: EmbeddedEngine, fakes: Fakes
) -> None:
    assert await engine.ready()
    await engine.aclose()
    result = await engine.call(
        EngineCall(Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", openai_base(fakes)))
    )
    assert result.usage is not None


@pytest.mark.parametrize(
    ("family", "prefix"),
    [("anthropic", "anthropic/"), ("gemini", "gemini/"), ("cohere", "cohere_chat/")],
)
@pytest.mark.parametrize("endpoint", [Endpoint.CHAT, Endpoint.COMPLETIONS], ids=str)
async def test_translated_streams_keep_to_openais_schema(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    family: Family,
    prefix: str,
    endpoint: Endpoint,
) -> None:
    # LiteLLM's wrapper puts `role: null` on every chunk after the first, `text: null`
    # on a completion's last chunk and null counts in usage details (openai_conformance).
    tgt = target(prefix + unique_model(family), fakes[family].origin + API_BASE_SUFFIX[family])
    body = chat_body() if endpoint is Endpoint.CHAT else {"prompt": ECHO}
    chunks = await collect(await engine.open_stream(EngineCall(endpoint, body, tgt, stream=True)))
    choices = [choice for chunk in chunks for choice in chunk["choices"]]
    if endpoint is Endpoint.CHAT:
        assert [c["delta"].get("role") for c in choices[:1]] == ["assistant"]
        assert all("role" not in c["delta"] for c in choices[1:])
    else:
        assert all(isinstance(c["text"], str) for c in choices)
    assert text_of(chunks) == ECHO
    usage = chunks[-1]["usage"]
    for name, details in usage.items():
        if name.endswith("_details"):
            assert None not in details.values(), name
