"""/v1/messages as Anthropic's clients use it, against a fake OpenAI-compatible provider
(bridged by LiteLLM to its chat API): a tool-use loop, what reaches the upstream,
metering, limits, fallback to OpenRouter's own /messages, auth, Anthropic-shaped errors
and count_tokens. The client is the anthropic SDK, or raw HTTP where the wire is the point.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.fakes.providers.responses_wire import TOOL_TRIGGER
from tests.inference.conftest import Tollway
from tests.inference.test_fallback import add_openrouter
from tollway.store.enums import Endpoint, Route

INPUT_PRICE = Decimal("0.000002")
OUTPUT_PRICE = Decimal("0.000010")
HELLO = [{"role": "user", "content": "hello messages"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def served_model(
    tollway: Tollway,
    upstream: FakeProviderServer,
    behaviour: ModelBehaviour | None = None,
    **fields: Any,
) -> tuple[str, str]:
    """A priced public model on the fake OpenAI-compatible provider, and a key for it."""
    name = f"msg-{uuid.uuid4().hex[:8]}"
    if behaviour is not None:
        upstream.script_model(name, behaviour)
    api_key = f"sk-m-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        "openai_compatible", name="primary", api_key=api_key, base_url=upstream.base_url
    )
    model = tollway.model(provider, name, model_id=name, **fields)
    tollway.post(
        "/pricing",
        {
            "provider_id": provider["id"],
            "model_id": model["id"],
            "input_price_per_token": str(INPUT_PRICE),
            "output_price_per_token": str(OUTPUT_PRICE),
        },
    )
    key = tollway.key(name=f"k-{name}")
    tollway.wait_for_model(key, name)
    return name, key


def sdk(tollway: Tollway, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=tollway.url, api_key=key, max_retries=0)


def post(tollway: Tollway, body: Any, headers: dict[str, str], path: str = "") -> httpx.Response:
    return httpx.post(
        f"{tollway.v1}/messages{path}",
        content=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
        timeout=15,
    )


def assert_anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert response.headers["request-id"] == response.headers["x-tollway-request-id"]
    message: str = body["error"]["message"]
    return message


# -- the conversation ------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "streamed"])
def test_a_tool_use_loop(tollway: Tollway, upstream: FakeProviderServer, streamed: bool) -> None:
    name, key = served_model(tollway, upstream)
    client = sdk(tollway, key)
    # The fakes' tool rule: a request offering tools whose text starts with TOOL_TRIGGER
    # gets a call of its first tool, each property set to "<name>-1".
    ask_weather = f"{TOOL_TRIGGER}: what is the weather in Paris?"
    messages: list[Any] = [{"role": "user", "content": ask_weather}]
    ask: dict[str, Any] = {"model": name, "max_tokens": 100, "tools": [WEATHER_TOOL]}
    if streamed:
        with client.messages.stream(messages=messages, **ask) as stream:
            first = stream.get_final_message()
    else:
        first = client.messages.create(messages=messages, **ask)
    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather"
    assert call.input == {"city": "city-1"}
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21C"}],
        },
    ]
    second = client.messages.create(messages=messages, **ask)
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == "tool said: sunny, 21C"
    # What the provider saw: the tool as an OpenAI function, then its result as a tool message.
    first_request, second_request = upstream.requests_for_model(name)
    assert first_request.body["tools"][0]["function"]["name"] == "get_weather"
    tool_messages = [m for m in second_request.body["messages"] if m["role"] == "tool"]
    assert tool_messages[0]["tool_call_id"] == call.id


def test_system_stop_sequences_sampling_and_thinking_reach_the_provider(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream)
    message = sdk(tollway, key).messages.create(
        model=name,
        max_tokens=300,
        system=[{"type": "text", "text": "You are terse."}],
        messages=HELLO,  # type: ignore[arg-type]
        stop_sequences=["STOP"],
        extra_body={"temperature": 0.5},
        thinking={"type": "enabled", "budget_tokens": 200},
        metadata={"user_id": "agent-1"},
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "hello messages"
    [request] = upstream.requests_for_model(name)
    system = request.body["messages"][0]
    assert system["role"] == "system"
    assert "You are terse." in json.dumps(system["content"])
    assert request.body["stop"] == ["STOP"]
    assert request.body["temperature"] == 0.5


def test_usage_is_recorded_as_messages_with_tokens_and_cost(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream)
    client = sdk(tollway, key)
    message = client.messages.create(model=name, max_tokens=50, messages=HELLO)  # type: ignore[arg-type]
    with client.messages.stream(model=name, max_tokens=50, messages=HELLO) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    streamed_id = stream.response.headers["x-tollway-request-id"]
    by_id = {record.request_id: record for record in tollway.usage_records(2)}
    for request_id, answer in ((message._request_id, message), (streamed_id, final)):
        record = by_id[str(request_id)]
        assert record.endpoint == Endpoint.MESSAGES
        assert record.route == Route.LITELLM
        assert record.prompt_tokens == answer.usage.input_tokens > 0
        assert record.completion_tokens == answer.usage.output_tokens > 0
        expected = INPUT_PRICE * record.prompt_tokens + OUTPUT_PRICE * record.completion_tokens
        assert record.cost_usd == expected > 0


# -- limits and fallback ---------------------------------------------------------------------


def test_a_quota_429_is_anthropics_rate_limit_error(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream)
    keys = tollway.admin.get("/admin/v1/keys").json()
    items = keys["items"] if isinstance(keys, dict) else keys
    key_id = next(k["id"] for k in items if k["name"] == f"k-{name}")
    tollway.post("/limits", {"scope": "tollway_key", "scope_id": key_id, "requests_per_hour": 1})
    body = {"model": name, "max_tokens": 20, "messages": HELLO}
    headers = {"x-api-key": key}
    tollway.wait_until(lambda: post(tollway, body, headers).status_code == 429)
    refused = post(tollway, body, headers)
    assert_anthropic_error(refused, 429, "rate_limit_error")
    assert refused.headers["x-ratelimit-limit-requests"] == "1"
    # An hourly window rolls too late for a retry to help: the SDK is told not to.
    assert refused.headers["x-should-retry"] == "false"
    assert "retry-after" not in refused.headers
    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk(tollway, key).messages.create(model=name, max_tokens=20, messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 429
    assert caught.value.request_id == caught.value.response.headers["x-tollway-request-id"]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "streamed"])
def test_failing_deployments_fall_back_to_openrouters_messages_api(
    tollway: Tollway,
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
    streamed: bool,
) -> None:
    add_openrouter(tollway, openrouter)
    bare = f"fb-{uuid.uuid4().hex[:8]}"
    openrouter_id = f"vendor/{bare}"
    name, key = served_model(
        tollway, upstream, ModelBehaviour.server_error(503), openrouter_model_id=openrouter_id
    )
    client = sdk(tollway, key)
    if streamed:
        with client.messages.stream(model=name, max_tokens=40, messages=HELLO) as stream:  # type: ignore[arg-type]
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        headers = stream.response.headers
    else:
        raw = client.messages.with_raw_response.create(model=name, max_tokens=40, messages=HELLO)  # type: ignore[arg-type]
        final = raw.parse()
        text = final.content[0].text if final.content[0].type == "text" else ""
        headers = raw.headers
    assert text == "hello messages"
    assert final.model == name
    assert headers["x-tollway-route"] == "openrouter"
    [request] = openrouter.requests_for_model(openrouter_id)
    assert request.path == "/v1/messages"
    assert request.body["max_tokens"] == 40
    [record] = [r for r in tollway.usage_records(1) if r.route == Route.OPENROUTER]
    assert record.endpoint == Endpoint.MESSAGES
    assert record.prompt_tokens > 0
    assert record.completion_tokens > 0


# -- auth and errors -------------------------------------------------------------------------


def test_a_key_as_x_api_key_or_bearer_with_anthropic_headers(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream)
    body = {"model": name, "max_tokens": 20, "messages": HELLO}
    versioned = {"anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024-04-04"}
    by_header = post(tollway, body, {"x-api-key": key, **versioned})
    by_bearer = post(tollway, body, {"authorization": f"Bearer {key}"})
    for response in (by_header, by_bearer):
        assert response.status_code == 200, response.text
        assert response.json()["type"] == "message"
        assert response.json()["model"] == name
        assert response.headers["request-id"] == response.headers["x-tollway-request-id"]
    refused = post(tollway, body, {"x-api-key": "sk-not-a-tollway-key"})
    assert_anthropic_error(refused, 401, "authentication_error")
    assert_anthropic_error(post(tollway, body, {}), 401, "authentication_error")
    with pytest.raises(anthropic.AuthenticationError):
        sdk(tollway, "sk-wrong").messages.create(model=name, max_tokens=5, messages=HELLO)  # type: ignore[arg-type]
    with pytest.raises(anthropic.NotFoundError):
        sdk(tollway, key).messages.create(model="no-such-model", max_tokens=5, messages=HELLO)  # type: ignore[arg-type]


BAD_BODIES: list[tuple[Any, str]] = [
    ({"max_tokens": 5, "messages": HELLO}, "model"),
    ({"model": "m", "messages": HELLO}, "max_tokens"),
    ({"model": "m", "max_tokens": "five", "messages": HELLO}, "max_tokens"),
    ({"model": "m", "max_tokens": 0, "messages": HELLO}, "max_tokens"),
    ({"model": "m", "max_tokens": 5}, "messages"),
    ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "role"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 7}]}, "content"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{}]}]}, "type"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "system": 3}, "system"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "stop_sequences": "S"}, "stop_sequences"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "temperature": 3}, "temperature"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "top_k": -1}, "top_k"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "stream": "yes"}, "stream"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "tools": [{"name": "t"}]}, "input_schema"),
    (
        {"model": "m", "max_tokens": 5, "messages": HELLO, "tool_choice": {"type": "x"}},
        "tool_choice",
    ),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "thinking": {"type": "enabled"}}, "budget"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "metadata": "x"}, "metadata"),
    ({"model": "m", "max_tokens": 5, "messages": HELLO, "api_base": "http://x"}, "api_base"),
    (b"{not json", "JSON"),
    (b"[1, 2]", "object"),
]


def test_bad_input_is_a_400_naming_the_field_before_anything_is_sent(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream)
    secret_value = f"sk-secret-{uuid.uuid4().hex}"
    for body, named in BAD_BODIES:
        if isinstance(body, dict) and body.get("model") == "m":
            body = {**body, "model": name}
        message = assert_anthropic_error(
            post(tollway, body, {"x-api-key": key}), 400, "invalid_request_error"
        )
        assert named in message, (body, message)
    leaked = post(
        tollway,
        {"model": name, "max_tokens": 5, "messages": [{"role": secret_value, "content": "x"}]},
        {"x-api-key": key},
    )
    assert secret_value not in leaked.text
    assert upstream.requests_for_model(name) == []
    assert tollway.usage_records_now() == []


def test_routing_errors_under_messages_are_anthropic_shaped(tollway: Tollway) -> None:
    not_allowed = httpx.get(f"{tollway.v1}/messages", timeout=5)
    assert_error_shape(not_allowed, 405, "invalid_request_error")
    unknown = httpx.post(f"{tollway.v1}/messages/nope", json={}, timeout=5)
    assert_error_shape(unknown, 404, "not_found_error")
    elsewhere = httpx.get(f"{tollway.v1}/nope", timeout=5)
    assert elsewhere.status_code == 404
    assert "error" in elsewhere.json()
    assert "type" not in elsewhere.json()


def assert_error_shape(response: httpx.Response, status: int, kind: str) -> None:
    assert response.status_code == status
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == kind


def test_a_stream_cut_after_its_first_event_ends_with_an_error_event(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream, ModelBehaviour.reset_after(chunks=2))
    body = {"model": name, "max_tokens": 20, "messages": HELLO, "stream": True}
    with httpx.stream(
        "POST", f"{tollway.v1}/messages", json=body, headers={"x-api-key": key}, timeout=15
    ) as response:
        assert response.status_code == 200
        text = response.read().decode()
    events = [block for block in text.split("\n\n") if block.strip()]
    assert events[0].startswith("event: message_start\n")
    assert events[-1].startswith("event: error\n")
    error = json.loads(events[-1].split("data: ", 1)[1])
    assert error["type"] == "error"
    assert error["error"]["type"] == "api_error"
    assert "message_stop" not in text


# -- count_tokens ----------------------------------------------------------------------------


def test_count_tokens(tollway: Tollway, upstream: FakeProviderServer) -> None:
    name, key = served_model(tollway, upstream)
    client = sdk(tollway, key)
    short = client.messages.count_tokens(model=name, messages=HELLO)  # type: ignore[arg-type]
    longer = client.messages.count_tokens(
        model=name,
        system="You are a helpful assistant who answers at length.",
        messages=HELLO,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert 0 < short.input_tokens < longer.input_tokens
    # A realistic count (agents compact on it), not the admission bound's UTF-8 bytes.
    words = "The quick brown fox jumps over the lazy dog. " * 100
    counted = client.messages.count_tokens(
        model=name, messages=[{"role": "user", "content": words}]
    )
    assert 1000 <= counted.input_tokens <= 1100
    assert upstream.requests_for_model(name) == []  # not an inference call
    assert tollway.usage_records_now() == []
    body = {"model": "no-such-model", "messages": HELLO}
    missing = post(tollway, body, {"x-api-key": key}, "/count_tokens")
    assert_anthropic_error(missing, 404, "not_found_error")
    unauthenticated = post(tollway, {**body, "model": name}, {}, "/count_tokens")
    assert_anthropic_error(unauthenticated, 401, "authentication_error")
    bad = post(tollway, {"model": name, "messages": []}, {"x-api-key": key}, "/count_tokens")
    assert_anthropic_error(bad, 400, "invalid_request_error")


def test_a_provider_refusal_reaches_the_client_in_anthropics_shape(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream, ModelBehaviour.bad_request("prompt too odd"))
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(tollway, key).messages.create(model=name, max_tokens=5, messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "error"
    assert "prompt too odd" in caught.value.body["error"]["message"]
    stream = post(
        tollway,
        {"model": name, "max_tokens": 5, "messages": HELLO, "stream": True},
        {"x-api-key": key},
    )
    assert "prompt too odd" in assert_anthropic_error(stream, 400, "invalid_request_error")


def test_hostile_shapes_are_400s(tollway: Tollway, upstream: FakeProviderServer) -> None:
    name, key = served_model(tollway, upstream)
    deep: Any = "x"
    for _ in range(100):
        deep = [deep]
    bodies: list[Any] = [
        {"model": name, "max_tokens": 5, "messages": [{"role": "user", "content": deep}]},
        {"model": name, "max_tokens": 5, "messages": ["hi"]},
        {"model": name, "max_tokens": 5, "messages": HELLO, "tools": "all"},
        {"model": name, "max_tokens": 5, "messages": HELLO, "tools": [None]},
        {"model": name, "max_tokens": 5, "messages": HELLO, "system": [{"type": "image"}]},
        {"model": name, "max_tokens": 2**70, "messages": HELLO},
        {"model": name, "max_tokens": 5.5, "messages": HELLO},
        {
            "model": name,
            "max_tokens": 5,
            "messages": HELLO,
            "thinking": {"type": "enabled", "budget_tokens": "x"},
        },
        {"model": ["a"], "max_tokens": 5, "messages": HELLO},
    ]
    for body in bodies:
        # count_tokens takes no max_tokens: a bad one is the Messages endpoint's 400 only.
        paths = ("",) if body["max_tokens"] != 5 else ("", "/count_tokens")
        for path in paths:
            response = post(tollway, body, {"x-api-key": key}, path)
            assert response.status_code == 400, (path, response.text)
            assert response.json()["error"]["type"] == "invalid_request_error"
    assert upstream.requests_for_model(name) == []


def test_the_stream_is_anthropics_wire_format(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, key = served_model(tollway, upstream)
    body = {"model": name, "max_tokens": 20, "messages": HELLO, "stream": True}
    with httpx.stream(
        "POST", f"{tollway.v1}/messages", json=body, headers={"x-api-key": key}, timeout=15
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"] == response.headers["x-tollway-request-id"]
        text = response.read().decode()
    blocks = [block for block in text.split("\n\n") if block.strip()]
    events = []
    for block in blocks:
        name_line, data_line = block.split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert name_line == f"event: {event['type']}"
        events.append(event)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert {"content_block_start", "content_block_delta", "content_block_stop"} <= set(kinds)
    assert events[0]["message"]["model"] == name
    assert "[DONE]" not in text
