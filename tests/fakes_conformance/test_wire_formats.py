"""The fakes' raw wire shapes, checked byte-level with plain httpx.

These pin what the SDK-level tests cannot see: SSE framing, event order, the
stream usage chunk, header negotiation, and the family's refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.providers import BEHAVIOUR_HEADER, Behaviour, Family
from tests.fakes_conformance.support import BAD_KEY, GOOD_KEY, MESSAGES, Servers

CHAT = {"messages": MESSAGES, "stream": True}
BEARER = {"authorization": f"Bearer {GOOD_KEY}"}
ANTHROPIC_HEADERS = {"x-api-key": GOOD_KEY, "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event, data) pairs of an SSE body; comments and blank lines dropped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event"), fields["data"]))
    return events


def data_of(text: str) -> list[Any]:
    return [json.loads(data) for _, data in sse_events(text) if data != "[DONE]"]


def test_openai_stream_framing(http: httpx.Client, servers: Servers) -> None:
    url = servers["openai"].base_url + "/chat/completions"
    body = {**CHAT, "model": "wire-openai", "stream_options": {"include_usage": True}}
    response = http.post(url, json=body, headers=BEARER)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")
    *chunks, usage_chunk = data_of(response.text)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(chunk["usage"] is None for chunk in chunks)
    assert len({chunk["id"] for chunk in [*chunks, usage_chunk]}) == 1
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] == 10


def test_openai_stream_without_include_usage(http: httpx.Client, servers: Servers) -> None:
    url = servers["openai"].base_url + "/chat/completions"
    response = http.post(url, json={**CHAT, "model": "wire-plain"}, headers=BEARER)

    chunks = data_of(response.text)
    assert all("usage" not in chunk and chunk["choices"] for chunk in chunks)


def test_openrouter_streams_keepalive_comments_on_both_prefixes(
    http: httpx.Client, servers: Servers
) -> None:
    for prefix in ("/api/v1", "/v1"):
        url = servers["openrouter"].origin + prefix + "/chat/completions"
        response = http.post(url, json={**CHAT, "model": "fake/wire"}, headers=BEARER)

        assert response.text.startswith(": OPENROUTER PROCESSING\n\n")
        assert "cost" not in data_of(response.text)[-1].get("usage", {})  # not asked for


def test_anthropic_event_sequence(http: httpx.Client, servers: Servers) -> None:
    url = servers["anthropic"].origin + "/v1/messages"
    body = {**CHAT, "model": "wire-claude", "max_tokens": 100}
    response = http.post(url, json=body, headers=ANTHROPIC_HEADERS)

    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(json.loads(data)["type"] == name for name, data in events)
    assert json.loads(events[-2][1])["usage"] == {"output_tokens": 4}


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"x-api-key": GOOD_KEY}, {"max_tokens": 5}, "anthropic-version: header is required"),
        (ANTHROPIC_HEADERS, {}, "max_tokens: Field required"),
    ],
    ids=["no-version", "no-max-tokens"],
)
def test_anthropic_refuses_what_the_real_api_refuses(
    http: httpx.Client,
    servers: Servers,
    headers: dict[str, str],
    body: dict[str, Any],
    message: str,
) -> None:
    url = servers["anthropic"].origin + "/v1/messages"
    response = http.post(url, json={"model": "m", "messages": MESSAGES, **body}, headers=headers)

    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }


def test_gemini_key_in_query_and_crlf_frames(http: httpx.Client, servers: Servers) -> None:
    url = servers["gemini"].origin + "/v1beta/models/wire-gemini:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "one two"}]}]}
    response = http.post(url, params={"alt": "sse", "key": GOOD_KEY}, json=body)

    assert response.status_code == 200
    assert response.text.endswith("\r\n\r\n")
    last = data_of(response.text)[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"]["totalTokenCount"] == 4
    (request,) = servers["gemini"].requests_for_model("wire-gemini")
    assert request.key == GOOD_KEY


def test_gemini_unknown_method_is_not_found(http: httpx.Client, servers: Servers) -> None:
    url = servers["gemini"].origin + "/v1beta/models/wire-gemini:countEverything"
    response = http.post(url, json={}, headers={"x-goog-api-key": GOOD_KEY})

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("accept", "sse"), [("text/event-stream", True), ("application/json", False)]
)
def test_cohere_stream_format_follows_accept(
    http: httpx.Client, servers: Servers, accept: str, sse: bool
) -> None:
    url = servers["cohere"].origin + "/v2/chat"
    headers = {**BEARER, "accept": accept}
    response = http.post(url, json={**CHAT, "model": "wire-command"}, headers=headers)

    if sse:
        events = [json.loads(data) for _, data in sse_events(response.text)]
        assert response.text.startswith("event: message-start\n")
    else:
        events = [json.loads(line) for line in response.text.splitlines()]
    types = [event["type"] for event in events]
    deltas = ["content-delta"] * 4
    assert types == ["message-start", "content-start", *deltas, "content-end", "message-end"]
    assert events[-1]["delta"]["usage"]["tokens"] == {"input_tokens": 6, "output_tokens": 4}


@pytest.mark.parametrize(
    ("family", "status", "path"),
    [
        ("openai", 401, "/v1/chat/completions"),
        ("openrouter", 401, "/api/v1/chat/completions"),
        ("anthropic", 401, "/v1/messages"),
        ("gemini", 400, "/v1beta/models/m:generateContent"),
        ("cohere", 401, "/v2/chat"),
    ],
)
def test_rejected_key_gets_the_family_refusal_on_inference(
    http: httpx.Client, servers: Servers, family: Family, status: int, path: str
) -> None:
    headers = {
        "authorization": f"Bearer {BAD_KEY}",
        "x-api-key": BAD_KEY,
        "x-goog-api-key": BAD_KEY,
        "anthropic-version": "2023-06-01",
    }
    server = servers[family]
    response = http.post(server.origin + path, json={"model": "m"}, headers=headers)

    assert response.status_code == status
    if family == "openai":
        assert response.json()["error"]["code"] == "invalid_api_key"
    assert BAD_KEY not in response.text  # keys are masked, as the providers do


def test_key_script_applies_before_model_script(
    http: httpx.Client, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    key = f"sk-busy-{unique_model('key')}"
    server = servers["openai"]
    server.set_key(key, Behaviour.rate_limited("11"))
    url = server.base_url + "/chat/completions"
    body = {"model": "any", "messages": MESSAGES}
    response = http.post(url, json=body, headers={"authorization": f"Bearer {key}"})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "11"
    assert response.json()["error"]["type"] == "requests"


def test_malformed_behaviour_header_is_a_family_400(http: httpx.Client, servers: Servers) -> None:
    url = servers["anthropic"].origin + "/v1/messages"
    headers = {**ANTHROPIC_HEADERS, BEHAVIOUR_HEADER: "explode:now"}
    body = {"model": "m", "messages": MESSAGES, "max_tokens": 5}
    response = http.post(url, json=body, headers=headers)

    assert response.status_code == 400
    assert "unknown x-fake-behaviour kind 'explode'" in response.json()["error"]["message"]


def test_recorded_requests_carry_body_and_model(http: httpx.Client, servers: Servers) -> None:
    url = servers["gemini"].origin + "/v1beta/models/wire-recorded:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    http.post(url, json=body, headers={"x-goog-api-key": GOOD_KEY})

    (request,) = servers["gemini"].requests_for_model("wire-recorded")
    assert request.body == body
    assert request.model == "wire-recorded"  # from the path: Gemini's body has no model


def test_unserved_path_gets_the_family_json_404(http: httpx.Client, servers: Servers) -> None:
    """What an api_base without /v1beta produces: litellm posts to /models/..., a 404."""
    url = servers["gemini"].origin + "/models/m:generateContent"
    response = http.post(url, json={}, headers={"x-goog-api-key": GOOD_KEY})

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": 404,
        "message": "Invalid URL (POST /models/m:generateContent)",
        "status": "NOT_FOUND",
    }
