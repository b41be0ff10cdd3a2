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
the client), read from the provider's JSON error body, scrubbed of the call's key
in every form. LiteLLM's, httpx's and the openai SDK's own text never becomes a
message (it quotes URLs, raw bodies and request details): a non-JSON body, a
timeout or a connection failure is a short cause naming the status or the kind.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import httpx
import orjson

from tollway.engine.base import EngineError, EngineMisconfigured, EngineUnavailable
from tollway.engine.outbound import find_refusal, refusal_error
from tollway.engine.request_faults import REQUEST_NOT_TRANSLATABLE, chain, is_request_fault
from tollway.engine.wire import (
    CODES_BY_CLASS,
    clean_text,
    error_object,
    message_in_text,
    non_json_body,
    parse_retry_after,
    provider_message,
    scrub,
    timeout_error,
    upstream_error,
)

log = logging.getLogger(__name__)

_MISCONFIGURED = (
    "llm provider not provided",
    "api_key client option must be set",
    "no key is set",
    "missing credentials",
    "invalid model name passed",
    "no healthy deployments",
)
_MISSING_KEY = re.compile(r"(?i)missing [\w .-]{0,40}api[ _-]?key")
# What a provider's error code or param looks like; anything else is not passed on.
_NAME_LIKE = re.compile(r"[\w.\[\]-]{1,100}")
_TRANSPORT_NAMES = frozenset(
    {"ConnectError", "ConnectTimeout", "ClientConnectorError", "ConnectionRefusedError"}
)


def clean_message(exc: BaseException, secret: str | None) -> str:
    """What the provider said, from its JSON error body; else a short cause."""
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    body = _upstream_body(exc)
    if body is not None:
        message = provider_message(_json(body))
        return clean_text(message, secret) if message else non_json_body(status)
    message = provider_message(getattr(exc, "body", None))  # the openai SDK's parsed body
    if message:
        return clean_text(message, secret)
    return clean_text(message_in_text(_library_text(exc), status), secret)


def is_misconfiguration(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _MISCONFIGURED) or bool(_MISSING_KEY.search(message))


def map_litellm_error(exc: Exception, litellm: ModuleType, secret: str | None) -> EngineError:
    """The contract error for an exception raised by ``litellm.acompletion`` and friends."""
    errors: Any = litellm.exceptions
    known = exc if isinstance(exc, EngineError) else _refusal(exc)
    if known is not None:
        return known
    if not isinstance(exc, _litellm_base_classes(errors)):
        return EngineUnavailable(f"LiteLLM failed on its own ({type(exc).__name__})")
    library_text = clean_text(_library_text(exc), secret)
    log.debug("LiteLLM raised %s: %s", type(exc).__name__, library_text)
    if is_misconfiguration(library_text):
        return EngineMisconfigured(misconfiguration_message(library_text))
    if isinstance(exc, errors.Timeout):
        return timeout_error()
    if (cause := _transport_cause(exc)) is not None:
        return upstream_error(502, f"provider unreachable ({cause})", code="upstream_unreachable")
    return _status_error(exc, getattr(exc, "status_code", None), secret)


def _status_error(exc: Exception, status: Any, secret: str | None) -> EngineError:
    """An error LiteLLM gave a status to: the provider's, or LiteLLM's own about the request."""
    if is_request_fault(exc, status):
        # Built from the client's body and refused before any provider saw it: the
        # same body fails at every deployment, so it is the client's 400.
        return upstream_error(400, REQUEST_NOT_TRANSLATABLE, code="invalid_request")
    if not isinstance(status, int) or status < 400:
        # LiteLLM's catch-all (APIConnectionError without a network cause) is a
        # translation failure for this provider's answer: another deployment may work.
        status = 502
    # LiteLLM's mapped exceptions often lose the provider's code and param: the
    # provider's own error object still has them.
    sent = error_object(_json(body)) if (body := _upstream_body(exc)) is not None else None
    return upstream_error(
        status,
        clean_message(exc, secret),
        error_type=_text(getattr(exc, "type", None)),
        code=CODES_BY_CLASS.get(type(exc).__name__)
        or _text(getattr(exc, "code", None))
        or _sent_text(sent, "code", secret),
        param=_text(getattr(exc, "param", None)) or _sent_text(sent, "param", secret),
        retry_after=parse_retry_after(_retry_after_header(exc)),
    )


def misconfiguration_message(text: str) -> str:
    """Our own words for what LiteLLM found missing: its text names parameters and
    documentation links that mean nothing to an agent."""
    lowered = text.lower()
    found = next((marker for marker in _MISCONFIGURED if marker in lowered), None)
    if found is None:
        found = "missing api key"
    return f"LiteLLM cannot call this deployment: {found}"


def _library_text(exc: BaseException) -> str:
    raw = getattr(exc, "message", None)
    return raw if isinstance(raw, str) and raw else str(exc) or type(exc).__name__


def _upstream_body(exc: BaseException) -> bytes | None:
    """The provider's error body, from the first HTTP response in the exception's
    chain (LiteLLM keeps httpx's, the openai SDK its own)."""
    for link in chain(exc):
        response = getattr(link, "response", None)
        if not isinstance(response, httpx.Response) or response.status_code < 400:
            continue
        try:
            content = response.content
        except httpx.ResponseNotRead:
            continue
        if content:
            return content
    return None


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _refusal(exc: BaseException) -> EngineError | None:
    refusal = find_refusal(exc)
    return refusal_error(refusal) if refusal is not None else None


def _litellm_base_classes(errors: Any) -> tuple[type[BaseException], ...]:
    # LiteLLM's classes subclass the openai SDK's; both count as "LiteLLM mapped it".
    import openai

    return (openai.OpenAIError, errors.APIError, errors.APIConnectionError)


def _transport_cause(exc: BaseException) -> str | None:
    """The name of the network failure under ``exc``, if there is one."""
    for link in chain(exc):
        if type(link).__name__ in _TRANSPORT_NAMES or isinstance(link, ConnectionError):
            return type(link).__name__
    return None


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


def _sent_text(error: Mapping[str, Any] | None, name: str, secret: str | None) -> str | None:
    """A name-like field of the provider's error object (``context_length_exceeded``,
    ``messages[0].content``), scrubbed of the call's key; not a status number again."""
    value = _text(error.get(name)) if error is not None else None
    if value is None or value.isdigit() or not _NAME_LIKE.fullmatch(value):
        return None
    return scrub(value, secret)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
