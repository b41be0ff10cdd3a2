"""LiteLLM SDK exceptions mapped to the engine contract.

LiteLLM maps every provider's failure onto OpenAI-style exception classes with a
``status_code`` (``litellm.exceptions``). What the contract needs on top:

- "LLM Provider NOT provided" and "Missing ... API Key" are our configuration's
  fault, not the provider's: ``EngineMisconfigured``.
- Connection failures arrive as ``InternalServerError`` (500, "Connection error.");
  the chain under it names the real cause (``httpx.ConnectError``). They become a
  retryable 502, so the ledger can tell "provider unreachable" from "provider 500".
- Timeouts (``litellm.Timeout``, status 408) become a retryable 504.
- Anything that is not a LiteLLM exception at all is LiteLLM failing on its own:
  ``EngineUnavailable``.
- tollway's own outbound refusals (a redirect, a forbidden address), however
  LiteLLM wrapped them, become ``upstream_redirect`` / ``upstream_address_refused``.

Messages keep the provider's own explanation (useful for a 400 that goes back to
the client) minus LiteLLM's prefixes, tracebacks and anything key-shaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from tollway.engine.base import EngineError, EngineMisconfigured, EngineUnavailable
from tollway.engine.outbound import find_refusal, refusal_error
from tollway.engine.wire import clean_text, parse_retry_after, upstream_error

_MISCONFIGURED = (
    "llm provider not provided",
    "api_key client option must be set",
    "no key is set",
    "missing credentials",
    "invalid model name passed",
    "no healthy deployments",
)
_MISSING_KEY = re.compile(r"(?i)missing [\w .-]{0,40}api[ _-]?key")
_TRANSPORT_NAMES = frozenset(
    {"ConnectError", "ConnectTimeout", "ClientConnectorError", "ConnectionRefusedError"}
)
_CODES_BY_CLASS: Mapping[str, str] = MappingProxyType(
    {
        "ContextWindowExceededError": "context_length_exceeded",
        "ContentPolicyViolationError": "content_policy_violation",
    }
)


def clean_message(exc: BaseException, secret: str | None) -> str:
    raw = getattr(exc, "message", None)
    text = raw if isinstance(raw, str) and raw else str(exc)
    return clean_text(text or type(exc).__name__, secret)


def is_misconfiguration(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _MISCONFIGURED) or bool(_MISSING_KEY.search(message))


def map_litellm_error(exc: Exception, litellm: ModuleType, secret: str | None) -> EngineError:
    """The contract error for an exception raised by ``litellm.acompletion`` and friends."""
    errors: Any = litellm.exceptions
    message = clean_message(exc, secret)
    known = exc if isinstance(exc, EngineError) else _refusal(exc)
    if known is not None:
        return known
    if not isinstance(exc, _litellm_base_classes(errors)):
        return EngineUnavailable(f"LiteLLM failed on its own ({type(exc).__name__})")
    if is_misconfiguration(message):
        return EngineMisconfigured(message)
    if isinstance(exc, errors.Timeout):
        return upstream_error(504, message, error_type="timeout", code="timeout")
    if _caused_by_transport(exc):
        return upstream_error(502, f"provider unreachable: {message}", code="upstream_unreachable")
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or status < 400:
        # LiteLLM's catch-all (APIConnectionError without a network cause) is a
        # translation failure for this provider's answer: another deployment may work.
        status = 502
    return upstream_error(
        status,
        message,
        error_type=_text(getattr(exc, "type", None)),
        code=_CODES_BY_CLASS.get(type(exc).__name__) or _text(getattr(exc, "code", None)),
        param=_text(getattr(exc, "param", None)),
        retry_after=parse_retry_after(_retry_after_header(exc)),
    )


def _refusal(exc: BaseException) -> EngineError | None:
    refusal = find_refusal(exc)
    return refusal_error(refusal) if refusal is not None else None


def _litellm_base_classes(errors: Any) -> tuple[type[BaseException], ...]:
    # LiteLLM's classes subclass the openai SDK's; both count as "LiteLLM mapped it".
    import openai

    return (openai.OpenAIError, errors.APIError, errors.APIConnectionError)


def _caused_by_transport(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 12:
        seen.add(id(current))
        if type(current).__name__ in _TRANSPORT_NAMES or isinstance(current, ConnectionError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _retry_after_header(exc: BaseException) -> str | None:
    candidates: tuple[Any, ...] = (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    )
    for headers in candidates:
        if isinstance(headers, Mapping) or hasattr(headers, "get"):
            value = headers.get("retry-after") or headers.get("llm_provider-retry-after")
            if value:
                return str(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
