"""/v1/completions, /v1/embeddings, /v1/models and error bodies against the upstream and
OpenAI's published schema.

Legacy completions are compared with the upstream where the family has a native
completions API (openai, openai_compatible; LiteLLM emulates it through chat for the
others, which are checked against the schema only). Embeddings keep the client's
``dimensions``. Errors tollway answers itself and errors it relays are OpenAI-shaped.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conformance.cases import CREATED, USAGE
from tests.conformance.schemas import validate_openai, validate_openai_completion_chunk
from tests.conformance.support import (
    EMBEDDING_TYPES,
    EVERY_FAMILY,
    OPENAI_WIRE,
    Stack,
    sse_events,
    without_identity,
)
from tests.fakes.providers import ModelBehaviour
from tollway.providers.families import FAMILIES
from tollway.store.enums import ProviderType

NATIVE_COMPLETIONS = [ProviderType.OPENAI, ProviderType.OPENAI_COMPATIBLE]
COMPLETION = "CreateCompletionResponse"


def completion_chunk(text: str, finish: str | None, **extra: Any) -> dict[str, Any]:
    choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
    return {
        "id": "cmpl-upstream",
        "object": "text_completion",
        "created": CREATED,
        "model": "upstream-model",
        "system_fingerprint": "fp_upstream",
        "choices": [choice],
        **extra,
    }


COMPLETION_BODY = completion_chunk("Hello there.", "stop", usage=USAGE)
# As OpenAI streams a completion: the last text chunk carries an empty string, not null.
COMPLETION_CHUNKS = [
    completion_chunk("Hello", None),
    completion_chunk(" there.", None),
    completion_chunk("", "length"),
    {**completion_chunk("", None), "choices": [], "usage": USAGE},
]


def test_the_cases_themselves_are_valid() -> None:
    validate_openai(COMPLETION, COMPLETION_BODY)
    for chunk in COMPLETION_CHUNKS[:-1]:
        validate_openai_completion_chunk(chunk)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider_type", NATIVE_COMPLETIONS, ids=str)
def test_completion_arrives_as_sent(
    stack: Stack, provider_type: ProviderType, stream: bool
) -> None:
    canned = ModelBehaviour.canned(body=COMPLETION_BODY, chunks=COMPLETION_CHUNKS)
    stack.fake(provider_type).script_model(stack.upstream(provider_type, "text"), canned)
    body: dict[str, Any] = {"model": stack.model(provider_type, "text"), "prompt": "Say hello"}
    if not stream:
        answer = stack.post("/completions", body)
        assert answer.status_code == 200, answer.text
        assert without_identity(answer.json()) == without_identity(COMPLETION_BODY)
        validate_openai(COMPLETION, answer.json())
        return
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    events, done = sse_events(stack.post("/completions", body))
    assert done
    assert [without_identity(e) for e in events] == [without_identity(c) for c in COMPLETION_CHUNKS]
    for event in events[:-1]:  # the usage-only chunk has no choices, which the schema requires
        validate_openai_completion_chunk(event)


COMPLETION_REQUEST = {
    "prompt": ["Say hello", "Say bye"],
    "max_tokens": 16,
    "echo": True,
    "logprobs": 2,
    "suffix": ".",
    "best_of": 2,
    "n": 2,
    "seed": 3,
    "stop": ["\n"],
    "user": "agent-7",
    "logit_bias": {"50256": -100},
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider_type", NATIVE_COMPLETIONS, ids=str)
def test_completion_request_arrives_as_sent(
    stack: Stack, provider_type: ProviderType, stream: bool
) -> None:
    canned = ModelBehaviour.canned(body=COMPLETION_BODY, chunks=COMPLETION_CHUNKS)
    stack.fake(provider_type).script_model(stack.upstream(provider_type, "text"), canned)
    body: dict[str, Any] = {"model": stack.model(provider_type, "text"), **COMPLETION_REQUEST}
    if stream:
        body["stream"] = True
    assert stack.post("/completions", body).status_code == 200
    expected = {**body, "model": stack.upstream(provider_type, "text")}
    if stream:  # the usage chunk tollway meters the stream with
        expected["stream_options"] = {"include_usage": True}
    assert stack.last_upstream_body(provider_type, "text") == expected


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider_type", EVERY_FAMILY, ids=str)
def test_completion_validates(stack: Stack, provider_type: ProviderType, stream: bool) -> None:
    if not FAMILIES[provider_type].answers_locally:
        stack.fake(provider_type).script_model(
            stack.upstream(provider_type, "text"), ModelBehaviour()
        )
    body: dict[str, Any] = {"model": stack.model(provider_type, "text"), "prompt": "Say hello"}
    if not stream:
        answer = stack.post("/completions", body)
        assert answer.status_code == 200, answer.text
        validate_openai(COMPLETION, answer.json())
        return
    events, done = sse_events(stack.post("/completions", {**body, "stream": True}))
    assert done
    assert events
    for event in events:
        if event.get("choices"):  # the usage-only chunk, validated as usage below
            validate_openai_completion_chunk(event)
        else:
            validate_openai("CompletionUsage", event["usage"])


# -- embeddings ------------------------------------------------------------------------------


def embedding_body(dimensions: int) -> dict[str, Any]:
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": [0.5 - 0.125 * j for j in range(dimensions)],
        }
        for i in range(2)
    ]
    usage = {"prompt_tokens": 2, "total_tokens": 2}
    return {"object": "list", "data": data, "model": "upstream-embedder", "usage": usage}


@pytest.mark.parametrize("provider_type", EMBEDDING_TYPES, ids=str)
def test_embeddings_arrive_as_sent(stack: Stack, provider_type: ProviderType) -> None:
    canned = embedding_body(4)
    stack.fake(provider_type).script_model(
        stack.upstream(provider_type, "embed"), ModelBehaviour.canned(body=canned)
    )
    body = {"model": stack.model(provider_type, "embed"), "input": ["one", "two"], "dimensions": 4}
    answer = stack.post("/embeddings", body)
    assert answer.status_code == 200, answer.text
    assert stack.last_upstream_body(provider_type, "embed") == {
        **body,
        "model": stack.upstream(provider_type, "embed"),
    }
    assert without_identity(answer.json()) == without_identity(canned)
    validate_openai("CreateEmbeddingResponse", answer.json())


# -- models and errors -----------------------------------------------------------------------


def test_models_validate(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.key}"}
    listed = httpx.get(f"{stack.tollway.v1}/models", headers=headers, timeout=10)
    assert listed.status_code == 200, listed.text
    validate_openai("ListModelsResponse", listed.json())
    names = [model["id"] for model in listed.json()["data"]]
    assert stack.model(ProviderType.OPENAI) in names
    one = httpx.get(f"{stack.tollway.v1}/models/{names[0]}", headers=headers, timeout=10)
    assert one.status_code == 200, one.text
    validate_openai("Model", one.json())


def error_answers(stack: Stack) -> dict[str, httpx.Response]:
    chat = {
        "model": stack.model(ProviderType.OPENAI),
        "messages": [{"role": "user", "content": "x"}],
    }
    v1 = stack.tollway.v1
    return {
        "bad key": stack.post("/chat/completions", chat, key="tw-not-a-key"),
        "no key": httpx.post(f"{v1}/chat/completions", json=chat, timeout=10),
        "unknown model": stack.post("/chat/completions", {**chat, "model": "no-such-model"}),
        "invalid body": stack.post("/chat/completions", {**chat, "temperature": 9}),
        "missing messages": stack.post("/chat/completions", {"model": chat["model"]}),
        "not json": httpx.post(
            f"{v1}/chat/completions",
            content=b"{",
            headers={"Authorization": f"Bearer {stack.key}", "Content-Type": "application/json"},
            timeout=10,
        ),
        "unknown route": httpx.get(f"{v1}/no-such-route", timeout=10),
        "wrong method": httpx.get(f"{v1}/chat/completions", timeout=10),
        "unknown model id": httpx.get(
            f"{v1}/models/no-such-model",
            headers={"Authorization": f"Bearer {stack.key}"},
            timeout=10,
        ),
    }


def test_tollways_own_errors_validate(stack: Stack) -> None:
    answers = error_answers(stack)
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "bad key": 401,
        "no key": 401,
        "unknown model": 404,
        "invalid body": 400,
        "missing messages": 400,
        "not json": 400,
        "unknown route": 404,
        "wrong method": 405,
        "unknown model id": 404,
    }
    for response in answers.values():
        validate_openai("ErrorResponse", response.json())


# 429 and 5xx are not relayed but fall back (to the OpenRouter provider the stack has).
@pytest.mark.parametrize("status", [400, 404, 422])
@pytest.mark.parametrize("provider_type", OPENAI_WIRE, ids=str)
def test_relayed_upstream_errors_validate(
    stack: Stack, provider_type: ProviderType, status: int
) -> None:
    stack.fake(provider_type).script_model(
        stack.upstream(provider_type), ModelBehaviour(status=status)
    )
    chat = {"model": stack.model(provider_type), "messages": [{"role": "user", "content": "x"}]}
    for body in (chat, {**chat, "stream": True}):
        response = stack.post("/chat/completions", body)
        assert response.status_code >= 400, response.text
        validate_openai("ErrorResponse", response.json())
