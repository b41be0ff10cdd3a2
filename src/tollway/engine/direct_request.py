"""The request steps of LiteLLM's Anthropic chat call, for ``engine.direct_chat``.

``translate`` does what ``litellm.main.completion`` and the Anthropic handler
(``litellm/llms/anthropic/chat/handler.py``) do to a chat request before sending it, in
their order: the provider config's developer-role rewrite, ``get_optional_params``, the
handler's pops (``stream``, ``json_mode``, ``is_vertex_request``), ``validate_environment``
(headers), ``async_transform_request`` (body), the beta-header filter and
``ensure_api_route``. Which requests it may take is ``takes``: the parameters it maps as
the top-level call does, as the differential test checks.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import httpx

from tollway.engine.wire import bare_model

# The body keys this path maps exactly as the top-level call does (each one covered by
# the differential test); a request with any other key takes the top-level call.
DIRECT_PARAMS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "api_key",
        "api_base",
        "allowed_openai_params",
    }
)
_MESSAGES_ROUTE = "v1/messages"
_PLAIN_PARTS = frozenset({"text", "image_url"})


class Prepared(NamedTuple):
    model: str
    url: str
    headers: dict[str, Any]
    data: dict[str, Any]
    messages: list[Any]
    optional_params: dict[str, Any]
    litellm_params: dict[str, Any]
    json_mode: bool
    secret: str | None
    api_key: str | None
    timeout: httpx.Timeout


def takes(body: Mapping[str, Any], ignored: Any) -> bool:
    """Whether a client ``body`` is one ``translate`` maps as the top-level call does:
    only ``DIRECT_PARAMS`` (besides the keys ``ignored(key)`` says never reach LiteLLM),
    function tools only, text and image parts only."""
    return (
        all(key in DIRECT_PARAMS or ignored(key) for key in body)
        and _function_tools_only(body.get("tools"))
        and _plain_parts_only(body.get("messages"))
    )


def _function_tools_only(tools: Any) -> bool:
    """No provider-side tool (web search, code execution…): their answers carry blocks
    ``direct_stream`` does not translate."""
    return tools is None or (
        isinstance(tools, list)
        and all(isinstance(tool, dict) and tool.get("type") == "function" for tool in tools)
    )


def _plain_parts_only(messages: Any) -> bool:
    """Message content of text and images only: documents and files can make the
    answer cite them, which ``direct_stream`` does not translate."""
    if not isinstance(messages, list):
        return True  # LiteLLM refuses it, as the top-level call would
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and not all(
            isinstance(part, dict) and part.get("type") in _PLAIN_PARTS for part in content
        ):
            return False
    return True


async def translate(
    body: dict[str, Any], secret: str | None, limit: httpx.Timeout, *, drop_params: bool
) -> Prepared:
    """LiteLLM's request steps for an Anthropic chat call, in its order."""
    body = dict(body)
    model = bare_model(body.pop("model"))
    api_key = body.pop("api_key", None)
    api_base = body.pop("api_base", None) or "https://api.anthropic.com/v1/messages"
    config = provider_config(model)
    messages = list(
        config.translate_developer_role_to_system_role(
            messages=copy.deepcopy(body.pop("messages", [])),
            model=model,
            custom_llm_provider="anthropic",
            api_base=api_base,
            model_info={},
        )
    )
    optional = litellm_utils().get_optional_params(
        model=model,
        custom_llm_provider="anthropic",
        messages=messages,
        drop_params=drop_params,
        max_retries=0,
        **body,
    )
    optional = copy.deepcopy(optional)
    optional.pop("stream", None)
    json_mode = bool(optional.pop("json_mode", False))
    is_vertex = bool(optional.pop("is_vertex_request", False))
    optional.pop("vertex_count_tokens_location", None)
    litellm_params = _litellm_params(api_key, api_base, drop_params, limit)
    transform_params = {**optional, "is_vertex_request": is_vertex}
    headers = config.validate_environment(
        api_key=api_key,
        headers={},
        model=model,
        messages=messages,
        optional_params=transform_params,
        litellm_params=litellm_params,
        api_base=api_base,
    )
    request = await config.async_transform_request(
        model=model,
        messages=messages,
        optional_params=transform_params,
        litellm_params=litellm_params,
        headers=headers,
    )
    headers, data = _filtered_beta(headers, request, litellm_params, model)
    url = import_module("litellm.litellm_core_utils.url_utils").ensure_api_route(
        api_base, _MESSAGES_ROUTE
    )
    return Prepared(
        model, url, headers, data, messages, optional, litellm_params, json_mode,
        secret, api_key, limit,
    )  # fmt: skip


def rebuilt_usage(prepared: Prepared, chunks: list[Any], text: str) -> Any:
    """The usage ``stream_chunk_builder`` makes of a text-and-tools stream's chunks."""
    builder = import_module("litellm.litellm_core_utils.streaming_chunk_builder_utils")
    return builder.ChunkProcessor(chunks, prepared.messages).calculate_usage(
        chunks=chunks,
        model=prepared.model,
        completion_output=text,
        messages=prepared.messages,
        reasoning_tokens=0,
    )


def _filtered_beta(
    headers: dict[str, Any],
    request: dict[str, Any],
    litellm_params: dict[str, Any],
    model: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The beta headers the model accepts and the body fields they gate, as the handler's
    ``finish_request`` filters them."""
    beta = import_module("litellm.anthropic_beta_headers_manager")
    gated = import_module("litellm.anthropic_beta_gated_fields")
    request_headers, filtered = beta.update_request_with_filtered_beta(
        headers=headers, request_data=request, provider="anthropic"
    )
    data = dict(
        gated.strip_beta_gated_request_body(
            filtered,
            request_headers,
            drop_params=litellm_params.get("drop_params"),
            model=model,
            provider="anthropic",
        )
    )
    return dict(request_headers), data


def _litellm_params(
    api_key: str | None, api_base: str, drop_params: bool, timeout: httpx.Timeout
) -> dict[str, Any]:
    module = import_module("litellm.litellm_core_utils.get_litellm_params")
    params: dict[str, Any] = module.get_litellm_params(
        acompletion=True,
        api_key=api_key,
        api_base=api_base,
        custom_llm_provider="anthropic",
        drop_params=drop_params,
        max_retries=0,
        timeout=timeout,
    )
    return params


def provider_config(model: str) -> Any:
    utils = litellm_utils()
    return utils.ProviderConfigManager.get_provider_chat_config(
        model=model, provider=utils.LlmProviders("anthropic")
    )


def litellm_utils() -> Any:
    return import_module("litellm.utils")


def import_module(name: str) -> Any:
    # litellm is imported by ``load_litellm`` first, never at module level.
    return importlib.import_module(name)
