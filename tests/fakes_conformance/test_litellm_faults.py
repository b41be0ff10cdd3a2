"""Timing and stream faults through litellm: cut streams, slow bytes, missing usage.

What litellm 1.109.1 makes of them:
- reset_after(N) on a stream: the N text chunks arrive, then MidStreamFallbackError
  (a ServiceUnavailableError) with is_pre_first_chunk False. Without a stream the
  reset is InternalServerError, or APIConnectionError for openrouter/ and gemini/.
- no_usage without a stream: openai/ and openrouter/ report zero usage, groq/
  returns a response with no ``usage`` attribute at all, anthropic/ and
  cohere_chat/ raise APIConnectionError, gemini/ BadRequestError (422). With a
  stream, litellm counts tokens itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import litellm
import pytest
from litellm.exceptions import (
    APIConnectionError,
    BadRequestError,
    InternalServerError,
    MidStreamFallbackError,
    Timeout,
)

from tests.fakes.providers import ModelBehaviour
from tests.fakes_conformance.support import (
    ANTHROPIC,
    COHERE_CHAT,
    COMPLETION_TOKENS,
    ECHO,
    FAMILY_TARGETS,
    GEMINI,
    GROQ,
    OPENAI,
    OPENROUTER,
    PROMPT_TOKENS,
    Servers,
    Target,
    collect,
    completion_kwargs,
    failure,
    target_id,
)

pytestmark = pytest.mark.anyio

TARGETS = (*FAMILY_TARGETS, GROQ)


def scripted(
    target: Target, servers: Servers, name: str, behaviour: ModelBehaviour
) -> Callable[..., dict[str, object]]:
    servers[target.family].script_model(target.wire_model(name), behaviour)

    def kwargs(**extra: object) -> dict[str, object]:
        return completion_kwargs(target, servers, name, **extra)

    return kwargs


@pytest.mark.parametrize("target", TARGETS, ids=target_id)
async def test_reset_mid_stream_after_the_scripted_chunks(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    kwargs = scripted(target, servers, unique_model("cut"), ModelBehaviour.reset_after(chunks=2))
    received: list[str] = []

    async def consume() -> None:
        async for chunk in await litellm.acompletion(**kwargs(stream=True)):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    with pytest.raises(MidStreamFallbackError) as caught:
        await consume()

    assert received == ["hello ", "there "]
    assert caught.value.is_pre_first_chunk is False


@pytest.mark.parametrize("target", TARGETS, ids=target_id)
async def test_reset_before_a_json_answer(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    kwargs = scripted(target, servers, unique_model("rst"), ModelBehaviour.reset_after(chunks=0))

    exc = await failure(**kwargs())

    connection_level = target in (OPENROUTER, GEMINI)
    expected = APIConnectionError if connection_level else InternalServerError
    assert type(exc) is expected


@pytest.mark.parametrize("target", FAMILY_TARGETS, ids=target_id)
async def test_slow_first_byte_delays_the_answer(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    kwargs = scripted(target, servers, unique_model("late"), ModelBehaviour.slow_first_byte(0.3))

    started = time.monotonic()
    response = await litellm.acompletion(**kwargs())

    assert time.monotonic() - started >= 0.3
    assert response.choices[0].message.content == ECHO


@pytest.mark.parametrize("target", FAMILY_TARGETS, ids=target_id)
async def test_slow_chunks_space_out_the_stream(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    kwargs = scripted(target, servers, unique_model("drip"), ModelBehaviour.slow_chunks(0.08))

    started = time.monotonic()
    text, _, _ = await collect(await litellm.acompletion(**kwargs(stream=True)))

    # Four words, a pause before each and one before the closing events.
    assert time.monotonic() - started >= 5 * 0.08
    assert text == ECHO


async def test_slow_chunks_trip_a_read_timeout(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    """litellm's ``timeout`` also bounds the gap between stream chunks."""
    kwargs = scripted(OPENAI, servers, unique_model("stall"), ModelBehaviour.slow_chunks(2.0))

    exc = await failure(**kwargs(stream=True, timeout=0.3))

    assert isinstance(exc, Timeout | MidStreamFallbackError)


@pytest.mark.parametrize("target", [OPENAI, OPENROUTER], ids=target_id)
async def test_no_usage_reads_as_zero_without_a_stream(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    kwargs = scripted(target, servers, unique_model("nousage"), ModelBehaviour.no_usage())

    response = await litellm.acompletion(**kwargs())

    assert response.choices[0].message.content == ECHO
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (0, 0, 0)


async def test_no_usage_leaves_groq_without_a_usage_attribute(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    kwargs = scripted(GROQ, servers, unique_model("nousage"), ModelBehaviour.no_usage())

    response = await litellm.acompletion(**kwargs())

    assert response.choices[0].message.content == ECHO
    assert not hasattr(response, "usage")  # reading response.usage raises AttributeError


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (ANTHROPIC, APIConnectionError),
        (COHERE_CHAT, APIConnectionError),
        (GEMINI, BadRequestError),
    ],
    ids=["anthropic", "cohere_chat", "gemini"],
)
async def test_no_usage_breaks_other_families_without_a_stream(
    target: Target,
    expected: type[Exception],
    servers: Servers,
    unique_model: Callable[[str], str],
) -> None:
    kwargs = scripted(target, servers, unique_model("nousage"), ModelBehaviour.no_usage())

    assert type(await failure(**kwargs())) is expected


@pytest.mark.parametrize("target", TARGETS, ids=target_id)
async def test_no_usage_in_a_stream_is_estimated_by_litellm(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("nousage")
    kwargs = scripted(target, servers, name, ModelBehaviour.no_usage())

    text, usage, _ = await collect(
        await litellm.acompletion(**kwargs(stream=True, stream_options={"include_usage": True}))
    )

    assert text == ECHO
    assert usage is not None
    assert usage.completion_tokens == COMPLETION_TOKENS  # tiktoken agrees on these words
    assert usage.prompt_tokens != PROMPT_TOKENS  # counted with chat framing, not by the fake
