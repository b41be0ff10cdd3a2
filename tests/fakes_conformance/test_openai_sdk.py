"""The official openai SDK straight against the openai and openrouter fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes.providers import ModelBehaviour, openrouter_cost
from tests.fakes.providers.wire import vector
from tests.fakes_conformance.support import (
    COMPLETION_TOKENS,
    ECHO,
    GOOD_KEY,
    PROMPT_TOKENS,
    Servers,
)

pytestmark = pytest.mark.anyio

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": ECHO},
]


@pytest.fixture
async def client(servers: Servers) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        api_key=GOOD_KEY, base_url=servers["openai"].base_url, max_retries=0
    ) as sdk:
        yield sdk


async def test_chat(client: openai.AsyncOpenAI, unique_model: Callable[[str], str]) -> None:
    response = await client.chat.completions.create(model=unique_model("sdk"), messages=MESSAGES)

    assert response.choices[0].message.content == ECHO
    assert response.usage is not None
    assert response.usage.prompt_tokens == PROMPT_TOKENS
    assert response.usage.completion_tokens == COMPLETION_TOKENS
    details = response.usage.prompt_tokens_details
    assert details is not None
    assert details.cached_tokens == 0
    completion_details = response.usage.completion_tokens_details
    assert completion_details is not None
    assert completion_details.reasoning_tokens == 0


async def test_stream_with_usage_chunk(
    client: openai.AsyncOpenAI, unique_model: Callable[[str], str]
) -> None:
    stream = await client.chat.completions.create(
        model=unique_model("sdk-stream"),
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ECHO
    *body, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS
    assert all(chunk.usage is None for chunk in body)
    assert body[-1].choices[0].finish_reason == "stop"


async def test_stream_without_include_usage_has_no_usage_chunk(
    client: openai.AsyncOpenAI, unique_model: Callable[[str], str]
) -> None:
    stream = await client.chat.completions.create(
        model=unique_model("sdk-plain"), messages=MESSAGES, stream=True
    )
    chunks = [chunk async for chunk in stream]

    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


async def test_embeddings_default_to_base64_and_decode(
    client: openai.AsyncOpenAI, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    """The SDK asks for base64 unless told otherwise, and decodes it to floats."""
    name = unique_model("sdk-embed")
    response = await client.embeddings.create(model=name, input=["alpha", "beta"])

    assert [row.embedding for row in response.data] == [
        pytest.approx(vector(text), abs=1e-6) for text in ("alpha", "beta")
    ]
    (request,) = servers["openai"].requests_for_model(name)
    assert request.body["encoding_format"] == "base64"


async def test_scripted_errors_reach_the_sdk(
    client: openai.AsyncOpenAI, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("sdk-429")
    servers["openai"].script_model(name, ModelBehaviour.rate_limited("4"))

    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model=name, messages=MESSAGES)

    assert caught.value.response.headers["retry-after"] == "4"
    assert caught.value.code == "rate_limit_exceeded"


async def test_openrouter_with_the_openai_sdk(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    async with openai.AsyncOpenAI(
        api_key=GOOD_KEY, base_url=servers["openrouter"].origin + "/api/v1", max_retries=0
    ) as sdk:
        response = await sdk.chat.completions.create(
            model=f"fake/{unique_model('or')}", messages=MESSAGES
        )

    assert response.choices[0].message.content == ECHO
    assert response.usage is not None
    usage = response.usage.model_dump()
    assert usage["cost"] == pytest.approx(openrouter_cost(PROMPT_TOKENS, COMPLETION_TOKENS))
