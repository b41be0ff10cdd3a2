"""Wire helpers shared by every engine: usage and cost parsing, error rules, message
scrubbing, and where each provider family's LiteLLM rules (providers.families) apply to a
call: base URL, model name, kept parameters. (Which client keys reach the upstream:
``request_body``.)

No I/O, so each engine can use them on its hot path.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any

from tollway.engine.base import Endpoint, EngineCall, TokenUsage, UpstreamError
from tollway.engine.openai_conformance import conform
from tollway.observability.scrubbing import scrub_secret
from tollway.providers.families import litellm_prefixes, upstream_family

MAX_MESSAGE_CHARS = 300
# What a client learns of a provider timeout, whichever engine saw it: LiteLLM's own
# text ("litellm.Timeout: APITimeoutError - Request timed out ...") says nothing more.
TIMEOUT_MESSAGE = "the provider did not answer in time"
# OpenAI's code for what LiteLLM raises as its own exception class instead.
CODES_BY_CLASS: Mapping[str, str] = MappingProxyType(
    {
        "ContextWindowExceededError": "context_length_exceeded",
        "ContentPolicyViolationError": "content_policy_violation",
    }
)

# The LiteLLM provider prefixes tollway routes to; the rendered config has a wildcard
# deployment for each.
LITELLM_PREFIXES = litellm_prefixes()

_NON_RETRYABLE_5XX = frozenset({501})
# LiteLLM's decorations around a provider's message: "litellm.RateLimitError: RateLimitError:
# OpenAIException - <message>\n\nLiteLLM: model group … No fallback was attempted."
_PREFIX = re.compile(r"^(?:(?:litellm\.\w+|\w+(?:Error|Exception))\s*[:-]\s*)+")
_NOISE = re.compile(r"(?s)(Traceback \(most recent call last\)|received_args=|\n\n).*$")
# The openai SDK's "Error code: 400 - <message>" (no message: the body was not JSON).
_SDK_STATUS = re.compile(r"^Error code: (\d{3})(?: - (.*))?$", re.DOTALL)


def clean_text(text: str, secret: str | None = None) -> str:
    """A provider's error message without LiteLLM's decorations, tracebacks or keys."""
    text = _NOISE.sub("", _PREFIX.sub("", text.strip(), count=1))
    return scrub(text, secret) or "no message"


def scrub(text: str, secret: str | None = None) -> str:
    """A message safe to log and show: no form of ``secret``, bounded length. (The
    process's other known secrets are scrubbed where engine errors leave the engine.)"""
    if secret:
        text = scrub_secret(text, secret)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def non_json_body(status: int | None) -> str:
    """What a client learns of an error body that is not the API's JSON (an HTML page
    from a proxy, a stack trace): the status only, never the text."""
    shown = f" {status}" if status is not None else ""
    return f"the provider answered{shown} with a non-JSON body"


def provider_message(payload: Any) -> str | None:
    """The human part of a provider's JSON error body, in any family's shape
    (``{"error": {"message"}}``, ``{"error": "..."}``, ``{"message"}``, ``{"detail"}``)."""
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if isinstance(error, Mapping):
        payload = error
    elif isinstance(error, str) and error:
        return error
    for name in ("message", "detail"):
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def message_in_text(text: str, status: int | None) -> str:
    """The provider's message inside LiteLLM's exception text (what a LiteLLM proxy
    returns): LiteLLM quotes a provider's raw body after its label, and the openai
    SDK's "Error code: 400 - <message>" has no message when the body was not JSON."""
    rest = _PREFIX.sub("", text.strip(), count=1)
    sdk = _SDK_STATUS.match(rest)
    if sdk is not None:
        inner = sdk.group(2)
        if inner and not inner.startswith(("{", "[")):
            return inner
        return non_json_body(int(sdk.group(1)))
    if rest.startswith(("{", "[")):
        try:
            payload = json.loads(rest)
        except ValueError:
            return non_json_body(status)
        return provider_message(payload) or non_json_body(status)
    return non_json_body(status) if rest.startswith("<") else rest


def is_retryable(status: int) -> bool:
    return status in (408, 409, 425, 429) or (status >= 500 and status not in _NON_RETRYABLE_5XX)


def code_named_in(text: str | None) -> str | None:
    """The OpenAI code of a LiteLLM exception class named in ``text``: the LiteLLM
    proxy answers ``"code": "400"`` and only its message says
    ``litellm.ContextWindowExceededError: ...``."""
    if not text:
        return None
    return next((code for name, code in CODES_BY_CLASS.items() if name in text), None)


def timeout_error() -> UpstreamError:
    """A provider that did not answer in time: retryable, 504 (``upstream_timeout``)."""
    return upstream_error(504, TIMEOUT_MESSAGE, error_type="timeout", code="timeout")


def upstream_error(
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
) -> UpstreamError:
    """The contract's UpstreamError, with retryable/key_rejected derived from the status."""
    return UpstreamError(
        message,
        status=status,
        error_type=error_type or _default_type(status),
        code=code,
        param=param,
        retryable=is_retryable(status),
        key_rejected=status in (401, 402, 403),
        retry_after=retry_after,
    )


def _default_type(status: int) -> str:
    if status in (401, 403):
        return "authentication_error"
    if status == 402:
        return "insufficient_quota"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "upstream_error"
    return "invalid_request_error"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def error_object(body: Any) -> Mapping[str, Any] | None:
    """The ``error`` object of an OpenAI-shaped error body, if that is what ``body`` is."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return error
    return None


def text_field(error: Mapping[str, Any], name: str) -> str | None:
    value = error.get(name)
    return None if value is None else str(value)


def chat_shaped(endpoint: Endpoint) -> bool:
    """Whether ``endpoint`` answers with OpenAI's chat, completions or embeddings objects
    (the Responses and Messages dialects' objects are read by their own metering)."""
    return endpoint not in (Endpoint.RESPONSES, Endpoint.MESSAGES)


# A usage object is OpenAI's when it has one of these (some embeddings servers send
# only ``total_tokens``).
_OPENAI_COUNTS = frozenset({"prompt_tokens", "completion_tokens", "total_tokens"})


def usage_from(raw: Any) -> TokenUsage | None:
    """The contract's TokenUsage from an OpenAI ``usage`` object (dict), None when absent
    (or not OpenAI's: Anthropic's and the Responses API's ``input_tokens`` are read by
    their dialect's reader in ``tollway.metering``)."""
    if not isinstance(raw, Mapping) or not (_OPENAI_COUNTS & raw.keys()):
        return None
    prompt = _int(raw.get("prompt_tokens"))
    completion = _int(raw.get("completion_tokens"))
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=_int(raw.get("total_tokens")) or prompt + completion,
        cached_tokens=_detail(prompt_details, "cached_tokens"),
        reasoning_tokens=_detail(completion_details, "reasoning_tokens"),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _detail(details: Any, name: str) -> int:
    return _int(details.get(name)) if isinstance(details, Mapping) else 0


def positive_cost(value: Any) -> float | None:
    """A reported cost, or None. LiteLLM reports 0.0 for models it cannot price, so a
    zero means "unknown" here, never "free"."""
    try:
        cost = float(value)
    except (TypeError, ValueError):
        return None
    return cost if math.isfinite(cost) and cost > 0 else None


def usage_cost(chunk: Mapping[str, Any]) -> float | None:
    """``usage.cost`` of a chunk or body (LiteLLM's and OpenRouter's stream cost)."""
    usage = chunk.get("usage")
    return positive_cost(usage.get("cost")) if isinstance(usage, Mapping) else None


def allowed_openai_params(body: Mapping[str, Any], litellm_model: str) -> list[str]:
    """OpenAI parameters LiteLLM must forward even where it would drop them (the
    family's ``keeps_user``: the client sent ``user``, so it goes through)."""
    provider_family = upstream_family(litellm_model)
    keeps_user = provider_family is not None and provider_family.keeps_user
    return ["user"] if "user" in body and keeps_user else []


def litellm_api_base(call: EngineCall) -> str | None:
    """The target's base URL as LiteLLM 1.109.1 wants it for the target's family.

    tollway stores a provider's API root (``https://api.cohere.com``,
    ``https://generativelanguage.googleapis.com``, ``https://api.anthropic.com``); each
    family's ``litellm_base`` says what LiteLLM makes of it. Idempotent: a base already
    in LiteLLM's form is kept.
    """
    base = call.target.api_base
    if not base:
        return base
    base = base.rstrip("/")
    provider_family = upstream_family(call.target.upstream_model)
    return provider_family.litellm_base(base, call.endpoint) if provider_family else base


def bare_model(litellm_model: str) -> str:
    """The provider's model id without LiteLLM's prefix."""
    return litellm_model.split("/", 1)[1] if "/" in litellm_model else litellm_model


def litellm_model_for(call: EngineCall) -> str:
    """The target's model, with a chat-named model's legacy completion sent to its
    family's completions route.

    ``openai/<id>`` with ``atext_completion`` would be turned into a chat call;
    ``text-completion-openai/<id>`` is LiteLLM's name for the real endpoint.
    """
    model = call.target.upstream_model
    provider_family = upstream_family(model)
    if call.endpoint is not Endpoint.COMPLETIONS or call.target.mock or provider_family is None:
        return model
    prefix, _, bare = model.partition("/")
    if prefix != provider_family.chat.prefix:
        return model
    return f"{provider_family.litellm_prefix(Endpoint.COMPLETIONS)}/{bare}"


# Fields LiteLLM adds to OpenAI objects; dropped when empty so clients see OpenAI's shape.
_LITELLM_EXTRAS = frozenset(
    {
        "provider_specific_fields",
        "function_call",
        "tool_calls",
        "audio",
        "reasoning_content",
        "thinking_blocks",
        "citations",
        "annotations",
        "images",
        "completion_tokens_details",
        "prompt_tokens_details",
        "server_tool_use",
        "moderation",
        "obfuscation",
    }
)


def clean_openai(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI object as LiteLLM returns it, minus LiteLLM's empty extras
    (``provider_specific_fields``, null ``tool_calls``…) and its 0.0 "unpriced" cost,
    and with its breaks of OpenAI's schema fixed (``openai_conformance``)."""
    cleaned: dict[str, Any] = _clean(body)
    return conform(cleaned)


def _clean(value: Any, *, in_usage: bool = False) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if _drop(key, item, in_usage=in_usage):
                continue
            out[key] = _clean(item, in_usage=key == "usage")
        return out
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _drop(key: str, item: Any, *, in_usage: bool) -> bool:
    if key == "provider_specific_fields":
        return True
    if in_usage and key == "cost":  # LiteLLM's 0.0 means "unpriced", not "free"
        return positive_cost(item) is None
    return key in _LITELLM_EXTRAS and item in (None, [], {})
