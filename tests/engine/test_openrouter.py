"""The OpenRouter engine against the fake OpenRouter, and the shared SSE plumbing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.engine.conftest import BAD_KEY, GOOD_KEY, Fakes, chat_body, run, target
from tests.fakes.providers import ModelBehaviour, count_tokens, openrouter_cost
from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineUnavailable,
    Route,
    StreamInterrupted,
    UpstreamError,
)
from tollway.engine.openrouter import OpenRouterEngine

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("one_event_loop")]

ECHO = "hello there big world"


@pytest.fixture
async def engine() -> AsyncIterator[OpenRouterEngine]:
    openrouter = OpenRouterEngine()
    yield openrouter
    await openrouter.aclose()


def base(fakes: Fakes) -> str:
    return fakes["openrouter"].origin + "/api/v1"


async def collect(stream: Any) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


async def test_chat_sends_the_bare_id_asks_for_usage_and_reads_the_cost(
    engine: OpenRouterEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = "anthropic/" + unique_model("claude")
    result = await engine.call(EngineCall(Endpoint.CHAT, chat_body(), target(model, base(fakes))))
    assert engine.route is Route.OPENROUTER
    assert result.body["choices"][0]["message"]["content"] == ECHO
    tokens = count_tokens(ECHO)
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (tokens, tokens)
    assert result.cost_usd == pytest.approx(openrouter_cost(tokens, tokens))
    [request] = fakes["openrouter"].requests_for_model(model)
    assert request.path == "/api/v1/chat/completions"
    assert request.key == GOOD_KEY
    assert request.body["usage"] == {"include": True}
    assert request.header("x-title") == "tollway"


async def test_stream_reads_the_cost_from_the_final_chunk(
    engine: OpenRouterEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = "openai/" + unique_model("gpt")
    call = EngineCall(Endpoint.CHAT, chat_body(), target(model, base(fakes)), stream=True)
    chunks = await collect(await engine.open_stream(call))
    text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"])
    assert text == ECHO
    tokens = count_tokens(ECHO)
    assert chunks[-1]["usage"]["cost"] == pytest.approx(openrouter_cost(tokens, tokens))
    [request] = fakes["openrouter"].requests_for_model(model)
    assert request.body["stream_options"] == {"include_usage": True}


async def test_default_base_url_is_used_when_the_target_has_none(
    fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    engine = OpenRouterEngine(base(fakes), app_name=None)
    model = "openai/" + unique_model("gpt")
    try:
        result = await engine.call(EngineCall(Endpoint.CHAT, chat_body(), target(model, None)))
    finally:
        await engine.aclose()
    assert result.cost_usd is not None
    [request] = fakes["openrouter"].requests_for_model(model)
    assert request.header("x-title") is None


async def test_embeddings(
    engine: OpenRouterEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = "openai/" + unique_model("embed")
    result = await engine.call(
        EngineCall(Endpoint.EMBEDDINGS, {"input": ["a b", "c"]}, target(model, base(fakes)))
    )
    assert len(result.body["data"]) == 2
    assert result.usage is not None
    assert result.usage.prompt_tokens == 3


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("behaviour", "status", "retryable", "key_rejected"),
    [
        (ModelBehaviour.error(402, "Insufficient credits"), 402, False, True),
        (ModelBehaviour.rate_limited("4"), 429, True, False),
        (ModelBehaviour.server_error(502), 502, True, False),
        (ModelBehaviour.bad_request("messages: required"), 400, False, False),
    ],
)
async def test_errors_are_classified(
    engine: OpenRouterEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    behaviour: ModelBehaviour,
    status: int,
    retryable: bool,
    key_rejected: bool,
    stream: bool,
) -> None:
    model = "openai/" + unique_model("err")
    fakes["openrouter"].script_model(model, behaviour)
    call = EngineCall(Endpoint.CHAT, chat_body(), target(model, base(fakes)), stream=stream)
    with pytest.raises(UpstreamError) as info:
        await run(engine, call)
    error = info.value
    assert (error.status, error.retryable, error.key_rejected) == (status, retryable, key_rejected)
    if status == 402:
        assert error.code == "insufficient_credits"
    if status == 429:
        assert error.retry_after == 4.0


async def test_bad_key_is_rejected_without_echoing_it(
    engine: OpenRouterEngine, fakes: Fakes
) -> None:
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", base(fakes), key=BAD_KEY)
    )
    with pytest.raises(UpstreamError) as info:
        await engine.call(call)
    assert (info.value.status, info.value.key_rejected) == (401, True)
    assert BAD_KEY not in repr(info.value)


async def test_unreachable_and_slow(
    engine: OpenRouterEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    with pytest.raises(EngineUnavailable):
        await engine.call(
            EngineCall(Endpoint.CHAT, chat_body(), target("openai/x", "http://127.0.0.1:9/api/v1"))
        )
    model = "openai/" + unique_model("hang")
    fakes["openrouter"].script_model(model, ModelBehaviour.hang())
    started = time.monotonic()
    with pytest.raises(UpstreamError) as info:
        await engine.open_stream(
            EngineCall(
                Endpoint.CHAT, chat_body(), target(model, base(fakes), timeout=0.5), stream=True
            )
        )
    assert time.monotonic() - started < 3
    assert (info.value.status, info.value.retryable) == (504, True)


async def test_reset_mid_stream_is_interrupted(
    engine: OpenRouterEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = "openai/" + unique_model("cut")
    fakes["openrouter"].script_model(model, ModelBehaviour.reset_after(2))
    stream = await engine.open_stream(
        EngineCall(Endpoint.CHAT, chat_body(), target(model, base(fakes)), stream=True)
    )
    with pytest.raises(StreamInterrupted):
        await collect(stream)


# -- SSE edge cases, served by an in-process transport ---------------------------------------


def sse_engine(payload: bytes) -> OpenRouterEngine:
    async def body() -> AsyncIterator[bytes]:
        yield payload

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    return OpenRouterEngine(
        "http://openrouter.test/api/v1", httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )


STREAM_CALL = EngineCall(Endpoint.CHAT, chat_body(), target("openai/x", None), stream=True)


async def test_sse_comments_multiline_data_and_done() -> None:
    engine = sse_engine(
        b": OPENROUTER PROCESSING\n\n"
        b'data: {"choices": [{"delta": {"content": "a"}}],\ndata:  "id": "1"}\n\n'
        b'event: message\ndata: {"choices": [], "usage": {"cost": 0.5}}\n\n'
        b"data: [DONE]\n\n"
        b'data: {"after": "done"}\n\n'
    )
    chunks = await collect(await engine.open_stream(STREAM_CALL))
    assert chunks == [
        {"choices": [{"delta": {"content": "a"}}], "id": "1"},
        {"choices": [], "usage": {"cost": 0.5}},
    ]


async def test_error_event_first_raises_from_open_stream_and_later_interrupts() -> None:
    first = sse_engine(b'data: {"error": {"code": 429, "message": "slow down"}}\n\n')
    with pytest.raises(UpstreamError) as info:
        await first.open_stream(STREAM_CALL)
    assert (info.value.status, info.value.retryable) == (429, True)
    later = sse_engine(
        b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n'
        b'data: {"error": {"code": 502, "message": "provider died"},'
        b' "choices": [{"finish_reason": "error"}]}\n\n'
    )
    stream = await later.open_stream(STREAM_CALL)
    with pytest.raises(StreamInterrupted, match="provider died"):
        await collect(stream)


async def test_a_200_carrying_an_error_is_an_upstream_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"error": {"code": 503, "message": "no provider available"}}
        )

    engine = OpenRouterEngine(
        "http://openrouter.test/api/v1", httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )
    with pytest.raises(UpstreamError) as info:
        await engine.call(EngineCall(Endpoint.CHAT, chat_body(), target("openai/x", None)))
    assert (info.value.status, info.value.retryable) == (503, True)
