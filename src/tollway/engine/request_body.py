"""The body an engine sends upstream, built in one place for every engine.

Each starts from the client's body without what the engine owns (the model, the
stream mode, ``stream_options``), puts in the target's model and, for a stream,
asks for the final usage chunk (``stream_options.include_usage``) while keeping
whatever else the client put in ``stream_options``. Whether the client sees that
usage chunk is decided above the engine.

On the way into LiteLLM (the SDK in this process, or a LiteLLM proxy over HTTP)
the keys LiteLLM would read as its own instructions go too, and the deployment's
key, base URL and allowed parameters come in: the embedded engine turns that body
into ``litellm.acompletion`` keyword arguments, the remote engine sends it as JSON.
The embedded engine's pass-through (``engine.passthrough``) hands LiteLLM the body
as a JSON payload it does not read, so only the engine-owned keys apply there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from tollway.engine.base import Endpoint, EngineCall
from tollway.engine.wire import allowed_openai_params, litellm_api_base, litellm_model_for

# Client body keys that are never forwarded: a client must not pick the model,
# the stream mode or the usage chunk (the engine does).
ENGINE_OWNED_KEYS = frozenset({"model", "stream", "stream_options"})
# ...and, on the way into LiteLLM, keys it would read as its own instructions: a
# client must never redirect a provider key, answer itself (mock_*), change a price,
# or turn retries and fallbacks back on.
LITELLM_RESERVED_KEYS = ENGINE_OWNED_KEYS | frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "organization",
        "deployment_id",
        "custom_llm_provider",
        "configurable_clientside_auth_params",
        "default_headers",
        "extra_headers",
        "extra_body",
        "extra_query",
        "headers",
        "client",
        "ssl_verify",
        "timeout",
        "stream_timeout",
        "request_timeout",
        "num_retries",
        "max_retries",
        "fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "model_list",
        "drop_params",
        "additional_drop_params",
        "allowed_openai_params",
        "metadata",
        "tags",
        "cache",
        "caching",
        "base_model",
        "model_info",
        "guardrails",
        "user_config",
        "secret_fields",
        "proxy_server_request",
        "logger_fn",
        "verbose",
        "custom_prompt_dict",
        "no-log",
    }
)
_RESERVED_PREFIXES = ("litellm_", "mock_", "_")
# Endpoints whose streams end with a usage chunk only when asked; the other dialects
# (the Responses API's terminal event) always report usage, and refuse the flag.
USAGE_CHUNK_ENDPOINTS = frozenset({Endpoint.CHAT, Endpoint.COMPLETIONS})


class LiteLLMRequest(NamedTuple):
    body: dict[str, Any]
    secret: str | None  # the deployment's key as sent, to scrub from error messages


def is_engine_owned(key: str) -> bool:
    return key in ENGINE_OWNED_KEYS


def is_litellm_reserved(key: str, extra: frozenset[str] = frozenset()) -> bool:
    return (
        key in LITELLM_RESERVED_KEYS
        or key in extra
        or key.startswith(_RESERVED_PREFIXES)
        or "cost_per" in key  # input_cost_per_token and its many siblings
    )


def request_body(
    call: EngineCall,
    model: str,
    *,
    stream: bool,
    dropped: Callable[[str], bool] = is_engine_owned,
) -> dict[str, Any]:
    """The client's body without the ``dropped`` keys, for ``model``; a stream asks
    for its usage chunk (the one place that does)."""
    body = {key: value for key, value in call.body.items() if not dropped(key)}
    body["model"] = model
    if stream:
        options = call.body.get("stream_options")
        merged = dict(options) if isinstance(options, Mapping) else {}
        body["stream"] = True
        if call.endpoint in USAGE_CHUNK_ENDPOINTS:
            merged["include_usage"] = True
        if merged:
            body["stream_options"] = merged
    return body


def litellm_request(
    call: EngineCall, *, stream: bool, reserved: frozenset[str] = frozenset()
) -> LiteLLMRequest:
    """The body LiteLLM gets: reserved keys (the static list, plus ``reserved``, the
    names the running LiteLLM declares) removed, the deployment's key and base URL
    added unless the target is the mock provider."""
    body = request_body(
        call,
        litellm_model_for(call),
        stream=stream,
        dropped=lambda key: is_litellm_reserved(key, reserved),
    )
    secret: str | None = None
    if not call.target.mock:
        if call.target.api_key is not None:
            secret = call.target.api_key.reveal()
            body["api_key"] = secret
        if api_base := litellm_api_base(call):
            body["api_base"] = api_base
    if allowed := allowed_openai_params(body, body["model"]):
        body["allowed_openai_params"] = allowed
    return LiteLLMRequest(body, secret)


def openrouter_body(call: EngineCall, model: str, *, stream: bool) -> dict[str, Any]:
    """The body OpenRouter gets (the fallback, or an OpenRouter provider passed through):
    its id ``model``, and usage accounting asked for (``usage: {"include": true}``) so the
    answer carries OpenRouter's own price, which tollway bills when it has none."""
    body = request_body(call, model, stream=stream)
    if call.endpoint in USAGE_CHUNK_ENDPOINTS:
        usage = body.get("usage")
        body["usage"] = (dict(usage) if isinstance(usage, Mapping) else {}) | {"include": True}
    return body
