"""The upstream's rate-limit headers reach ``EngineResult.headers`` and a stream's
``headers`` on LiteLLM's top-level path too (``litellm.acompletion``: the families the
pass-through and direct paths do not serve, and Anthropic with the direct path off),
read from what LiteLLM keeps of the response. Where LiteLLM keeps nothing (in LiteLLM
1.109: Cohere's whole answers, and Gemini's whole and streamed) there is nothing to
read: pinned, so an upgrade that starts keeping them shows here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.engine.conftest import API_BASE_SUFFIX, Fakes, chat_body, target
from tests.fakes.providers import Behaviour, Family
from tollway.engine.base import Endpoint, EngineCall, EngineResult
from tollway.engine.embedded import EmbeddedEngine

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("one_event_loop")]

# Each family's own spelling (LiteLLM also copies Anthropic's into OpenAI's names).
PUBLISHED: dict[Family, dict[str, str]] = {
    "anthropic": {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-tokens-remaining": "12345",
    },
    "gemini": {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-tokens": "29000"},
    "cohere": {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-tokens": "29000"},
}
PREFIX: dict[Family, str] = {"anthropic": "anthropic", "gemini": "gemini", "cohere": "cohere_chat"}


@pytest.fixture
async def engines() -> AsyncIterator[dict[str, EmbeddedEngine]]:
    both = {
        "direct": EmbeddedEngine(direct_chat=True),
        "top_level": EmbeddedEngine(direct_chat=False),
    }
    yield both
    for engine in both.values():
        await engine.aclose()


def publishing_call(fakes: Fakes, family: Family, *, stream: bool) -> EngineCall:
    """A chat call with a key of its own, to which the fake answers with ``PUBLISHED``."""
    key = f"sk-rl-{uuid.uuid4().hex}"
    fakes[family].set_key(key, Behaviour.ok())
    fakes[family].set_response_headers(key, PUBLISHED[family])
    base = fakes[family].origin + API_BASE_SUFFIX[family]
    model = f"{PREFIX[family]}/rl-{uuid.uuid4().hex[:8]}"
    return EngineCall(Endpoint.CHAT, chat_body(), target(model, base, key=key), stream=stream)


async def headers_of(engine: EmbeddedEngine, call: EngineCall) -> dict[str, str]:
    if call.stream:
        stream = await engine.open_stream(call)
        async for _chunk in stream:
            pass
        return dict(getattr(stream, "headers", {}))
    result = await engine.call(call)
    assert isinstance(result, EngineResult)
    return dict(result.headers)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("path", ["direct", "top_level"])
async def test_anthropic_headers_on_either_path(
    engines: dict[str, EmbeddedEngine], fakes: Fakes, path: str, stream: bool
) -> None:
    call = publishing_call(fakes, "anthropic", stream=stream)
    seen = await headers_of(engines[path], call)
    assert {name: seen.get(name) for name in PUBLISHED["anthropic"]} == PUBLISHED["anthropic"]


# (family, stream) -> whether LiteLLM 1.109 keeps the upstream's headers there.
KEPT = {
    ("cohere", True): True,
    ("cohere", False): False,
    ("gemini", True): False,
    ("gemini", False): False,
}


@pytest.mark.parametrize(("family", "stream"), list(KEPT), ids=lambda v: str(v))
async def test_top_level_reads_what_litellm_keeps(
    engines: dict[str, EmbeddedEngine], fakes: Fakes, family: Family, stream: bool
) -> None:
    seen = await headers_of(engines["top_level"], publishing_call(fakes, family, stream=stream))
    assert seen == (PUBLISHED[family] if KEPT[family, stream] else {})


@pytest.mark.parametrize(
    ("endpoint", "family", "body"),
    [
        (
            Endpoint.MESSAGES,
            "openai",
            {"max_tokens": 20, "messages": [{"role": "user", "content": "hello there"}]},
        ),
        (Endpoint.RESPONSES, "anthropic", {"input": "hello there", "max_output_tokens": 20}),
    ],
    ids=["messages_over_openai_chat", "responses_over_anthropic_chat"],
)
async def test_a_bridged_answer_keeps_its_chat_calls_headers(
    engines: dict[str, EmbeddedEngine],
    fakes: Fakes,
    endpoint: Endpoint,
    family: Family,
    body: dict[str, Any],
) -> None:
    published = PUBLISHED.get(family, PUBLISHED["cohere"])
    key = f"sk-rl-{uuid.uuid4().hex}"
    fakes[family].set_key(key, Behaviour.ok())
    fakes[family].set_response_headers(key, published)
    base = fakes[family].origin + API_BASE_SUFFIX[family]
    model = f"{family}/rl-{uuid.uuid4().hex[:8]}"
    result = await engines["direct"].call(EngineCall(endpoint, body, target(model, base, key=key)))
    assert {name: result.headers.get(name) for name in published} == published
