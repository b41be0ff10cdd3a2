"""Chat Completions delivered as sent, for every family that speaks OpenAI's wire format.

For each scripted upstream answer (``cases.CHAT_CASES``), JSON and streamed (with and
without ``include_usage``), the answer a client receives through a live tollway equals
what the fake upstream sent, apart from ``id``, ``model`` and ``created``, and validates
against OpenAI's published schema. For each request (``REQUESTS``), the upstream
receives what the client sent, apart from the model name (and, for a stream, the usage
chunk tollway asks for to meter it).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conformance.cases import CHAT_CASES, TOOLS, Case, text_case
from tests.conformance.schemas import validate_openai, validate_openai_events
from tests.conformance.support import OPENAI_WIRE, Stack, sse_events, without_identity
from tests.fakes.providers import ModelBehaviour
from tollway.store.enums import ProviderType

CHUNK = "CreateChatCompletionStreamResponse"
ANSWER = "CreateChatCompletionResponse"
PROMPT = [{"role": "user", "content": "What is the weather in Oslo?"}]


def by_name(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.name) for case in cases]


def expected_chunks(case: Case, include_usage: bool) -> list[dict[str, Any]]:
    """What a client that did (not) ask for usage gets of the upstream's stream: the
    same chunks, without the usage tollway asked for on its behalf."""
    if include_usage:
        return [without_identity(c) for c in case.chunks]
    return [
        without_identity({k: v for k, v in c.items() if k != "usage"})
        for c in case.chunks
        if c["choices"] or c.get("usage") is None
    ]


def test_the_cases_themselves_are_valid() -> None:
    """A violation seen through tollway must not be the script's own."""
    for case in CHAT_CASES:
        validate_openai(ANSWER, case.body)
        for chunk in case.chunks:
            validate_openai(CHUNK, chunk)


@pytest.mark.parametrize("case", by_name(CHAT_CASES))
@pytest.mark.parametrize("provider_type", OPENAI_WIRE, ids=str)
def test_json_answer_arrives_as_sent(stack: Stack, provider_type: ProviderType, case: Case) -> None:
    stack.fake(provider_type).script_model(
        stack.upstream(provider_type), ModelBehaviour.canned(body=case.body)
    )
    request = {
        "model": stack.model(provider_type),
        "messages": PROMPT,
        **copy.deepcopy(case.request),
    }
    response = stack.post("/chat/completions", request)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert without_identity(answer) == without_identity(case.body)
    validate_openai(ANSWER, answer)


@pytest.mark.parametrize("include_usage", [True, False], ids=["include_usage", "no_usage"])
@pytest.mark.parametrize("case", by_name(CHAT_CASES))
@pytest.mark.parametrize("provider_type", OPENAI_WIRE, ids=str)
def test_stream_arrives_as_sent(
    stack: Stack, provider_type: ProviderType, case: Case, include_usage: bool
) -> None:
    stack.fake(provider_type).script_model(
        stack.upstream(provider_type), ModelBehaviour.canned(chunks=case.chunks)
    )
    request = {
        "model": stack.model(provider_type),
        "messages": PROMPT,
        "stream": True,
        **copy.deepcopy(case.request),
    }
    if include_usage:
        request["stream_options"] = {"include_usage": True}
    events, done = sse_events(stack.post("/chat/completions", request))
    assert done, "the stream did not end with [DONE]"
    assert [without_identity(e) for e in events] == expected_chunks(case, include_usage)
    validate_openai_events(CHUNK, events)


# -- requests ------------------------------------------------------------------------------

SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "weather",
        "strict": True,
        "schema": {"type": "object", "properties": {"t": {"type": "number"}}, "required": ["t"]},
    },
}
REQUESTS: dict[str, dict[str, Any]] = {
    "sampling": {
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["\n\n"],
        "max_completion_tokens": 64,
    },
    "penalties": {
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "logit_bias": {"50256": -100},
    },
    "metadata": {"metadata": {"agent": "planner", "run": "42"}, "store": False},
    "verbosity": {"verbosity": "low"},
    "reasoning_effort": {"reasoning_effort": "minimal"},
    "developer_message": {"messages": [{"role": "developer", "content": "Be brief."}, *PROMPT]},
    "logprobs": {"logprobs": True, "top_logprobs": 3},
    "n": {"n": 2},
    "tools": {"tools": TOOLS, "tool_choice": "required", "parallel_tool_calls": False},
    "response_format": {"response_format": SCHEMA_FORMAT},
    "user_and_tier": {"user": "agent-7", "service_tier": "auto", "safety_identifier": "u-1"},
    "unknown_field": {"x_vendor_option": {"beam": 2}},
}
# What a family's upstream may receive beyond the client's body, by design.
ADDED_UPSTREAM: dict[ProviderType, dict[str, Any]] = {
    # OpenRouter reports the call's cost only when asked; LiteLLM always asks.
    ProviderType.OPENROUTER: {"usage": {"include": True}},
}


def sent_upstream(client_body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
    expected = {**copy.deepcopy(client_body), "model": upstream_model}
    if stream:  # tollway meters streams from the usage chunk it asks for
        expected["stream_options"] = {
            **client_body.get("stream_options", {}),
            "include_usage": True,
        }
    return expected


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("extra", list(REQUESTS.values()), ids=list(REQUESTS))
@pytest.mark.parametrize("provider_type", OPENAI_WIRE, ids=str)
def test_request_arrives_as_sent(
    stack: Stack, provider_type: ProviderType, extra: dict[str, Any], stream: bool
) -> None:
    answer = text_case("request", "stop")
    behaviour = ModelBehaviour.canned(body=answer.body, chunks=answer.chunks)
    stack.fake(provider_type).script_model(stack.upstream(provider_type), behaviour)
    body = {"model": stack.model(provider_type), "messages": PROMPT, **copy.deepcopy(extra)}
    if stream:
        body["stream"] = True
    response = stack.post("/chat/completions", body)
    assert response.status_code == 200, response.text
    received = stack.last_upstream_body(provider_type)
    expected = sent_upstream(body, stack.upstream(provider_type), stream)
    for key, value in ADDED_UPSTREAM.get(provider_type, {}).items():
        if received.get(key) == value and key not in body:
            expected[key] = value
    assert received == expected
