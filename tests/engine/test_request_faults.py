"""Requests LiteLLM cannot build are the client's 400, never a retryable failure; a
provider's refusal keeps the provider's own message, not LiteLLM's text around it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.engine.conftest import Fakes, chat_body, run, target
from tests.fakes.providers import Family, ModelBehaviour
from tollway.engine.base import Endpoint, EngineCall, UpstreamError
from tollway.engine.embedded import EmbeddedEngine

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.usefixtures("one_event_loop"),
]

IMAGE = {"type": "image_url", "image_url": {"url": "data:xx"}}
LIBRARY_WORDS = ("litellm", "Exception", "Traceback", "object has no attribute", "Received")


@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    return EmbeddedEngine()


def base_of(fakes: Fakes, family: Family) -> str:
    return fakes[family].origin + ("/v1" if family == "openai" else "")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("family", "extra"),
    [
        # LiteLLM raises these while translating the body, before any request is sent.
        ("anthropic", {"tool_choice": {"type": "function", "function": 5}}),  # AttributeError
        ("anthropic", {"response_format": {"type": "json_schema"}}),  # KeyError
        ("anthropic", {"messages": [{"role": "user", "content": [IMAGE]}]}),  # ValueError
        ("gemini", {"messages": [{"role": "user", "content": [IMAGE]}]}),  # Exception
    ],
)
async def test_a_body_litellm_cannot_translate_is_a_client_400(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    family: Family,
    extra: dict[str, Any],
    stream: bool,
) -> None:
    model = unique_model("untranslatable")
    call = EngineCall(
        Endpoint.CHAT,
        chat_body(**extra),
        target(f"{family}/{model}", base_of(fakes, family)),
        stream=stream,
    )
    with pytest.raises(UpstreamError) as caught:
        await run(engine, call)
    error = caught.value
    assert (error.status, error.retryable, error.key_rejected) == (400, False, False)
    assert error.message.startswith("The request could not be translated for the provider")
    assert not any(word in error.message for word in LIBRARY_WORDS)
    assert fakes[family].requests_for_model(model) == []


@pytest.mark.parametrize("status", [400, 404, 422])
@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini", "cohere"])
async def test_a_provider_refusal_keeps_the_providers_message(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    family: Family,
    status: int,
) -> None:
    model = unique_model("refused")
    fakes[family].script_model(model, ModelBehaviour.error(status, "the tool schema is invalid"))
    prefix = {
        "openai": "openai",
        "anthropic": "anthropic",
        "gemini": "gemini",
        "cohere": "cohere_chat",
    }
    call = EngineCall(
        Endpoint.CHAT, chat_body(), target(f"{prefix[family]}/{model}", base_of(fakes, family))
    )
    with pytest.raises(UpstreamError) as caught:
        await run(engine, call)
    error = caught.value
    assert (error.status, error.retryable) == (status, False)
    assert error.message == "the tool schema is invalid"
    assert not any(word in error.message for word in LIBRARY_WORDS)
