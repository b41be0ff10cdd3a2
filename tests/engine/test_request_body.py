"""The one request-body builder: what every engine keeps, drops and adds (pure, no network)."""

from __future__ import annotations

from typing import Any

from tollway.engine.base import Endpoint, EngineCall, Target
from tollway.engine.request_body import (
    is_litellm_reserved,
    litellm_request,
    openrouter_body,
    request_body,
)
from tollway.secrets.base import SecretValue

KEY = "sk-requestbody-0123456789"


def call(
    endpoint: Endpoint = Endpoint.CHAT,
    *,
    upstream: str = "openai/m",
    base: str | None = "http://h/v1",
    mock: bool = False,
    **body: Any,
) -> EngineCall:
    target = Target("d1", upstream, SecretValue(KEY), base, 9.0, mock=mock)
    return EngineCall(endpoint, {"messages": [{"role": "user", "content": "hi"}], **body}, target)


def test_reserved_keys() -> None:
    for key in (
        "api_base",
        "mock_response",
        "litellm_logging_obj",
        "input_cost_per_token",
        "output_cost_per_second",
        "metadata",
        "_private",
        "fallbacks",
    ):
        assert is_litellm_reserved(key), key
    for key in ("messages", "temperature", "tools", "user", "seed", "response_format"):
        assert not is_litellm_reserved(key), key


def test_the_engine_owns_model_stream_and_stream_options() -> None:
    client = {"model": "client", "stream": True, "stream_options": {"x": 1}, "temperature": 0.2}
    body = request_body(call(**client), "upstream/m", stream=False)
    assert body == {
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "model": "upstream/m",
    }


def test_a_stream_asks_for_usage_and_keeps_the_clients_other_stream_options() -> None:
    body = request_body(call(stream_options={"x": 1, "include_usage": False}), "m", stream=True)
    assert body["stream"] is True
    assert body["stream_options"] == {"x": 1, "include_usage": True}
    plain = request_body(call(stream_options="junk"), "m", stream=True)
    assert plain["stream_options"] == {"include_usage": True}


def test_the_clients_stream_options_are_not_mutated() -> None:
    options = {"x": 1}
    request_body(call(stream_options=options), "m", stream=True)
    assert options == {"x": 1}


def test_litellm_request_drops_reserved_keys_and_adds_the_deployment() -> None:
    body, secret = litellm_request(
        call(api_key="sk-client", api_base="http://evil", metadata={}, user="u", seed=3),
        stream=True,
        reserved=frozenset({"seed"}),
    )
    assert secret == KEY
    assert body == {
        "messages": [{"role": "user", "content": "hi"}],
        "user": "u",
        "model": "openai/m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "api_key": KEY,
        "api_base": "http://h/v1",
        "allowed_openai_params": ["user"],
    }


def test_litellm_request_uses_litellms_model_and_base_rules() -> None:
    legacy = litellm_request(call(Endpoint.COMPLETIONS, prompt="p"), stream=False).body
    assert legacy["model"] == "text-completion-openai/m"
    assert "stream" not in legacy
    gemini = litellm_request(call(upstream="gemini/g", base="http://g"), stream=False).body
    assert gemini["api_base"] == "http://g/v1beta"
    assert "allowed_openai_params" not in gemini


def test_a_mock_target_gets_no_key_and_no_base() -> None:
    body, secret = litellm_request(call(mock=True), stream=False)
    assert secret is None
    assert "api_key" not in body
    assert "api_base" not in body


def test_openrouter_body_asks_for_usage_accounting_and_keeps_litellm_keys() -> None:
    body = openrouter_body(
        call(upstream="anthropic/c", usage={"other": 1}, metadata={"a": 1}),
        "anthropic/c",
        stream=True,
    )
    assert body["model"] == "anthropic/c"
    assert body["usage"] == {"other": 1, "include": True}
    assert body["metadata"] == {"a": 1}  # not LiteLLM: nothing to reserve
    assert body["stream_options"] == {"include_usage": True}
    assert "api_key" not in body
    embeddings = openrouter_body(call(Endpoint.EMBEDDINGS, upstream="e"), "e", stream=False)
    assert "usage" not in embeddings
