"""litellm.acompletion through each family's fake: content and usage survive translation.

Wire paths litellm 1.109.1 used (recorded by the fakes), by prefix:
  openai/ groq/ mistral/ together_ai/  POST {api_base}/chat/completions (api_base .../v1)
  openrouter/   POST /api/v1/chat/completions, body has "usage": {"include": true}
  anthropic/    POST /v1/messages (api_base is the origin)
  gemini/       POST /v1beta/models/{m}:generateContent and
                POST /v1beta/models/{m}:streamGenerateContent?alt=sse (api_base .../v1beta)
  cohere_chat/  POST {api_base} exactly as given (api_base .../v2/chat)
"""

from __future__ import annotations

from collections.abc import Callable

import litellm
import pytest

from tests.fakes.providers import openrouter_cost
from tests.fakes_conformance.support import (
    ANTHROPIC,
    CHAT_TARGETS,
    COHERE_CHAT,
    COMPLETION_TOKENS,
    ECHO,
    GEMINI,
    GOOD_KEY,
    MISTRAL,
    OPENROUTER,
    PROMPT_TOKENS,
    Servers,
    Target,
    collect,
    completion_kwargs,
    target_id,
)

pytestmark = pytest.mark.anyio

# Streams whose usage litellm does not take from the provider: for mistral/ it drops
# stream_options, so an OpenAI-shaped upstream sends no usage chunk; for cohere_chat/
# its v2 stream parser looks for message-end under chunk["event"]/["data"], which the
# wire format does not have. litellm then counts tokens itself (tiktoken).
ESTIMATED_STREAM_USAGE = {MISTRAL, COHERE_CHAT}


@pytest.mark.parametrize("target", CHAT_TARGETS, ids=target_id)
async def test_chat_echoes_with_usage(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("chat")
    response = await litellm.acompletion(**completion_kwargs(target, servers, name))

    assert response.choices[0].message.content == ECHO
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == PROMPT_TOKENS
    assert response.usage.completion_tokens == COMPLETION_TOKENS
    assert response.usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS
    (request,) = servers[target.family].requests_for_model(target.wire_model(name))
    assert request.method == "POST"
    assert request.key == GOOD_KEY


@pytest.mark.parametrize("target", CHAT_TARGETS, ids=target_id)
async def test_stream_echoes_with_usage(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("stream")
    kwargs = completion_kwargs(
        target, servers, name, stream=True, stream_options={"include_usage": True}
    )
    text, usage, _ = await collect(await litellm.acompletion(**kwargs))

    assert text == ECHO
    assert usage is not None
    assert usage.completion_tokens == COMPLETION_TOKENS
    if target in ESTIMATED_STREAM_USAGE:
        assert usage.prompt_tokens != PROMPT_TOKENS  # litellm's own count, not the fake's
    else:
        assert usage.prompt_tokens == PROMPT_TOKENS
    (request,) = servers[target.family].requests_for_model(target.wire_model(name))
    # Gemini says "stream" in the method name; everyone else in the body.
    assert request.body.get("stream") is True or request.path.endswith(":streamGenerateContent")


@pytest.mark.parametrize("target", CHAT_TARGETS, ids=target_id)
async def test_include_usage_reaches_the_provider(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    """What litellm forwards of ``stream_options``: only OpenAI-style providers get it."""
    name = unique_model("options")
    kwargs = completion_kwargs(
        target, servers, name, stream=True, stream_options={"include_usage": True}
    )
    await collect(await litellm.acompletion(**kwargs))

    (request,) = servers[target.family].requests_for_model(target.wire_model(name))
    forwarded = request.body.get("stream_options")
    if (target.family == "openai" and target is not MISTRAL) or target is OPENROUTER:
        assert forwarded == {"include_usage": True}
    else:
        assert forwarded is None


async def test_openrouter_cost_arrives_in_usage(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("cost")
    response = await litellm.acompletion(**completion_kwargs(OPENROUTER, servers, name))
    stream_kwargs = completion_kwargs(
        OPENROUTER, servers, name, stream=True, stream_options={"include_usage": True}
    )
    _, streamed, _ = await collect(await litellm.acompletion(**stream_kwargs))

    expected = openrouter_cost(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert response.usage.cost == pytest.approx(expected)
    assert streamed.cost == pytest.approx(expected)
    sent = servers["openrouter"].requests_for_model(OPENROUTER.wire_model(name))
    assert [request.body["usage"] for request in sent] == [{"include": True}] * 2
    assert {request.header("x-title") for request in sent} == {"liteLLM"}


async def test_anthropic_gets_its_headers_and_required_fields(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("claude")
    await litellm.acompletion(**completion_kwargs(ANTHROPIC, servers, name))

    (request,) = servers["anthropic"].requests_for_model(name)
    assert request.path == "/v1/messages"
    assert request.header("x-api-key") == GOOD_KEY
    assert request.header("anthropic-version") == "2023-06-01"
    assert request.header("authorization") is None
    assert isinstance(request.body["max_tokens"], int)
    assert request.body["system"] == [{"type": "text", "text": "be brief"}]


async def test_gemini_paths_and_key_header(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("gemini")
    await litellm.acompletion(**completion_kwargs(GEMINI, servers, name))
    stream_kwargs = completion_kwargs(GEMINI, servers, name, stream=True)
    await collect(await litellm.acompletion(**stream_kwargs))

    plain, streamed = servers["gemini"].requests_for_model(name)
    assert (plain.path, plain.query) == (f"/v1beta/models/{name}:generateContent", "")
    assert (streamed.path, streamed.query) == (
        f"/v1beta/models/{name}:streamGenerateContent",
        "alt=sse",
    )
    assert plain.header("x-goog-api-key") == GOOD_KEY


async def test_cohere_chat_posts_to_the_api_base_as_given(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("command")
    await litellm.acompletion(**completion_kwargs(COHERE_CHAT, servers, name))

    (request,) = servers["cohere"].requests_for_model(name)
    assert request.path == "/v2/chat"
    assert request.header("authorization") == f"Bearer {GOOD_KEY}"
    # litellm asks for JSON, so Cohere streams newline-delimited JSON, not SSE.
    assert request.header("accept") == "application/json"
    assert request.body["messages"][-1] == {"role": "user", "content": ECHO}
