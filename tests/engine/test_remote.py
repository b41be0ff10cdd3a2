"""The remote engine against a real LiteLLM proxy process and the fake providers."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conformance.schemas import validate_openai, validate_openai_events
from tests.engine.conftest import (
    BAD_KEY,
    GOOD_KEY,
    PROXY_PUBLIC_MODEL,
    Fakes,
    ProxyHandle,
    chat_body,
    run,
    target,
)
from tests.fakes.providers import Behaviour, ModelBehaviour, count_tokens
from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineMisconfigured,
    EngineUnavailable,
    Route,
    StreamInterrupted,
    UpstreamError,
)
from tollway.engine.proxy_process import stop
from tollway.engine.remote import RemoteEngine, classify_proxy_error
from tollway.engine.wire import TIMEOUT_MESSAGE
from tollway.secrets.base import SecretValue

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("one_event_loop")]

ECHO = "hello there big world"


@pytest.fixture
async def engine(litellm_proxy: ProxyHandle) -> AsyncIterator[RemoteEngine]:
    remote = RemoteEngine(litellm_proxy.url, litellm_proxy.master_key)
    yield remote
    await remote.aclose()


def openai_base(fakes: Fakes) -> str:
    return fakes["openai"].origin + "/v1"


async def collect(stream: Any) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


async def test_ready(engine: RemoteEngine) -> None:
    assert engine.route is Route.LITELLM
    assert await engine.ready()
    nobody = RemoteEngine("http://127.0.0.1:9", SecretValue("sk-x"))
    assert not await nobody.ready()
    await nobody.aclose()


async def test_chat_with_per_call_credentials(
    engine: RemoteEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    marker = unique_model("remote")
    body = chat_body(marker, temperature=0.5, api_base="http://evil.example/v1", mock_response="no")
    tgt = target("openai/gpt-4o-mini", openai_base(fakes))
    result = await engine.call(EngineCall(Endpoint.CHAT, body, tgt))
    assert result.body["choices"][0]["message"]["content"] == marker
    assert result.usage is not None
    assert result.usage.total_tokens == 2 * count_tokens(marker)
    expected = result.usage.prompt_tokens * 1.5e-7 + result.usage.completion_tokens * 6e-7
    assert result.cost_usd == pytest.approx(expected)  # x-litellm-response-cost
    assert result.headers["x-litellm-call-id"]
    [request] = [
        r
        for r in fakes["openai"].requests_for_model("gpt-4o-mini")
        if r.body["messages"][0]["content"] == marker
    ]
    assert request.key == GOOD_KEY  # the provider key, not the master key
    assert request.body["temperature"] == 0.5


async def test_stream_and_its_usage_chunk(
    engine: RemoteEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    model = unique_model("stream")
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(f"openai/{model}", openai_base(fakes)), stream=True
    )
    chunks = await collect(await engine.open_stream(call))
    text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"])
    assert text == ECHO
    assert chunks[-1]["usage"]["completion_tokens"] == count_tokens(ECHO)
    [request] = fakes["openai"].requests_for_model(model)
    assert request.body["stream_options"] == {"include_usage": True}


async def test_the_proxys_stream_has_no_null_role_or_fragment_ids(
    engine: RemoteEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    # The proxy translates (its pass-through routes take no per-call credentials). It
    # serializes chunks without nulls, so LiteLLM's `role: null` and null tool-call ids
    # and names do not reach the engine today; openai_conformance would take them out
    # if they did. This pins the result whichever does it.
    model = unique_model("conform")
    call_start = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f"}}
    call_start["function"]["arguments"] = ""
    sent = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call_start]}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    for chunk in sent:
        chunk.update(id="x", object="chat.completion.chunk", created=1, model=model)
    fakes["openai"].script_model(model, ModelBehaviour.canned(chunks=sent))
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(f"openai/{model}", openai_base(fakes)), stream=True
    )
    chunks = await collect(await engine.open_stream(call))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert all("role" not in delta for delta in deltas[1:])
    fragments = [f for delta in deltas for f in delta.get("tool_calls") or []]
    assert fragments[0]["id"] == "c1"
    assert all(None not in f.values() for f in fragments)
    assert all("id" not in f for f in fragments[1:])
    assert all("name" not in f["function"] for f in fragments[1:])


async def test_embeddings_and_completions(
    engine: RemoteEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    tgt = target(f"openai/{unique_model('embed')}", openai_base(fakes))
    vectors = await engine.call(EngineCall(Endpoint.EMBEDDINGS, {"input": ["a b", "c"]}, tgt))
    assert len(vectors.body["data"]) == 2
    assert vectors.usage is not None
    assert vectors.usage.prompt_tokens == 3
    model = unique_model("instruct")
    text = await engine.call(
        EngineCall(
            Endpoint.COMPLETIONS,
            {"prompt": "say hi"},
            target(f"openai/{model}", openai_base(fakes)),
        )
    )
    assert text.body["choices"][0]["text"] == "say hi"
    assert [r.path for r in fakes["openai"].requests_for_model(model)] == ["/v1/completions"]


async def test_the_rendered_deployment_serves_its_public_name(
    litellm_proxy: ProxyHandle, fakes: Fakes
) -> None:
    """The same config run standalone: the key comes from os.environ/TW_PROVIDER_KEY_…."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            litellm_proxy.url + "/v1/chat/completions",
            json={"model": PROXY_PUBLIC_MODEL, **chat_body()},
            headers={"Authorization": f"Bearer {litellm_proxy.master_key.reveal()}"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["x-litellm-model-id"] == "dep-gpt-fake"
    assert float(response.headers["x-litellm-response-cost"]) == pytest.approx(4 * 1e-6 + 4 * 2e-6)
    assert fakes["openai"].requests_for_model("gpt-4o-mini")[-1].key == GOOD_KEY


async def test_mock_targets_are_answered_without_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"mock dialled {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    engine = RemoteEngine("http://127.0.0.1:9", SecretValue("sk-x"))
    tgt = target("openai/echo", None, key=None, mock=True)
    result = await engine.call(EngineCall(Endpoint.CHAT, chat_body("four words right here"), tgt))
    assert result.body["choices"][0]["message"]["content"] == "four words right here"
    assert result.usage is not None
    assert result.usage.completion_tokens == 6  # ceil(21 / 4)
    chunks = await collect(
        await engine.open_stream(EngineCall(Endpoint.CHAT, chat_body("a b"), tgt, stream=True))
    )
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        == "a b"
    )
    assert chunks[-1]["usage"]["completion_tokens"] == 1
    # The mock answers in OpenAI's published shape at its source (nothing corrects it).
    validate_openai("CreateChatCompletionResponse", result.body)
    validate_openai_events("CreateChatCompletionStreamResponse", chunks)


@pytest.mark.parametrize(
    ("behaviour", "status", "retryable"),
    [
        (ModelBehaviour.rate_limited("2"), 429, True),
        (ModelBehaviour.server_error(500), 500, True),
        (ModelBehaviour.bad_request("Invalid 'n'"), 400, False),
    ],
)
async def test_provider_errors_through_the_proxy(
    engine: RemoteEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    behaviour: ModelBehaviour,
    status: int,
    retryable: bool,
) -> None:
    model = unique_model("err")
    fakes["openai"].script_model(model, behaviour)
    with pytest.raises(UpstreamError) as info:
        await engine.call(
            EngineCall(Endpoint.CHAT, chat_body(), target(f"openai/{model}", openai_base(fakes)))
        )
    assert (info.value.status, info.value.retryable, info.value.key_rejected) == (
        status,
        retryable,
        False,
    )
    assert len(fakes["openai"].requests_for_model(model)) == 1  # LiteLLM did not retry
    if status == 400:
        assert info.value.message == "Invalid 'n'"


# What of a provider's code and param the LiteLLM proxy keeps: its answer's "code"
# is the HTTP status, so a code survives only as LiteLLM's exception class named in
# the message (and then the proxy drops the param); a plain 400 keeps its param.
REFUSALS = [
    (
        "This model's maximum context length is 8192 tokens.",
        "context_length_exceeded",
        "messages",
        ("context_length_exceeded", None),
    ),
    ("Invalid value for 'top_p'.", "invalid_value", "top_p", (None, "top_p")),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("message", "code", "param", "kept"), REFUSALS)
async def test_what_the_proxy_keeps_of_a_providers_code_and_param(
    engine: RemoteEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    stream: bool,
    message: str,
    code: str,
    param: str,
    kept: tuple[str | None, str | None],
) -> None:
    model = unique_model("param")
    fakes["openai"].script_model(
        model, ModelBehaviour.refusing(400, message, code=code, param=param)
    )
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(f"openai/{model}", openai_base(fakes)), stream=stream
    )
    with pytest.raises(UpstreamError) as info:
        await run(engine, call)
    assert (info.value.status, info.value.retryable) == (400, False)
    assert (info.value.code, info.value.param) == kept


async def test_rejected_provider_key(engine: RemoteEngine, fakes: Fakes) -> None:
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", openai_base(fakes), key=BAD_KEY)
    )
    with pytest.raises(UpstreamError) as info:
        await engine.call(call)
    assert (info.value.status, info.value.key_rejected) == (401, True)
    assert BAD_KEY not in repr(info.value)


@pytest.mark.parametrize("stream", [False, True])
async def test_slow_provider_is_timed_out_by_the_proxy(
    engine: RemoteEngine, fakes: Fakes, unique_model: Callable[[str], str], stream: bool
) -> None:
    model = unique_model("hang")
    fakes["openai"].script_model(model, ModelBehaviour.hang())
    call = EngineCall(
        Endpoint.CHAT,
        chat_body(),
        target(f"openai/{model}", openai_base(fakes), timeout=1.0),
        stream=stream,
    )
    started = time.monotonic()
    with pytest.raises(UpstreamError) as info:
        await run(engine, call)
    assert time.monotonic() - started < 3.0  # the proxy's 408 beat our read timeout
    assert (info.value.status, info.value.retryable) == (504, True)
    # Our words, not the proxy's "litellm.Timeout: APITimeoutError - ...".
    assert info.value.message == TIMEOUT_MESSAGE


async def test_unreachable_provider_and_mid_stream_reset(
    engine: RemoteEngine, fakes: Fakes, unique_model: Callable[[str], str]
) -> None:
    with pytest.raises(UpstreamError) as info:
        await engine.call(
            EngineCall(Endpoint.CHAT, chat_body(), target("openai/x", "http://127.0.0.1:9/v1"))
        )
    assert (info.value.status, info.value.retryable) == (502, True)
    model = unique_model("cut")
    fakes["openai"].script_model(model, ModelBehaviour.reset_after(2))
    stream = await engine.open_stream(
        EngineCall(
            Endpoint.CHAT, chat_body(), target(f"openai/{model}", openai_base(fakes)), stream=True
        )
    )
    with pytest.raises(StreamInterrupted):
        await collect(stream)


@pytest.mark.parametrize(
    ("model", "key", "base"),
    [
        ("vertex_ai/gemini-pro", GOOD_KEY, "http://127.0.0.1:9"),  # no wildcard for the prefix
        ("anthropic/claude-x", None, None),  # LiteLLM: "Missing Anthropic API Key"
    ],
)
async def test_misconfiguration(
    engine: RemoteEngine, model: str, key: str | None, base: str | None
) -> None:
    with pytest.raises(EngineMisconfigured):
        await engine.call(EngineCall(Endpoint.CHAT, chat_body(), target(model, base, key=key)))


async def test_wrong_master_key_is_a_misconfiguration(
    litellm_proxy: ProxyHandle, fakes: Fakes
) -> None:
    engine = RemoteEngine(litellm_proxy.url, SecretValue("sk-not-the-master-key"))
    try:
        with pytest.raises(EngineMisconfigured, match="master key"):
            await engine.call(
                EngineCall(
                    Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", openai_base(fakes))
                )
            )
    finally:
        await engine.aclose()


@pytest.mark.parametrize(
    ("status", "headers", "payload", "expected"),
    [
        (502, {}, None, EngineUnavailable),  # a load balancer in front of a dead proxy
        (500, {}, None, EngineUnavailable),  # LiteLLM crashed: plain-text 500
        (404, {}, {"detail": "Not Found"}, EngineMisconfigured),  # wrong base URL
        (
            400,
            {"x-litellm-call-id": "c"},
            {
                "error": {
                    "message": "litellm.BadRequestError: You passed in model=x. "
                    "There are no healthy deployments for this model",
                    "code": "400",
                }
            },
            EngineMisconfigured,
        ),
        (
            400,
            {"x-litellm-call-id": "c"},
            {"error": {"message": "Invalid model name passed in model=x", "code": "400"}},
            EngineMisconfigured,
        ),
        (
            503,
            {"x-litellm-call-id": "c"},
            {"error": {"message": "overloaded", "code": "503"}},
            UpstreamError,
        ),
    ],
)
def test_proxy_error_classification(
    status: int, headers: dict[str, str], payload: Any, expected: type[Exception]
) -> None:
    assert isinstance(classify_proxy_error(status, headers, payload, None), expected)


async def test_proxy_killed_is_engine_unavailable(litellm_proxy: ProxyHandle, fakes: Fakes) -> None:
    """Runs last in the session (see conftest): it stops the shared proxy, then checks
    that no key reached the proxy's log in the whole session."""
    engine = RemoteEngine(litellm_proxy.url, litellm_proxy.master_key)
    try:
        stop(litellm_proxy.process, grace=5.0)
        assert not await engine.ready()
        with pytest.raises(EngineUnavailable):
            await engine.call(
                EngineCall(
                    Endpoint.CHAT, chat_body(), target("openai/gpt-4o-mini", openai_base(fakes))
                )
            )
        with pytest.raises(EngineUnavailable):
            await engine.open_stream(
                EngineCall(
                    Endpoint.CHAT,
                    chat_body(),
                    target("openai/gpt-4o-mini", openai_base(fakes)),
                    stream=True,
                )
            )
    finally:
        await engine.aclose()
    log = litellm_proxy.log_text()
    assert log, "the proxy wrote no log"
    for secret in (GOOD_KEY, BAD_KEY, litellm_proxy.master_key.reveal()):
        assert secret not in log


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_the_upstreams_rate_limit_headers_come_through_the_proxy(
    engine: RemoteEngine, fakes: Fakes, unique_model: Callable[[str], str], stream: bool
) -> None:
    """The proxy relays the provider's headers (as ``llm_provider-<name>``): the
    remote engine keeps the rate-limit ones, as the embedded engine does."""
    key = unique_model("sk-rl")
    published = {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-tokens": "29000"}
    fakes["openai"].set_key(key, Behaviour.ok())
    fakes["openai"].set_response_headers(key, published)
    call = EngineCall(
        Endpoint.CHAT,
        chat_body(),
        target("openai/gpt-4o-mini", openai_base(fakes), key=key),
        stream,
    )
    if stream:
        opened = await engine.open_stream(call)
        await collect(opened)
        headers = dict(getattr(opened, "headers", {}))
    else:
        headers = dict((await engine.call(call)).headers)
    assert {name: headers.get(name) for name in published} == published
