"""Every family's answers, in every dialect, validate against the published schemas.

Chat Completions (JSON and every chunk) against OpenAI's OpenAPI document for every
provider family, including those LiteLLM translates (anthropic, gemini, cohere) and the
mock; the Responses API (object and stream events) against OpenAI's; the Messages API
(message and stream events) against Anthropic's types. The upstream is each fake's
default answer (an echo of the prompt, with usage).

/v1/responses and /v1/messages run once the server routes them: until then their
cases skip, saying so (a GET of a POST-only route answers 405, of no route 404).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conformance.cases import TOOLS
from tests.conformance.native_cases import (
    ANTHROPIC_TOOL,
    ARGUMENTS,
    TOOL_ANSWERS,
    anthropic_events,
    anthropic_message,
    sse_named_event,
)
from tests.conformance.schemas import (
    validate_anthropic,
    validate_anthropic_events,
    validate_openai,
    validate_openai_events,
)
from tests.conformance.support import EVERY_FAMILY, Stack, sse_events, sse_named_events
from tests.fakes.providers import ModelBehaviour
from tollway.providers.families import FAMILIES
from tollway.store.enums import ProviderType

PROMPT = "Say hello to the conformance suite"


@pytest.fixture(autouse=True)
def _echoing(stack: Stack, request: pytest.FixtureRequest) -> None:
    """Each case starts from the fake's default answer for its model."""
    callspec = getattr(request.node, "callspec", None)
    provider_type = callspec.params.get("provider_type") if callspec else None
    if provider_type is not None and not FAMILIES[provider_type].answers_locally:
        stack.fake(provider_type).script_model(stack.upstream(provider_type), ModelBehaviour())


def require_route(stack: Stack, path: str) -> None:
    status = httpx.get(f"{stack.tollway.v1}{path}", timeout=10).status_code
    if status == 404:
        pytest.skip(f"this build does not serve POST /v1{path} yet")
    assert status == 405, status


def prompt_in(text: str) -> None:
    assert PROMPT in text, text


# -- Chat Completions ----------------------------------------------------------------------


@pytest.mark.parametrize("provider_type", EVERY_FAMILY, ids=str)
def test_chat_answer_validates(stack: Stack, provider_type: ProviderType) -> None:
    body = {"model": stack.model(provider_type), "messages": [{"role": "user", "content": PROMPT}]}
    response = stack.post("/chat/completions", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    validate_openai("CreateChatCompletionResponse", answer)
    prompt_in(answer["choices"][0]["message"]["content"])


@pytest.mark.parametrize("include_usage", [True, False], ids=["include_usage", "no_usage"])
@pytest.mark.parametrize("provider_type", EVERY_FAMILY, ids=str)
def test_chat_chunks_validate(
    stack: Stack, provider_type: ProviderType, include_usage: bool
) -> None:
    body: dict[str, Any] = {
        "model": stack.model(provider_type),
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    events, done = sse_events(stack.post("/chat/completions", body))
    assert done
    validate_openai_events("CreateChatCompletionStreamResponse", events)
    prompt_in("".join(c["delta"].get("content") or "" for e in events for c in e["choices"]))
    assert any(e.get("usage") for e in events) is include_usage


# -- Responses API ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider_type", EVERY_FAMILY, ids=str)
def test_response_validates(stack: Stack, provider_type: ProviderType) -> None:
    require_route(stack, "/responses")
    response = stack.post("/responses", {"model": stack.model(provider_type), "input": PROMPT})
    assert response.status_code == 200, response.text
    answer = response.json()
    validate_openai("Response", answer)
    assert answer["status"] == "completed"
    prompt_in(answer["output"][-1]["content"][0]["text"])


@pytest.mark.parametrize("provider_type", EVERY_FAMILY, ids=str)
def test_response_events_validate(stack: Stack, provider_type: ProviderType) -> None:
    require_route(stack, "/responses")
    body = {"model": stack.model(provider_type), "input": PROMPT, "stream": True}
    events, _ = sse_events(stack.post("/responses", body))
    validate_openai_events("ResponseStreamEvent", events)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    validate_openai("Response", events[-1]["response"])


def test_response_errors_validate(stack: Stack) -> None:
    require_route(stack, "/responses")
    body = {"model": Stack.model(ProviderType.MOCK), "input": PROMPT}
    unknown = stack.post("/responses", {**body, "model": "no-such-model"})
    bad_key = stack.post("/responses", body, key="tw-not-a-key")
    missing = stack.post("/responses", {"input": PROMPT})
    assert [unknown.status_code, bad_key.status_code, missing.status_code] == [404, 401, 400]
    for response in (unknown, bad_key, missing):
        validate_openai("ErrorResponse", response.json())


# -- Messages API ----------------------------------------------------------------------------


def messages_post(stack: Stack, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"x-api-key": key or stack.key, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{stack.tollway.v1}/messages", json=body, headers=headers, timeout=30)


def messages_body(provider_type: ProviderType, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": PROMPT}]
    return {"model": Stack.model(provider_type), "max_tokens": 256, "messages": messages, **extra}


@pytest.mark.parametrize("provider_type", EVERY_FAMILY, ids=str)
def test_message_validates(stack: Stack, provider_type: ProviderType) -> None:
    require_route(stack, "/messages")
    response = messages_post(stack, messages_body(provider_type))
    assert response.status_code == 200, response.text
    answer = response.json()
    validate_anthropic("Message", answer)
    prompt_in("".join(block.get("text", "") for block in answer["content"]))


@pytest.mark.parametrize("provider_type", EVERY_FAMILY, ids=str)
def test_message_events_validate(stack: Stack, provider_type: ProviderType) -> None:
    require_route(stack, "/messages")
    response = messages_post(stack, messages_body(provider_type, stream=True))
    named, _ = sse_named_events(response)
    # The SDKs dispatch on the SSE event name, which must be the data's type.
    assert [name for name, _ in named] == [data.get("type") for _, data in named]
    # Anthropic's streams carry keep-alive pings, which no message type describes.
    assert all(data == {"type": "ping"} for name, data in named if name == "ping")
    events = [data for name, data in named if name != "ping"]
    validate_anthropic_events("RawMessageStreamEvent", events)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "message_delta" in kinds
    validate_anthropic(
        "Message", {**events[0]["message"], "stop_reason": None, "stop_sequence": None}
    )


def test_message_errors_validate(stack: Stack) -> None:
    require_route(stack, "/messages")
    unknown = messages_post(stack, {**messages_body(ProviderType.MOCK), "model": "no-such-model"})
    bad_key = messages_post(stack, messages_body(ProviderType.MOCK), key="tw-not-a-key")
    missing = messages_post(stack, {"model": Stack.model(ProviderType.MOCK)})
    assert [unknown.status_code, bad_key.status_code, missing.status_code] == [404, 401, 400]
    for response in (unknown, bad_key, missing):
        validate_anthropic("ErrorResponse", response.json())


# -- tool calls through the families LiteLLM translates ------------------------------------


@pytest.mark.parametrize("provider_type", list(TOOL_ANSWERS), ids=str)
def test_translated_tool_call_validates(stack: Stack, provider_type: ProviderType) -> None:
    body, _ = TOOL_ANSWERS[provider_type]
    stack.fake(provider_type).script_model(
        stack.upstream(provider_type), ModelBehaviour.canned(body=body)
    )
    request = {
        "model": stack.model(provider_type),
        "messages": [{"role": "user", "content": PROMPT}],
        "tools": TOOLS,
    }
    response = stack.post("/chat/completions", request)
    assert response.status_code == 200, response.text
    answer = response.json()
    [call] = answer["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == ARGUMENTS
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    validate_openai("CreateChatCompletionResponse", answer)


@pytest.mark.parametrize(
    "provider_type", [t for t, (_, events) in TOOL_ANSWERS.items() if events], ids=str
)
def test_translated_tool_call_chunks_validate(stack: Stack, provider_type: ProviderType) -> None:
    _, events = TOOL_ANSWERS[provider_type]
    canned = ModelBehaviour.canned(chunks=events, done=False)
    stack.fake(provider_type).script_model(stack.upstream(provider_type), canned)
    request = {
        "model": stack.model(provider_type),
        "messages": [{"role": "user", "content": PROMPT}],
        "tools": TOOLS,
        "stream": True,
    }
    chunks, done = sse_events(stack.post("/chat/completions", request))
    assert done
    fragments = [
        f
        for c in chunks
        for choice in c["choices"]
        for f in choice["delta"].get("tool_calls") or []
    ]
    assert (
        "".join(f["function"].get("arguments") or "" for f in fragments).replace(" ", "")
        == '{"city":"Oslo"}'
    )
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    validate_openai_events("CreateChatCompletionStreamResponse", chunks)


# -- Messages to Anthropic: passed through natively ----------------------------------------


def message_identity_free(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("id", "model")}


def test_anthropic_message_arrives_as_sent(stack: Stack) -> None:
    require_route(stack, "/messages")
    canned = anthropic_message()
    anthropic = ProviderType.ANTHROPIC
    stack.fake(anthropic).script_model(
        stack.upstream(anthropic), ModelBehaviour.canned(body=canned)
    )
    response = messages_post(stack, messages_body(anthropic, tools=[ANTHROPIC_TOOL]))
    assert response.status_code == 200, response.text
    assert message_identity_free(response.json()) == message_identity_free(canned)
    validate_anthropic("Message", response.json())


def test_anthropic_message_stream_arrives_as_sent(stack: Stack) -> None:
    require_route(stack, "/messages")
    anthropic = ProviderType.ANTHROPIC
    events = anthropic_events()
    canned = ModelBehaviour.canned(chunks=events, done=False)
    stack.fake(anthropic).script_model(stack.upstream(anthropic), canned)
    body = messages_body(anthropic, tools=[ANTHROPIC_TOOL], stream=True)
    named, _ = sse_named_events(messages_post(stack, body))
    received = [(name, data) for name, data in named if name != "ping"]
    sent = [sse_named_event(raw) for raw in events]
    start, sent_start = received[0][1], sent[0][1]
    assert message_identity_free(start["message"]) == message_identity_free(sent_start["message"])
    assert received[1:] == sent[1:]
    validate_anthropic_events("RawMessageStreamEvent", [data for _, data in received])
