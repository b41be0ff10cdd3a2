"""litellm.aembedding and litellm.atext_completion against the fakes.

Wire paths litellm 1.109.1 used:
  openai/      POST /v1/embeddings (no encoding_format unless asked; then passed through)
               POST /v1/completions for atext_completion, JSON and SSE
  openrouter/  POST /api/v1/embeddings
  gemini/      POST /v1beta/models/{m}:batchEmbedContents, even for one input
  cohere/      POST {api_base} as given (default https://api.cohere.ai/v2/embed), body
               {"texts", "input_type": "search_document"}; "embedding_types" only
               when encoding_format is set
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

import litellm
import pytest

from tests.fakes.providers.wire import vector
from tests.fakes_conformance.support import (
    COHERE_EMBED,
    GEMINI,
    GOOD_KEY,
    OPENAI,
    OPENROUTER,
    Servers,
    Target,
    target_id,
)

pytestmark = pytest.mark.anyio

TEXTS = ["first text here", "second one"]
EMBED_TARGETS = [OPENAI, OPENROUTER, GEMINI, COHERE_EMBED]


def embedding_kwargs(target: Target, servers: Servers, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": target.model(name),
        "api_key": GOOD_KEY,
        "api_base": target.api_base(servers, "embed"),
        "input": TEXTS,
        "num_retries": 0,
        "max_retries": 0,
        "timeout": 10,
        **extra,
    }


@pytest.mark.parametrize("target", EMBED_TARGETS, ids=target_id)
async def test_embeddings_come_back_in_order(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("embed")
    response = await litellm.aembedding(**embedding_kwargs(target, servers, name))

    vectors = [row["embedding"] for row in response.data]
    assert vectors == [pytest.approx(vector(text)) for text in TEXTS]
    assert [row["index"] for row in response.data] == [0, 1]
    if target is GEMINI:
        assert response.usage.prompt_tokens > 0  # Gemini sends no usage; litellm counts
    else:
        assert response.usage.prompt_tokens == 5  # the fakes count words
    (request,) = servers[target.family].requests_for_model(target.wire_model(name))
    assert request.method == "POST"


async def test_gemini_embeddings_use_batch_embed_contents(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("gemini-embed")
    await litellm.aembedding(**embedding_kwargs(GEMINI, servers, name, input="only one"))

    (request,) = servers["gemini"].requests_for_model(name)
    assert request.path == f"/v1beta/models/{name}:batchEmbedContents"
    assert request.body["requests"][0]["model"] == f"models/{name}"


async def test_cohere_embed_asks_for_types_only_with_encoding_format(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("cohere-embed")
    await litellm.aembedding(**embedding_kwargs(COHERE_EMBED, servers, name))
    await litellm.aembedding(
        **embedding_kwargs(COHERE_EMBED, servers, name, encoding_format="float")
    )

    plain, typed = servers["cohere"].requests_for_model(name)
    assert plain.path == typed.path == "/v2/embed"
    assert plain.body == {"model": name, "texts": TEXTS, "input_type": "search_document"}
    assert typed.body["embedding_types"] == ["float"]


async def test_openai_base64_embeddings_pass_through(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("b64")
    kwargs = embedding_kwargs(OPENAI, servers, name, encoding_format="base64")
    response = await litellm.aembedding(**kwargs)

    (request,) = servers["openai"].requests_for_model(name)
    assert request.body["encoding_format"] == "base64"
    encoded = response.data[0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    assert list(decoded) == pytest.approx(vector(TEXTS[0]), abs=1e-6)


async def test_text_completion(servers: Servers, unique_model: Callable[[str], str]) -> None:
    name = unique_model("instruct")
    response = await litellm.atext_completion(
        model=OPENAI.model(name),
        api_key=GOOD_KEY,
        api_base=OPENAI.api_base(servers),
        prompt="say these words",
        num_retries=0,
        max_retries=0,
    )

    assert response.choices[0].text == "say these words"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 3)
    (request,) = servers["openai"].requests_for_model(name)
    assert request.path == "/v1/completions"


async def test_text_completion_stream(servers: Servers, unique_model: Callable[[str], str]) -> None:
    name = unique_model("instruct-stream")
    stream = await litellm.atext_completion(
        model=OPENAI.model(name),
        api_key=GOOD_KEY,
        api_base=OPENAI.api_base(servers),
        prompt="say these words",
        stream=True,
        num_retries=0,
        max_retries=0,
    )
    pieces = [chunk.choices[0].text or "" async for chunk in stream if chunk.choices]

    assert "".join(pieces) == "say these words"
    (request,) = servers["openai"].requests_for_model(name)
    assert (request.path, request.body["stream"]) == ("/v1/completions", True)
